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
// Throws Interrupted if a handler fired.
void check_interrupt();

}  // namespace backstep
