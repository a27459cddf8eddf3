// time_random: a plain (uninstrumented) program that reads every kind of
// nondeterministic input a program commonly uses, prints the values and a
// hash of them, and exits with the hash's low 7 bits. Replay must give the
// program the recorded values: same printed values, same exit status.
#include <fcntl.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>
#include <x86intrin.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace {

uint64_t g_hash = 1469598103934665603ull;  // FNV-1a

void mix(const void* p, size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) {
    g_hash ^= b[i];
    g_hash *= 1099511628211ull;
  }
}

void print_bytes(const char* what, const unsigned char* b, size_t n) {
  std::printf("%s ", what);
  for (size_t i = 0; i < n; ++i) std::printf("%02x", b[i]);
  std::printf("\n");
  mix(b, n);
}

}  // namespace

int main() {
  timespec rt{}, mono{};
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  std::printf("clock_gettime realtime %lld.%09ld monotonic %lld.%09ld\n",
              static_cast<long long>(rt.tv_sec), rt.tv_nsec, static_cast<long long>(mono.tv_sec),
              mono.tv_nsec);
  mix(&rt, sizeof rt);
  mix(&mono, sizeof mono);

  timeval tv{};
  gettimeofday(&tv, nullptr);
  std::printf("gettimeofday %lld.%06ld\n", static_cast<long long>(tv.tv_sec),
              static_cast<long>(tv.tv_usec));
  mix(&tv, sizeof tv);

  time_t t = time(nullptr);
  std::printf("time %lld\n", static_cast<long long>(t));
  mix(&t, sizeof t);

  uint64_t tsc1 = __rdtsc();
  unsigned aux = 0;
  uint64_t tsc2 = __rdtscp(&aux);
  std::printf("rdtsc %" PRIu64 " rdtscp %" PRIu64 "\n", tsc1, tsc2);
  mix(&tsc1, sizeof tsc1);
  mix(&tsc2, sizeof tsc2);

  unsigned char rnd[16] = {};
  if (getrandom(rnd, sizeof rnd, 0) != static_cast<ssize_t>(sizeof rnd)) return 120;
  print_bytes("getrandom", rnd, sizeof rnd);

  unsigned char ur[16] = {};
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, ur, sizeof ur) != static_cast<ssize_t>(sizeof ur)) return 121;
  close(fd);
  print_bytes("urandom", ur, sizeof ur);

  std::printf("hash %016" PRIx64 " exit %d\n", g_hash, static_cast<int>(g_hash & 0x7f));
  std::fflush(stdout);
  std::exit(static_cast<int>(g_hash & 0x7f));
}
