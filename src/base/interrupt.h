// Ctrl-C and friends. The CLI installs handlers that only set a flag (no
// SA_RESTART, so a blocking waitpid returns EINTR); long loops poll it and
// end cleanly: the tracee is killed, the trace is closed and stays readable.
#pragma once

#include "base/errors.h"

namespace backstep {

class Interrupted : public Error {
 public:
  Interrupted() : Error("interrupted") {}
};

// Installs the handlers for SIGINT, SIGTERM and SIGHUP.
void install_interrupt_handlers();
// Makes `signal` request an interrupt too. For a thread that watches for a
// request of another kind (gdb's ^C on the protocol stream) and sends this
// signal to the thread doing the work: like Ctrl-C, it also ends a blocking
// wait there.
void install_interrupt_handler(int signal);
bool interrupt_requested();
// Throws Interrupted if a handler fired (unless deferred).
void check_interrupt();
// Forgets a Ctrl-C once it has been dealt with (an interactive session goes on).
void clear_interrupt();

// While one lives, check_interrupt() does not throw: for work that must not
// be left half done (a checkpoint being copied), the request waits for the
// next check after it.
class InterruptDeferral {
 public:
  InterruptDeferral();
  ~InterruptDeferral();
  InterruptDeferral(const InterruptDeferral&) = delete;
  InterruptDeferral& operator=(const InterruptDeferral&) = delete;
};

}  // namespace backstep
