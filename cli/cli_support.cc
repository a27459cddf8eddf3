#include "cli/cli_support.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "trace/event_format.h"
#include "trace/trace_dir.h"

extern char** environ;

namespace backstep::cli {

LaunchSpec launch_spec_from_command(const std::vector<std::string>& command) {
  LaunchSpec spec;
  spec.exe = resolve_program(command.at(0));
  spec.argv = command;
  for (char** e = environ; *e; ++e) spec.envp.emplace_back(*e);
  spec.cwd = std::filesystem::current_path().string();
  return spec;
}

trace::Trace load_trace(const std::string& arg) {
  return trace::Trace::load(trace::TraceDir::resolve(arg).path());
}

namespace {

bool dumb_terminal() {
  const char* term = std::getenv("TERM");
  return term && std::strcmp(term, "dumb") == 0;
}

}  // namespace

bool colour_for(int fd) {
  const char* no_colour = std::getenv("NO_COLOR");
  return ::isatty(fd) && !dumb_terminal() && (!no_colour || !*no_colour);
}

bool progress_on_stderr() { return ::isatty(STDERR_FILENO) && !dumb_terminal(); }

double ProgressLine::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

bool ProgressLine::due() {
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_ < std::chrono::milliseconds(200)) return false;
  last_ = now;
  return true;
}

void ProgressLine::draw(const std::string& text) {
  // Carriage return, the text, erase to the end of the line.
  fmt::print(stderr, "\rbackstep: {}\x1b[K", text);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressLine::finish() {
  if (!drawn_) return;
  fmt::print(stderr, "\r\x1b[K");
  std::fflush(stderr);
  drawn_ = false;
}

std::string describe_ending(bool exited, int code) { return trace::ending_text(exited, code); }

void print_registers(const Registers& r) {
  fmt::print("rax {:#018x}  rbx {:#018x}  rcx {:#018x}  rdx {:#018x}\n", r.rax, r.rbx, r.rcx,
             r.rdx);
  fmt::print("rsi {:#018x}  rdi {:#018x}  rbp {:#018x}  rsp {:#018x}\n", r.rsi, r.rdi, r.rbp,
             r.rsp);
  fmt::print("r8  {:#018x}  r9  {:#018x}  r10 {:#018x}  r11 {:#018x}\n", r.r8, r.r9, r.r10, r.r11);
  fmt::print("r12 {:#018x}  r13 {:#018x}  r14 {:#018x}  r15 {:#018x}\n", r.r12, r.r13, r.r14,
             r.r15);
  fmt::print("rip {:#018x}  eflags {:#x}  fs_base {:#x}\n", r.rip, r.eflags, r.fs_base);
}

}  // namespace backstep::cli
