#include "ptrace/inferior.h"

#include <elf.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "base/errors.h"
#include "base/unique_fd.h"
#include "ptrace/stop_waiter.h"

namespace backstep {
namespace {

struct Pipe {
  UniqueFd read;
  UniqueFd write;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
    read.reset(fds[0]);
    write.reset(fds[1]);
  }
};

bool write_all(int fd, const void* data, size_t len) {
  const auto* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

bool read_all(int fd, void* data, size_t len) {
  auto* p = static_cast<char*>(data);
  while (len > 0) {
    ssize_t n = ::read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

std::vector<char*> c_strings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// /proc as the program's PID namespace sees it: without it, /proc/<getpid()>
// would be another process of the host's, /proc/self/task/<gettid()> would
// not exist and pthread_setname_np on another thread would fail. Mounted in
// the holder's mount namespace, by the program (a proc mount shows the PID
// namespace of the process that mounts it), before exec. Where that is not
// allowed the program sees the host's /proc, as it did before.
void mount_own_proc() {
  if (::getpid() == 2 && ::access("/proc/self", F_OK) == 0) {
    ::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
  }
}

// In the program's process, after fork: isolate, wait for the tracer, exec.
[[noreturn]] void become_program(const LaunchSpec& spec, int go_fd, int error_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::personality(ADDR_NO_RANDOMIZE);
  // rdtsc/rdtscp fault with SIGSEGV so the tracer can record their values.
  ::prctl(PR_SET_TSC, PR_TSC_SIGSEGV);
  if (spec.own_process_group) ::setpgid(0, 0);
  mount_own_proc();
  restore_launch_signal_mask();  // the tracer's StopWaiter blocks SIGCHLD
  int err = 0;
  if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) err = errno;
  char go = 0;
  if (!read_all(go_fd, &go, 1)) _exit(126);
  if (err == 0) {
    auto argv = c_strings(spec.argv);
    auto envp = c_strings(spec.envp);
    ::execve(spec.exe.c_str(), argv.data(), envp.data());
    err = errno;
  }
  write_all(error_fd, &err, sizeof err);
  _exit(127);
}

// The namespace holder: creates the PID namespace, forks its init (pid 1,
// which must outlive the program and reaps the program's orphans) and the
// program (pid 2: pid 1 would ignore default-action signals such as
// SIGABRT), reports the program's pid, reaps it, and stays until the tracer
// kills it: the program's other processes may outlive it, and go with the
// namespace when it does (its init dies with it).
[[noreturn]] void become_holder(const LaunchSpec& spec, int report_fd, int go_fd, int error_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  int32_t ns = ::unshare(CLONE_NEWPID) == 0 ? 1 : 0;
  // A mount namespace of its own for the program's /proc (mount_own_proc),
  // private so that nothing leaks back to the host's mounts.
  if (ns && ::unshare(CLONE_NEWNS) == 0) {
    ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
  }
  pid_t init = -1;
  if (ns) {
    init = ::fork();
    if (init == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      for (;;) {
        if (::wait(nullptr) < 0 && errno == ECHILD) ::pause();
      }
    }
  }
  pid_t program = ::fork();
  if (program == 0) become_program(spec, go_fd, error_fd);
  int32_t msg[2] = {program, ns};
  write_all(report_fd, msg, sizeof msg);
  ::close(report_fd);
  ::close(go_fd);
  ::close(error_fd);
  int status = 0;
  while (::waitpid(program, &status, 0) < 0 && errno == EINTR) {
  }
  if (init <= 0) _exit(0);
  for (;;) ::pause();
}

}  // namespace

unsigned long backstep_ptrace_options() {
  // TRACESECCOMP: the syscall buffer's filter stops traced syscalls with
  // PTRACE_EVENT_SECCOMP (src/preload).
  return PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK |
         PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT | PTRACE_O_TRACESECCOMP;
}

Inferior Inferior::launch(const LaunchSpec& spec) {
  Pipe report, go, error;
  pid_t holder = ::fork();
  if (holder < 0) throw_errno("fork");
  if (holder == 0) {
    become_holder(spec, report.write.get(), go.read.get(), error.write.get());
  }
  report.write.reset();
  error.write.reset();
  go.read.reset();
  int32_t msg[2] = {-1, 0};
  if (!read_all(report.read.get(), msg, sizeof msg) || msg[0] <= 0) {
    ::kill(holder, SIGKILL);
    ::waitpid(holder, nullptr, 0);
    throw Error("cannot start the program: the launcher failed");
  }
  Inferior inferior(holder, msg[0], msg[1] != 0);
  unsigned long options = backstep_ptrace_options();
  if (::ptrace(PTRACE_SEIZE, inferior.leader_, nullptr, options) != 0) {
    throw_errno(fmt::format("cannot trace process {} (PTRACE_SEIZE)", inferior.leader_));
  }
  char g = 1;
  write_all(go.write.get(), &g, 1);
  go.write.reset();
  for (;;) {
    auto st = wait_for(inferior.leader_);
    if (!st) throw Error("the program vanished before exec");
    if (st->ptrace_event() == PTRACE_EVENT_EXEC) break;
    if (st->exited() || st->signaled()) {
      int err = 0;
      inferior.leader_ = -1;
      if (read_all(error.read.get(), &err, sizeof err) && err != 0) {
        throw Error(fmt::format("cannot execute {}: {}", spec.exe, std::strerror(err)));
      }
      throw Error(fmt::format("cannot execute {}: it died before exec", spec.exe));
    }
    if (st->stopped()) {
      // A signal before exec (e.g. a group stop): let it through.
      int sig = st->ptrace_event() ? 0 : st->stop_signal();
      Task(inferior.leader_).resume(Resume::kContinue, sig);
    }
  }
  return inferior;
}

Inferior::Inferior(Inferior&& other) noexcept
    : holder_(std::exchange(other.holder_, -1)),
      leader_(std::exchange(other.leader_, -1)),
      in_pid_namespace_(other.in_pid_namespace_),
      owns_holder_(other.owns_holder_) {}

void Inferior::kill() {
  if (leader_ > 0) ::kill(leader_, SIGKILL);
}

void Inferior::kill_and_reap(const std::vector<pid_t>& tids) {
  if (leader_ <= 0) return;
  ::kill(leader_, SIGKILL);
  std::vector<pid_t> order = tids;
  std::stable_partition(order.begin(), order.end(), [&](pid_t t) { return t != leader_; });
  for (pid_t tid : order) {
    for (;;) {
      int status = 0;
      pid_t got = ::waitpid(tid, &status, __WALL);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0 || WIFEXITED(status) || WIFSIGNALED(status)) break;
      // A killed thread may still stop at PTRACE_EVENT_EXIT: let it go.
      if (WIFSTOPPED(status)) ::ptrace(PTRACE_CONT, tid, nullptr, nullptr);
    }
  }
  leader_ = -1;
}

std::optional<WaitStatus> Inferior::wait_for_end() {
  for (;;) {
    auto st = wait_for(-1);
    if (!st) return std::nullopt;
    if (st->tid == holder_) continue;
    if (st->exited() || st->signaled()) {
      if (st->tid == leader_) return st;
      continue;
    }
    if (st->stopped()) Task(st->tid).resume(Resume::kContinue, 0);
  }
}

Inferior::~Inferior() {
  // The holder stays until it is killed (the program's other processes may
  // outlive its first one): with it goes the namespace and all in it.
  if (holder_ > 0 && owns_holder_) ::kill(holder_, SIGKILL);
  if (leader_ > 0) {
    ::kill(leader_, SIGKILL);
    // A thread whose stop was already collected (an exit stop, when the
    // caller stopped on an error) sleeps in it until resumed: SIGKILL does
    // not wake a thread that is already exiting.
    std::error_code ec;
    for (const auto& task :
         std::filesystem::directory_iterator(fmt::format("/proc/{}/task", leader_), ec)) {
      pid_t tid = static_cast<pid_t>(std::strtol(task.path().filename().c_str(), nullptr, 10));
      if (tid > 0) ::ptrace(PTRACE_CONT, tid, nullptr, nullptr);
    }
    // Reap every thread's last report: the leader's comes only once all
    // the others have been reaped, and nothing of this process may reach
    // the waitpid of the next one. (One traced program per backstep
    // process: this collects any traced thread's report.)
    for (;;) {
      int status = 0;
      pid_t got = ::waitpid(-1, &status, __WALL);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) break;
      if (got == leader_ && (WIFEXITED(status) || WIFSIGNALED(status))) break;
      // A killed thread may still stop at PTRACE_EVENT_EXIT: let it go.
      if (WIFSTOPPED(status)) ::ptrace(PTRACE_CONT, got, nullptr, nullptr);
    }
  }
  if (holder_ > 0 && owns_holder_) {
    ::kill(holder_, SIGKILL);
    ::waitpid(holder_, nullptr, 0);
  }
}

