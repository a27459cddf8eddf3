// Session, part: signals. An asynchronous signal (a timer, another
// process, another thread's kill) arrives at a moment of the wall clock;
// it is held and delivered at a scheduling point replay finds again (a
// runtime trap, a syscall exit). Faults and signals a thread sends itself
// are synchronous and recorded where they happen. The runtime's traps and
// the rdtsc instructions the tracer patched come in as signals too.
#include <fmt/core.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <optional>

#include "ptrace/proc.h"
#include "ptrace/runtime_link.h"
#include "recorder/session.h"
#include "recorder/signal_disposition.h"

namespace backstep::recorder {
namespace {

using trace::StopKind;
using trace::SwitchReason;

// Signals the kernel raises because of the instruction just executed.
bool is_fault_signal(int sig) {
  return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGTRAP;
}

// A signal the program sent itself with kill, tkill, tgkill, sigqueue
// (rt_sigqueueinfo) or pthread_sigqueue (rt_tgsigqueueinfo): replay makes
// those calls again, so the kernel raises it there too.
bool sent_by_program(const siginfo_t& si, pid_t own_pid) {
  return (si.si_code == SI_USER || si.si_code == SI_TKILL || si.si_code == SI_QUEUE) &&
         si.si_pid == own_pid;
}

// SIGPIPE and SIGXFSZ look sent by the program (SI_USER, its own pid) but
// the kernel raises them for the syscall that just failed (a write to a
// pipe nobody reads, past the file size limit), which replay does not run.
bool raised_by_failed_syscall(int sig, int64_t result) {
  if (sig == SIGPIPE) return result == -EPIPE;
  if (sig == SIGXFSZ) return result == -EFBIG;
  return false;
}

// The temporary mask a wait installs while it sleeps (sigsuspend, ppoll,
// pselect6, epoll_pwait), read from the program's memory at its entry.
std::optional<uint64_t> temporary_mask(const AddressSpace& mem, const sys::SyscallArgs& call) {
  uint64_t ptr = 0;
  uint64_t size = 0;
  switch (call.nr) {
    case SYS_rt_sigsuspend:
      ptr = call.arg[0];
      size = call.arg[1];
      break;
    case SYS_ppoll:
      ptr = call.arg[3];
      size = call.arg[4];
      break;
    case SYS_epoll_pwait:
    case SYS_epoll_pwait2:
      ptr = call.arg[4];
      size = call.arg[5];
      break;
    case SYS_pselect6: {
      uint64_t data[2] = {};  // struct { const sigset_t* ss; size_t ss_len; }
      if (!call.arg[5] || !mem.read(call.arg[5], data, sizeof data)) return std::nullopt;
      ptr = data[0];
      size = data[1];
      break;
    }
    default:
      return std::nullopt;
  }
  uint64_t mask = 0;
  if (!ptr || size != sizeof mask || !mem.read(ptr, &mask, sizeof mask)) return std::nullopt;
  return mask;
}

bool same_regs(const Registers& a, const Registers& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

}  // namespace

bool Session::hold_async_signal(Thread& t, const WaitStatus& st) {
  if (!st.stopped() || st.syscall_stop() || st.ptrace_event() || t.process->dying) return false;
  pid_t tid = t.task.tid();
  int sig = st.stop_signal();
  siginfo_t si = t.task.siginfo();
  // si_pid is the sender's pid as the receiver sees it (its process's own
  // pid for a signal it sent itself); another process of the program is
  // outside as much as any other.
  pid_t own_pid = t.process->vpid;
  bool after_exit = t.exit_regs && same_regs(*t.exit_regs, t.task.regs());
  bool self_sent =
      sent_by_program(si, own_pid) && !(after_exit && raised_by_failed_syscall(sig, t.last_result));
  bool fault = is_fault_signal(sig) && si.si_code > 0;
  bool rdtsc_fault = sig == SIGSEGV && si.si_code == SI_KERNEL;
  bool injected = sig == t.injected_signal;
  t.injected_signal = 0;
  if (std::optional<siginfo_t> info = std::exchange(t.injected_info, std::nullopt);
      injected && info) {
    // The handler gets what the kernel queued, not the recorder's copy.
    t.task.set_siginfo(*info);
    t.from_outside = true;
  }
  // A SIGSTOP the kernel made (a new task's first stop) is not a signal of
  // the program's; one sent from outside is held and delivered like others.
  bool kernel_stop = sig == SIGSTOP && si.si_code == SI_KERNEL;
  if (fault || self_sent || rdtsc_fault || injected || kernel_stop) return false;
  trace::Resumption& resumed = resumptions_[tid];
  if (resumed.signal == 0 && after_exit) {
    // Dequeued on the way out of a syscall, before any user code ran:
    // typically the signal that interrupted it (pause, sigsuspend, a
    // wait returning -ERESTART*). That point is a syscall exit, which
    // replay finds again, so it is recorded as if the recorder had
    // sent the signal with this resumption (as held signals are).
    // Holding it instead would let the kernel restart the syscall and
    // sleep again for good, with the signal never delivered.
    resumed.signal = sig;
    t.from_outside = true;
    return false;
  }
  t.held_signals.push_back(si);
  t.task.resume(static_cast<Resume>(resumed.how), 0);  // on as this run was resumed
  return true;
}

std::optional<siginfo_t> Session::take_held_signal(Thread& t, uint64_t blocked) {
  for (auto it = t.held_signals.begin(); it != t.held_signals.end(); ++it) {
    if (has_signal(blocked, it->si_signo)) continue;
    siginfo_t si = *it;
    t.held_signals.erase(it);
    return si;
  }
  return std::nullopt;
}

// A syscall stop is a point replay finds again: resuming from it with a
// signal queues the signal, which then stops the thread once more
// (recorded as its delivery) before any user code runs. Only a signal the
// thread does not block goes: a blocked one would stay pending in the
// kernel, where a sigwaitinfo or signalfd could take it, which replay,
// emulating those, would not. It stays held until the thread unblocks it.
void Session::deliver_held_signal(Thread& t, uint64_t blocked) {
  std::optional<siginfo_t> si = take_held_signal(t, blocked);
  if (!si) return;
  t.deliver_signal = t.injected_signal = si->si_signo;
  t.injected_info = *si;
}

// At a stop in user code that replay finds again (a tick trap, an
// interrupt), stopped by a SIGTRAP: one held signal the thread does not
// block is delivered in place of that SIGTRAP on the next resumption, with
// the siginfo the kernel had queued for it. Returns that siginfo's bytes,
// which go with the stop's record (replay gives the handler the same), or
// nothing.
std::vector<std::byte> Session::deliver_held_signal_in_place(Thread& t) {
  std::vector<std::byte> info;
  if (t.held_signals.empty()) return info;
  std::optional<siginfo_t> held = take_held_signal(t, t.task.blocked_signals());
  if (!held) return info;
  t.task.set_siginfo(*held);
  auto* bytes = reinterpret_cast<const std::byte*>(&*held);
  info.assign(bytes, bytes + sizeof *held);
  t.deliver_signal = held->si_signo;
  return info;
}

// Whether the signal the thread is about to get ends its process: then it
// is marked as ending, and it must run next, before any other thread.
bool Session::delivery_ends_process(Thread& t) {
  if (t.deliver_signal == 0 || SignalDispositions::read(t.process->tgid).action(t.deliver_signal) !=
                                   SignalAction::kTerminate) {
    return false;
  }
  t.process->dying = true;
  t.process->ender = t.task.tid();
  return true;
}

// Whether a held signal waits that the thread does not block: it needs a
// point replay finds again, so a thread running user code without stops
// is interrupted for it (preemption.cc).
bool Session::held_signal_waiting(Thread& t) {
  if (t.held_signals.empty()) return false;
  // The thread runs: its mask from /proc (ptrace reads it only when stopped).
  std::optional<std::string> mask = proc_status_field(t.task.tid(), "SigBlk");
  if (!mask) return false;
  uint64_t blocked = std::stoull(*mask, nullptr, 16);
  return std::any_of(t.held_signals.begin(), t.held_signals.end(),
                     [&](const siginfo_t& si) { return !has_signal(blocked, si.si_signo); });
}

void Session::deliver_held_signal_at_exit(Thread& t) {
  if (t.held_signals.empty()) return;
  deliver_held_signal(t, t.task.blocked_signals());
}

// Before the thread sleeps in a blocking syscall: a held signal would
// otherwise wait for its exit, which may be far away (a long sleep) or
// never come (a wait for that very signal). Sent with the resumption from
// the entry, it interrupts the wait as it would have had it come a moment
// later. A wait with a temporary mask (sigsuspend, ppoll, ...) is judged by
// that mask, under which the kernel will deliver it.
void Session::deliver_held_signal_at_entry(Thread& t) {
  if (t.held_signals.empty()) return;
  std::optional<uint64_t> mask = temporary_mask(t.process->mem, t.call);
  deliver_held_signal(t, mask ? *mask : t.task.blocked_signals());
}

void Session::on_signal_stop(Thread& t, const WaitStatus& st, Registers& regs) {
  int sig = st.stop_signal();
  if (emulate_rdtsc(t, sig, regs)) return;
  if (sig == SIGTRAP && on_runtime_trap(t, regs)) return;
  siginfo_t si = t.task.siginfo();
  std::vector<std::byte> info;
  if (std::exchange(t.from_outside, false)) {
    auto* bytes = reinterpret_cast<const std::byte*>(&si);
    info.assign(bytes, bytes + sizeof si);
  }
  record_stop(t, StopKind::kSignal, regs, sig, si.si_code, {}, std::move(info));
  t.deliver_signal = sig;
  note_handler_entry(t, sig);
  // Only a signal that ends the process ends the recording: one the program
  // ignores (SIG_IGN, or a default of ignoring) or stops at is let through
  // and the thread goes on being recorded.
  if (SignalDispositions::read(t.process->tgid).action(sig) == SignalAction::kTerminate) {
    t.process->dying = true;
    t.process->ender = t.task.tid();
  }
}

// An rdtsc/rdtscp trapped: at a patched site (int3, SIGTRAP), or faulting
// (SIGSEGV, where PR_SET_TSC works). Answered and recorded.
bool Session::emulate_rdtsc(Thread& t, int sig, Registers& regs) {
  uint64_t at = 0;
  bool rdtscp = false;
  if (sig == SIGTRAP) {
    const PatchSite* site = t.process->patcher.site_at(regs.rip - 1);
    if (!site) return false;
    at = site->addr;
    rdtscp = site->length == 3;
  } else if (sig == SIGSEGV) {
    uint8_t insn[3] = {};
    t.process->mem.read(regs.rip, insn, 3);
    bool rdtsc = insn[0] == 0x0f && insn[1] == 0x31;
    rdtscp = insn[0] == 0x0f && insn[1] == 0x01 && insn[2] == 0xf9;
    if (!rdtsc && !rdtscp) return false;
    at = regs.rip;
  } else {
    return false;
  }
  uint64_t tsc = read_tsc();
  regs.rip = at;
  record_stop(t, StopKind::kRdtsc, regs, static_cast<int64_t>(tsc));
  regs.rax = tsc & 0xffffffffu;
  regs.rdx = tsc >> 32;
  if (rdtscp) regs.rcx = 0;
  regs.rip = at + (rdtscp ? 3 : 2);
  t.task.set_regs(regs);
  return true;
}

// The runtime's int3 (a tick or event limit): a scheduling point.
bool Session::on_runtime_trap(Thread& t, Registers& regs) {
  if (!t.block) return false;
  ThreadBlockView view(t.process->mem, *t.block);
  abi::TrapReason reason = view.trap_reason();
  if (reason == abi::TrapReason::kNone) return false;
  view.clear_trap_reason();
  // A scheduling point replay finds again: a held signal goes here.
  std::vector<std::byte> info = deliver_held_signal_in_place(t);
  record_stop(t, StopKind::kTrap, regs, static_cast<int64_t>(reason), 0, {}, std::move(info));
  if (delivery_ends_process(t)) return true;  // no switch: it goes next
  if (reason == abi::TrapReason::kTickLimit) {
    switch_from(t, SwitchReason::kTimeslice);
  } else if (reason == abi::TrapReason::kMapEvent &&
             (scheduler_.forced() || scheduler_.should_switch(SwitchReason::kMapEvent))) {
    switch_from(t, SwitchReason::kMapEvent);
  }
  return true;
}

}  // namespace backstep::recorder
