/* conformance-class: 7
 * An asynchronous signal into uninstrumented spinning code: setitimer
 * (ITIMER_REAL, 10 ms) fires while the main thread spins on a flag the
 * handler sets; three rounds. Then ITIMER_VIRTUAL, which only counts while
 * the thread runs user code. */
#define _GNU_SOURCE /* before any system header */
#include <signal.h>
#include <sys/time.h>

#include "conf.h"

static volatile sig_atomic_t fired;
static void on_timer(int sig) {
  (void)sig;
  fired++;
}

int main(void) {
  signal(SIGALRM, on_timer);
  signal(SIGVTALRM, on_timer);
  for (int round = 1; round <= 3; round++) {
    struct itimerval it = {{0, 0}, {0, 10000}};
    setitimer(ITIMER_REAL, &it, NULL);
    while (fired < round) {
    }
  }
  CHECK(fired == 3, "three SIGALRMs ended three spins");
  struct itimerval it = {{0, 0}, {0, 20000}};
  setitimer(ITIMER_VIRTUAL, &it, NULL);
  while (fired < 4) {
  }
  CHECK(fired == 4, "SIGVTALRM ended the fourth spin");
  return conf_done();
}
