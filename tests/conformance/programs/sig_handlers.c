/* conformance-class: 1
 * Handlers installed with sigaction: SA_SIGINFO's si_code and si_pid for
 * kill() and raise(), sa_mask blocking during the handler, SA_NODEFER
 * (re-entry) and SA_RESETHAND (the second SIGURG takes the default action,
 * which for SIGURG is to ignore it). */
#define _GNU_SOURCE /* before any system header */
#include <signal.h>

#include "conf.h"

static volatile sig_atomic_t usr1_count, usr1_code, usr1_pid_ok, usr2_depth, usr2_max_depth,
    urg_count, mask_had_usr2;

static void on_usr1(int sig, siginfo_t* si, void* uc) {
  (void)sig;
  (void)uc;
  usr1_count++;
  usr1_code = si->si_code;
  usr1_pid_ok = si->si_pid == getpid();
  sigset_t cur;
  sigprocmask(SIG_BLOCK, NULL, &cur);
  mask_had_usr2 = sigismember(&cur, SIGUSR2);
}

static void on_usr2(int sig) {
  usr2_depth++;
  if (usr2_depth > usr2_max_depth) usr2_max_depth = usr2_depth;
  if (usr2_depth < 3) raise(sig); /* SA_NODEFER: delivered again right here */
  usr2_depth--;
}

static void on_urg(int sig) {
  (void)sig;
  urg_count++;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_usr1;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGUSR2);
  sigaction(SIGUSR1, &sa, NULL);

  kill(getpid(), SIGUSR1);
  CHECK(usr1_count == 1, "kill: handler ran once");
  CHECK(usr1_code == SI_USER, "kill: si_code SI_USER (%d)", (int)usr1_code);
  CHECK(usr1_pid_ok, "kill: si_pid is our pid");
  CHECK(mask_had_usr2, "sa_mask: SIGUSR2 blocked inside the handler");
  raise(SIGUSR1);
  CHECK(usr1_count == 2, "raise: handler ran again");
  CHECK(usr1_code == SI_TKILL, "raise: si_code SI_TKILL (%d)", (int)usr1_code);

  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr2;
  sa.sa_flags = SA_NODEFER;
  sigaction(SIGUSR2, &sa, NULL);
  raise(SIGUSR2);
  CHECK(usr2_max_depth == 3, "SA_NODEFER: nested three deep (%d)", (int)usr2_max_depth);

  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_urg;
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGURG, &sa, NULL);
  raise(SIGURG);
  raise(SIGURG); /* default action of SIGURG: ignore */
  CHECK(urg_count == 1, "SA_RESETHAND: handler ran once (%d)", (int)urg_count);
  struct sigaction cur;
  sigaction(SIGURG, NULL, &cur);
  CHECK(cur.sa_handler == SIG_DFL, "SA_RESETHAND: back to SIG_DFL");
  return conf_done();
}