InitialStack InitialStack::read(const AddressSpace& mem, uint64_t rsp) {
  InitialStack s;
  uint64_t p = rsp;
  auto argc = mem.read_value<uint64_t>(p);
  p += 8 * (argc + 2);                              // argc, argv[], NULL
  while (mem.read_value<uint64_t>(p) != 0) p += 8;  // envp[]
  p += 8;
  for (;;) {
    auto type = mem.read_value<uint64_t>(p);
    auto value = mem.read_value<uint64_t>(p + 8);
    s.auxv.push_back({p, type, value});
    if (type == AT_RANDOM) s.random_addr = value;
    if (type == AT_NULL) break;
    p += 16;
  }
  return s;
}

void InitialStack::hide_vdso(const AddressSpace& mem) {
  for (auto& e : auxv) {
    if (e.type == AT_SYSINFO_EHDR) {
      e.type = AT_IGNORE;
      mem.write_value<uint64_t>(e.addr, AT_IGNORE);
    }
  }
}

std::vector<std::byte> InitialStack::auxv_bytes() const {
  std::vector<std::byte> out(auxv.size() * 16);
  for (size_t i = 0; i < auxv.size(); ++i) {
    std::memcpy(out.data() + i * 16, &auxv[i].type, 8);
    std::memcpy(out.data() + i * 16 + 8, &auxv[i].value, 8);
  }
  return out;
}

std::string resolve_program(const std::string& name) {
  if (name.empty()) throw Error("no program given");
  auto check = [](const std::string& path) -> bool {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  };
  std::string found;
  if (name.find('/') != std::string::npos) {
    if (!check(name)) throw Error(fmt::format("{}: no such program", name));
    found = name;
  } else {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    size_t start = 0;
    while (start <= dirs.size()) {
      size_t end = dirs.find(':', start);
      if (end == std::string::npos) end = dirs.size();
      std::string dir = dirs.substr(start, end - start);
      std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
      if (check(candidate) && ::access(candidate.c_str(), X_OK) == 0) {
        found = candidate;
        break;
      }
      start = end + 1;
    }
    if (found.empty()) throw Error(fmt::format("{}: command not found", name));
  }
  if (::access(found.c_str(), X_OK) != 0) {
    throw Error(fmt::format("{}: not executable", found));
  }
  char* real = ::realpath(found.c_str(), nullptr);
  if (!real) throw_errno(fmt::format("cannot resolve {}", found));
  std::string out(real);
  ::free(real);
  return out;
}

}  // namespace backstep
