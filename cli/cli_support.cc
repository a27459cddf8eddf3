#include "cli/cli_support.h"

#include <fmt/core.h>

#include <cstring>

#include "trace/event_format.h"
#include "trace/trace_dir.h"

namespace backstep::cli {

trace::Trace load_trace(const std::string& arg) {
  return trace::Trace::load(trace::TraceDir::resolve(arg).path());
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
