#include "recorder/signal_disposition.h"

#include <csignal>
#include <string>

#include "ptrace/proc.h"

namespace backstep::recorder {
namespace {

uint64_t signal_set(pid_t pid, std::string_view key) {
  auto field = proc_status_field(pid, key);
  return field ? std::stoull(*field, nullptr, 16) : 0;
}

}  // namespace

SignalAction default_action(int sig) {
  switch (sig) {
    case SIGCHLD:
    case SIGURG:
    case SIGWINCH:
      return SignalAction::kIgnore;
    case SIGCONT:
      return SignalAction::kContinue;
    case SIGSTOP:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
      return SignalAction::kStop;
    default:
      return SignalAction::kTerminate;  // real-time signals included
  }
}

SignalDispositions SignalDispositions::read(pid_t pid) {
  return SignalDispositions{signal_set(pid, "SigIgn"), signal_set(pid, "SigCgt")};
}

SignalAction SignalDispositions::action(int sig) const {
  if (sig == SIGKILL || sig == SIGSTOP) return default_action(sig);
  if (has_signal(caught, sig)) return SignalAction::kHandler;
  if (has_signal(ignored, sig)) return SignalAction::kIgnore;
  return default_action(sig);
}

const char* signal_action_name(SignalAction a) {
  switch (a) {
    case SignalAction::kHandler:
      return "handler";
    case SignalAction::kIgnore:
      return "ignore";
    case SignalAction::kTerminate:
      return "terminate";
    case SignalAction::kStop:
      return "stop";
    case SignalAction::kContinue:
      return "continue";
  }
  return "?";
}

}  // namespace backstep::recorder
