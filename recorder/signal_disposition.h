// What the kernel does with a signal when it is delivered: run the
// program's handler, ignore it, end the process, stop or continue it. The
// recorder must know this at the moment it lets a signal through, because
// it decides whether the program goes on (and must go on being recorded) or
// is about to die.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace backstep::recorder {

enum class SignalAction {
  kHandler,    // the program's handler runs (SigCgt)
  kIgnore,     // SIG_IGN (SigIgn), or SIG_DFL whose default is to ignore
  kTerminate,  // SIG_DFL: the process ends (with or without a core dump)
  kStop,       // SIG_DFL of SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU: a group stop
  kContinue,   // SIG_DFL of SIGCONT
};

// The action of signal `sig` with the default disposition.
SignalAction default_action(int sig);

// Signal sets as /proc shows them: bit sig - 1 for signal sig.
inline bool has_signal(uint64_t set, int sig) {
  return sig >= 1 && sig <= 64 && (set >> (sig - 1)) & 1;
}

// The dispositions of one process, read from /proc/PID/status at one
// moment. They are process-wide, and while one thread is stopped at a
// signal stop and the others are stopped or asleep, nothing can change them.
struct SignalDispositions {
  uint64_t ignored = 0;  // SigIgn
  uint64_t caught = 0;   // SigCgt
  static SignalDispositions read(pid_t pid);
  SignalAction action(int sig) const;
};

const char* signal_action_name(SignalAction a);

}  // namespace backstep::recorder
