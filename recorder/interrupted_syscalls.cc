// Session, part: syscalls a signal interrupted. The kernel restarts them
// when no handler runs (or one with SA_RESTART does), through
// restart_syscall for nanosleep, clock_nanosleep, poll and timed futex
// waits, whose arguments are then not in its registers: the recorder keeps
// the interrupted call (Thread::interrupted_call) to know what the restart
// writes and how it waits.
//
// Being traced changes one thing here: the kernel discards a signal the
// program ignores (SIG_IGN, or SIG_DFL of SIGCHLD, SIGURG, SIGWINCH) as soon
// as it is sent, unless the process is traced, where it is queued so that
// the tracer can see it. Natively such a signal never interrupts anything;
// traced, it interrupts a sleep, which is then restarted. The restart is
// invisible except for nanosleep's remaining time, written at the
// interruption: those bytes are put back as they were.
#include <sys/syscall.h>
#include <time.h>

#include "ptrace/proc.h"
#include "recorder/session.h"
#include "recorder/signal_disposition.h"

namespace backstep::recorder {
namespace {

// Where nanosleep or a relative clock_nanosleep writes the time left.
uint64_t remaining_time_arg(const sys::SyscallArgs& call) {
  if (call.nr == SYS_nanosleep) return call.arg[1];
  if (call.nr == SYS_clock_nanosleep && (call.arg[1] & TIMER_ABSTIME) == 0) return call.arg[3];
  return 0;
}

uint64_t status_set(pid_t tid, std::string_view key) {
  auto field = proc_status_field(tid, key);
  return field ? std::stoull(*field, nullptr, 16) : 0;
}

}  // namespace

void Session::save_restart_writes(Thread& t) {
  t.rem_before.clear();
  uint64_t rem = remaining_time_arg(t.semantics());
  if (!rem) return;
  t.rem_before.resize(sizeof(timespec));
  if (!t.process->mem.read(rem, t.rem_before.data(), t.rem_before.size())) t.rem_before.clear();
}

// At the exit of a sleep that returned -ERESTART_RESTARTBLOCK: when none of
// the signals about to be delivered runs a handler, the kernel restarts the
// sleep and natively nothing was written.
void Session::undo_restart_writes(Thread& t) {
  if (t.rem_before.empty()) return;
  pid_t tid = t.task.tid();
  uint64_t deliverable =
      (status_set(tid, "SigPnd") | status_set(tid, "ShdPnd")) & ~status_set(tid, "SigBlk");
  SignalDispositions dispositions = SignalDispositions::read(t.process->tgid);
  for (int sig = 1; sig <= 64; ++sig) {
    if (has_signal(deliverable, sig) && dispositions.action(sig) == SignalAction::kHandler) return;
  }
  t.process->mem.write(remaining_time_arg(t.semantics()), t.rem_before.data(), t.rem_before.size());
}

}  // namespace backstep::recorder
