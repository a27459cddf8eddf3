#include "ptrace/task.h"

#include <elf.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "base/errors.h"
#include "base/interrupt.h"
#include "ptrace/proc.h"

namespace backstep {

AddressSpace::AddressSpace(pid_t pid) : pid_(pid) {
  mem_.reset(::open(fmt::format("/proc/{}/mem", pid).c_str(), O_RDWR | O_CLOEXEC));
  if (!mem_) throw_errno(fmt::format("cannot open the memory of process {}", pid));
}

void AddressSpace::reopen() { *this = AddressSpace(pid_); }

bool AddressSpace::read(uint64_t addr, void* out, size_t len) const {
  auto* p = static_cast<char*>(out);
  while (len > 0) {
    ssize_t n = ::pread64(mem_.get(), p, len, static_cast<off64_t>(addr));
    if (n <= 0) return false;
    p += n;
    addr += static_cast<uint64_t>(n);
    len -= static_cast<size_t>(n);
  }
  return true;
}

bool AddressSpace::read_bulk(uint64_t addr, void* out, size_t len) const {
  iovec local{out, len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  ssize_t n = ::process_vm_readv(pid_, &local, 1, &remote, 1, 0);
  size_t got = n > 0 ? static_cast<size_t>(n) : 0;
  if (got == len) return true;
  return read(addr + got, static_cast<char*>(out) + got, len - got);
}

void AddressSpace::read_or_throw(uint64_t addr, void* out, size_t len) const {
  if (!read(addr, out, len)) {
    throw Error(fmt::format("cannot read {} bytes at {:#x} in process {}", len, addr, pid_));
  }
}

std::vector<std::byte> AddressSpace::read_bytes(uint64_t addr, size_t len) const {
  std::vector<std::byte> out(len);
  read_or_throw(addr, out.data(), len);
  return out;
}

std::string AddressSpace::read_string(uint64_t addr, size_t max) const {
  std::string s;
  char buf[256];
  while (s.size() < max) {
    size_t want = std::min(sizeof buf, max - s.size());
    // Stop at a page end so a string ending just before unmapped memory reads.
    size_t to_page = 4096 - (addr & 4095);
    want = std::min(want, to_page);
    if (!read(addr, buf, want)) break;
    for (size_t i = 0; i < want; ++i) {
      if (buf[i] == '\0') return s;
      s.push_back(buf[i]);
    }
    addr += want;
  }
  return s;
}

bool AddressSpace::write(uint64_t addr, const void* data, size_t len) const {
  const auto* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = ::pwrite64(mem_.get(), p, len, static_cast<off64_t>(addr));
    if (n <= 0) return false;
    p += n;
    addr += static_cast<uint64_t>(n);
    len -= static_cast<size_t>(n);
  }
  return true;
}

void AddressSpace::write_or_throw(uint64_t addr, const void* data, size_t len) const {
  if (!write(addr, data, len)) {
    throw Error(fmt::format("cannot write {} bytes at {:#x} in process {}", len, addr, pid_));
  }
}

Registers Task::regs() const {
  Registers r{};
  if (::ptrace(PTRACE_GETREGS, tid_, nullptr, &r) != 0) {
    throw_errno(fmt::format("PTRACE_GETREGS of thread {}", tid_));
  }
  return r;
}

void Task::set_regs(const Registers& r) const {
  if (::ptrace(PTRACE_SETREGS, tid_, nullptr, &r) != 0) {
    throw_errno(fmt::format("PTRACE_SETREGS of thread {}", tid_));
  }
}

siginfo_t Task::siginfo() const {
  siginfo_t si{};
  if (::ptrace(PTRACE_GETSIGINFO, tid_, nullptr, &si) != 0) {
    throw_errno(fmt::format("PTRACE_GETSIGINFO of thread {}", tid_));
  }
  return si;
}

void Task::set_siginfo(const siginfo_t& si) const {
  if (::ptrace(PTRACE_SETSIGINFO, tid_, nullptr, &si) != 0) {
    throw_errno(fmt::format("PTRACE_SETSIGINFO of thread {}", tid_));
  }
}

unsigned long Task::event_message() const {
  unsigned long msg = 0;
  if (::ptrace(PTRACE_GETEVENTMSG, tid_, nullptr, &msg) != 0) {
    throw_errno(fmt::format("PTRACE_GETEVENTMSG of thread {}", tid_));
  }
  return msg;
}

std::vector<std::byte> Task::xstate() const {
  std::vector<std::byte> buf(16384);  // larger than any XSAVE area
  iovec iov{buf.data(), buf.size()};
  if (::ptrace(PTRACE_GETREGSET, tid_, reinterpret_cast<void*>(NT_X86_XSTATE), &iov) != 0) {
    throw_errno(fmt::format("PTRACE_GETREGSET (xstate) of thread {}", tid_));
  }
  buf.resize(iov.iov_len);
  return buf;
}

void Task::set_xstate(const std::vector<std::byte>& state) const {
  std::vector<std::byte> copy = state;
  iovec iov{copy.data(), copy.size()};
  if (::ptrace(PTRACE_SETREGSET, tid_, reinterpret_cast<void*>(NT_X86_XSTATE), &iov) != 0) {
    throw_errno(fmt::format("PTRACE_SETREGSET (xstate) of thread {}", tid_));
  }
}

uint64_t Task::blocked_signals() const {
  uint64_t mask = 0;
  if (::ptrace(PTRACE_GETSIGMASK, tid_, reinterpret_cast<void*>(sizeof mask), &mask) != 0) {
    throw_errno(fmt::format("PTRACE_GETSIGMASK of thread {}", tid_));
  }
  return mask;
}

void Task::set_blocked_signals(uint64_t mask) const {
  if (::ptrace(PTRACE_SETSIGMASK, tid_, reinterpret_cast<void*>(sizeof mask), &mask) != 0) {
    throw_errno(fmt::format("PTRACE_SETSIGMASK of thread {}", tid_));
  }
}

bool Task::resume(Resume how, int signal) const {
  __ptrace_request req = how == Resume::kSyscall      ? PTRACE_SYSCALL
                         : how == Resume::kSingleStep ? PTRACE_SINGLESTEP
                                                      : PTRACE_CONT;
  if (::ptrace(req, tid_, nullptr, reinterpret_cast<void*>(static_cast<intptr_t>(signal))) != 0) {
    if (errno == ESRCH) return false;
    throw_errno(fmt::format("resuming thread {}", tid_));
  }
  return true;
}

std::string WaitStatus::describe() const {
  if (exited()) return fmt::format("thread {} exited with status {}", tid, exit_code());
  if (signaled()) return fmt::format("thread {} killed by signal {}", tid, term_signal());
  if (syscall_stop()) return fmt::format("thread {} at a syscall stop", tid);
  if (ptrace_event()) return fmt::format("thread {} at ptrace event {}", tid, ptrace_event());
  if (stopped()) return fmt::format("thread {} stopped by signal {}", tid, stop_signal());
  return fmt::format("thread {}: wait status {:#x}", tid, status);
}

pid_t namespace_tid(pid_t tid) {
  // "NSpid: <outer> ... <innermost>": the last is the program's own view.
  auto ids = proc_status_field(tid, "NSpid");
  if (!ids || ids->empty()) return tid;
  return static_cast<pid_t>(std::stol(ids->substr(ids->find_last_of(" \t") + 1)));
}

bool thread_of_process(pid_t tid, pid_t tgid) {
  auto v = proc_status_field(tid, "Tgid");
  return v && std::stol(*v) == tgid;
}

std::optional<WaitStatus> wait_for(pid_t tid, bool nohang) {
  for (;;) {
    int status = 0;
    pid_t got = ::waitpid(tid, &status, __WALL | (nohang ? WNOHANG : 0));
    if (got > 0) return WaitStatus{got, status};
    if (got == 0) return std::nullopt;
    if (errno == EINTR) {
      check_interrupt();
      continue;
    }
    if (errno == ECHILD) return std::nullopt;
    throw_errno("waitpid");
  }
}

}  // namespace backstep
