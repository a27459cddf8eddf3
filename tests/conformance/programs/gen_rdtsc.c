/* conformance-class: 0
 * rdtsc and rdtscp, as inline asm (not through the vDSO): the counter
 * increases over a loop and across a sleep, rdtscp increases, and the
 * lfence;rdtsc idiom works. No value is printed. */
#define _GNU_SOURCE /* before any system header */
#include <stdint.h>

#include "conf.h"

static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t)hi << 32 | lo;
}
static inline uint64_t rdtscp(uint32_t* aux) {
  uint32_t lo, hi;
  __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(*aux));
  return (uint64_t)hi << 32 | lo;
}

int main(void) {
  uint64_t first = rdtsc(), prev = first;
  int increasing = 1;
  for (int i = 0; i < 10000; i++) {
    uint64_t now = rdtsc();
    increasing &= now >= prev;
    prev = now;
  }
  CHECK(increasing && prev > first, "rdtsc increases");
  uint32_t aux;
  uint64_t a = rdtscp(&aux);
  uint64_t b = rdtscp(&aux);
  CHECK(b >= a, "rdtscp increases");
  uint64_t c;
  __asm__ volatile("lfence; rdtsc; shl $32, %%rdx; or %%rdx, %%rax" : "=a"(c)::"rdx");
  CHECK(c >= b, "lfence; rdtsc");
  conf_sleep_ms(5);
  CHECK(rdtsc() > c, "it moved across a sleep");
  return conf_done();
}
