/* conformance-class: 0
 * Output on both streams, an atexit handler and an exit status of 3 on
 * purpose: stdout gets the report, stderr gets a diagnostic line, the
 * atexit handler prints last. */
#define _GNU_SOURCE /* before any system header */
#include "conf.h"

static void at_exit_handler(void) {
  printf("atexit handler ran\n");
  fflush(stdout);
}

int main(void) {
  atexit(at_exit_handler);
  for (int i = 0; i < 5; i++) {
    printf("stdout line %d\n", i);
    fprintf(stderr, "stderr line %d\n", i);
  }
  CHECK(1, "wrote both streams");
  conf_done();
  fprintf(stderr, "exiting with status 3 on purpose\n");
  exit(3);
}
