#include "base/interrupt.h"

#include <csignal>

namespace backstep {
namespace {

volatile sig_atomic_t g_interrupted = 0;
int g_deferrals = 0;

extern "C" void on_interrupt(int) { g_interrupted = 1; }

}  // namespace

void install_interrupt_handler(int signal) {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: waitpid must return
  ::sigaction(signal, &sa, nullptr);
}

void install_interrupt_handlers() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) install_interrupt_handler(sig);
}

bool interrupt_requested() { return g_interrupted != 0; }

void check_interrupt() {
  if (g_interrupted && g_deferrals == 0) throw Interrupted();
}

void clear_interrupt() { g_interrupted = 0; }

InterruptDeferral::InterruptDeferral() { ++g_deferrals; }
InterruptDeferral::~InterruptDeferral() { --g_deferrals; }

}  // namespace backstep
