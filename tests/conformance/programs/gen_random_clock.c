/* conformance-class: 0
 * Inputs that differ from run to run, used without printing them:
 * getrandom (two draws differ, GRND_NONBLOCK works), /dev/urandom,
 * AT_RANDOM, clock_gettime on several clocks (monotonic never goes back,
 * 10 ms of sleep are seen), gettimeofday and time agree with REALTIME.
 * Only the derived facts are printed, and a value computed from the
 * random bytes decides nothing visible. */
#define _GNU_SOURCE /* before any system header */
#include <sys/auxv.h>
#include <sys/random.h>
#include <sys/time.h>

#include "conf.h"

static long long ns(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void) {
  unsigned char r1[32], r2[32];
  CHECK(getrandom(r1, sizeof r1, 0) == 32, "getrandom 32 bytes");
  CHECK(getrandom(r2, sizeof r2, GRND_NONBLOCK) == 32, "GRND_NONBLOCK");
  CHECK(memcmp(r1, r2, 32) != 0, "two draws differ");
  int fd = open("/dev/urandom", O_RDONLY);
  unsigned char u[64];
  CHECK(read(fd, u, sizeof u) == 64, "read /dev/urandom");
  close(fd);
  const unsigned char* at = (const unsigned char*)getauxval(AT_RANDOM);
  int nonzero = 0;
  for (int i = 0; i < 16; i++) nonzero |= at[i];
  CHECK(nonzero, "AT_RANDOM has bytes");

  long long m0 = ns(CLOCK_MONOTONIC);
  int mono = 1;
  long long prev = m0;
  for (int i = 0; i < 1000; i++) {
    long long now = ns(CLOCK_MONOTONIC);
    mono &= now >= prev;
    prev = now;
  }
  CHECK(mono, "CLOCK_MONOTONIC never goes back");
  conf_sleep_ms(10);
  CHECK(ns(CLOCK_MONOTONIC) - m0 >= 10000000, "a 10 ms sleep is seen");
  CHECK(ns(CLOCK_BOOTTIME) >= ns(CLOCK_MONOTONIC) - 1000000, "BOOTTIME >= MONOTONIC");
  CHECK(ns(CLOCK_PROCESS_CPUTIME_ID) > 0 && ns(CLOCK_THREAD_CPUTIME_ID) > 0, "CPU clocks run");
  struct timeval tv;
  gettimeofday(&tv, NULL);
  long long real = ns(CLOCK_REALTIME) / 1000000000LL;
  time_t t = time(NULL);
  CHECK(tv.tv_sec >= 1600000000 && real - tv.tv_sec <= 1 && t - tv.tv_sec <= 1,
        "gettimeofday, time and REALTIME agree");
  struct timespec res;
  clock_getres(CLOCK_MONOTONIC, &res);
  CHECK(res.tv_sec == 0 && res.tv_nsec > 0, "clock_getres");
  return conf_done();
}
