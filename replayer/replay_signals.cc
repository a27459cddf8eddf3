// ReplayEngine, part: signals the program takes without a handler.
// sigwaitinfo, sigtimedwait and reads of a signalfd dequeue a pending signal
// and return it. Replay emulates them (the recorded result and siginfo are
// applied), but a signal the program sent itself (kill, tgkill, sigqueue,
// made again in replay) is pending here for real, and left there it would
// be delivered later where the recording had nothing, or keep checkpoints
// from being taken. So it is taken out of the kernel's queue as the
// recorded call took it: by an rt_sigtimedwait with a zero timeout,
// injected at the emulated call's exit.
#include <sys/signalfd.h>
#include <sys/syscall.h>

#include <cstring>

#include "ptrace/proc.h"
#include "ptrace/syscall_injection.h"
#include "replayer/replay_engine.h"

namespace backstep::replayer {
namespace {

uint64_t status_set(pid_t tid, std::string_view key) {
  auto field = proc_status_field(tid, key);
  return field ? std::stoull(*field, nullptr, 16) : 0;
}

}  // namespace

void ReplayEngine::take_consumed_signals(Thread& t, const trace::Stop& exit) {
  std::vector<int> taken;
  if (t.nr == SYS_rt_sigtimedwait && exit.result > 0 && exit.result <= 64) {
    taken.push_back(static_cast<int>(exit.result));
  } else if ((t.nr == SYS_signalfd || t.nr == SYS_signalfd4) && exit.result >= 0 &&
             static_cast<int>(t.args[0]) == -1) {
    t.process->signal_fds.insert(static_cast<int>(exit.result));
  } else if (t.nr == SYS_close && exit.result == 0) {
    t.process->signal_fds.erase(static_cast<int>(t.args[0]));
  } else if (t.nr == SYS_read && exit.result > 0 &&
             t.process->signal_fds.count(static_cast<int>(t.args[0]))) {
    // The recorded signalfd_siginfo records, applied to the buffer already.
    for (int64_t at = 0; at + static_cast<int64_t>(sizeof(signalfd_siginfo)) <= exit.result;
         at += sizeof(signalfd_siginfo)) {
      uint32_t signo = 0;
      if (t.process->mem.read(
              t.args[1] + static_cast<uint64_t>(at) + offsetof(signalfd_siginfo, ssi_signo), &signo,
              sizeof signo)) {
        taken.push_back(static_cast<int>(signo));
      }
    }
  }
  for (int sig : taken) take_pending_signal(t, sig);
}

// Dequeues one instance of `sig` if it is pending for `t` (its own queue or
// the process's), with the thread at the exit stop of an emulated call.
void ReplayEngine::take_pending_signal(Thread& t, int sig) {
  if (sig < 1 || sig > 64 || !signal_pending_for(t, sig)) return;
  pid_t tid = t.task.tid();
  uint64_t deliverable =
      (status_set(tid, "SigPnd") | status_set(tid, "ShdPnd")) & ~status_set(tid, "SigBlk");
  // The injected call runs user code's way out of the kernel first, where a
  // deliverable signal would be delivered: it stays pending then.
  if (deliverable) return;
  Registers regs = t.task.regs();
  // Below the stack's red zone: a sigset and a zero timeout.
  uint64_t scratch = (regs.rsp - 128 - 64) & ~uint64_t{15};
  uint8_t saved[32];
  if (!t.process->mem.read(scratch, saved, sizeof saved)) return;
  uint8_t args[32] = {};
  uint64_t set = uint64_t{1} << (sig - 1);
  std::memcpy(args, &set, sizeof set);  // the timespec at +16 stays zero
  t.process->mem.write_or_throw(scratch, args, sizeof args);
  inject_syscall(t.task, t.process->mem, HeldAt::kUserCode, SYS_rt_sigtimedwait,
                 {scratch, 0, scratch + 16, sizeof set, 0, 0});
  t.process->mem.write_or_throw(scratch, saved, sizeof saved);
}

}  // namespace backstep::replayer
