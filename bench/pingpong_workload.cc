// Two threads ping-ponging bytes over two pipes (figure 10 of
// bench/run_benchmarks.sh): every read blocks until the other thread has
// written, so every round trip is two blocking reads, which a recorder that
// runs one thread at a time must see (the syscall buffer sends them traced).
// Usage: pingpong_workload [BYTES]
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 100000;
  int ping[2], pong[2];
  if (pipe(ping) != 0 || pipe(pong) != 0) return 1;
  std::thread echo([&] {
    char c;
    for (long i = 0; i < n; ++i) {
      if (read(ping[0], &c, 1) != 1 || write(pong[1], &c, 1) != 1) std::abort();
    }
  });
  long sum = 0;
  for (long i = 0; i < n; ++i) {
    char c = static_cast<char>(i);
    if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1) return 1;
    sum += c;
  }
  echo.join();
  std::printf("pingpong %ld bytes, sum %ld\n", n, sum);
  return 0;
}
