/* conformance-class: 1
 * Ends by a crash on purpose: output flushed, then a NULL store with the
 * default SIGSEGV action (exit status 139). */
#define _GNU_SOURCE /* before any system header */
#include "conf.h"

int main(void) {
  printf("about to crash\n");
  fflush(stdout);
  volatile int* p = NULL;
  *p = 1;
  printf("FAIL survived the crash\n");
  return 1;
}
