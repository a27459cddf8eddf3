/* conformance-class: 6
 * exec of `sh -c` from the main thread: the shell prints two lines (one
 * through a pipeline) and exits 5; our last output before exec is
 * flushed. */
#define _GNU_SOURCE /* before any system header */
#include "conf.h"

int main(void) {
  printf("before exec of sh\n");
  fflush(stdout);
  execl("/bin/sh", "sh", "-c", "echo from sh; echo piped | tr a-z A-Z; exit 5", (char*)NULL);
  printf("FAIL exec failed\n");
  return 1;
}
