// Session, part: signals. An asynchronous signal (a timer, another
// process, another thread's kill) arrives at a moment of the wall clock;
// it is held and delivered at a scheduling point replay finds again (a
// runtime trap, a syscall exit). Faults and signals a thread sends itself
// are synchronous and recorded where they happen. The runtime's traps and
// the rdtsc instructions the tracer patched come in as signals too.
#include <fmt/core.h>
#include <sys/ptrace.h>
#include <unistd.h>
#include <x86intrin.h>

#include <csignal>
#include <cstring>

#include "ptrace/proc.h"
#include "ptrace/runtime_link.h"
#include "recorder/session.h"

namespace backstep::recorder {
namespace {

using trace::StopKind;
using trace::SwitchReason;

// Signals the kernel raises because of the instruction just executed.
bool is_fault_signal(int sig) {
  return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGTRAP;
}

// Whether the process catches `sig` (from /proc/PID/status SigCgt).
bool catches_signal(pid_t pid, int sig) {
  auto mask = proc_status_field(pid, "SigCgt");
  return mask && (std::stoull(*mask, nullptr, 16) >> (sig - 1)) & 1;
}

bool default_action_kills(int sig) {
  switch (sig) {
    case SIGCHLD:
    case SIGCONT:
    case SIGURG:
    case SIGWINCH:
    case SIGSTOP:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
      return false;
    default:
      return true;
  }
}

bool same_regs(const Registers& a, const Registers& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

}  // namespace

bool Session::hold_async_signal(Thread& t, const WaitStatus& st) {
  if (!st.stopped() || st.syscall_stop() || st.ptrace_event() || dying_) return false;
  pid_t tid = t.task.tid();
  int sig = st.stop_signal();
  siginfo_t si = t.task.siginfo();
  // si_pid is the sender's pid as the program sees it: 2 inside our
  // PID namespace, the real pid outside one.
  pid_t own_pid = inferior_.in_pid_namespace() ? 2 : inferior_.leader();
  bool self_sent = (si.si_code == SI_TKILL || si.si_code == SI_USER) && si.si_pid == own_pid;
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
  if (fault || self_sent || rdtsc_fault || injected || sig == SIGSTOP) return false;
  trace::Resumption& resumed = resumptions_[tid];
  if (resumed.signal == 0 && t.exit_regs && same_regs(*t.exit_regs, t.task.regs())) {
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

void Session::deliver_held_signal_at_exit(Thread& t) {
  if (t.held_signals.empty()) return;
  // A syscall exit is a point replay finds again: resuming from it with
  // a signal queues the signal, which then stops the thread once more
  // (recorded as its delivery) before any user code runs.
  t.deliver_signal = t.injected_signal = t.held_signals.front().si_signo;
  t.injected_info = t.held_signals.front();
  t.held_signals.erase(t.held_signals.begin());
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
  if (default_action_kills(sig) && !catches_signal(t.task.tid(), sig)) dying_ = true;
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
  record_stop(t, StopKind::kTrap, regs, static_cast<int64_t>(reason));
  if (!t.held_signals.empty()) {
    // A scheduling point replay finds again: deliver one held signal.
    t.deliver_signal = t.held_signals.front().si_signo;
    t.held_signals.erase(t.held_signals.begin());
  }
  if (reason == abi::TrapReason::kTickLimit) {
    switch_from(t, SwitchReason::kTimeslice);
  } else if (reason == abi::TrapReason::kMapEvent &&
             (scheduler_.forced() || scheduler_.should_switch(SwitchReason::kMapEvent))) {
    switch_from(t, SwitchReason::kMapEvent);
  }
  return true;
}

}  // namespace backstep::recorder
