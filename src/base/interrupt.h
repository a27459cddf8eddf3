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
