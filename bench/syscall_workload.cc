// A syscall-heavy single-threaded workload (figure 4 of
// bench/run_benchmarks.sh): N getppid(2) calls, each a real kernel entry
// (syscall(2) directly, so that no libc caching can skip it). Uninstrumented:
// it prices the recorder's per-syscall cost (ptrace stops, trace writes).
// Usage: syscall_workload [N]
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  const uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
  uint64_t sum = 0;
  for (uint64_t i = 0; i < n; ++i) sum += static_cast<uint64_t>(::syscall(SYS_getppid));
  std::printf("syscalls %llu sum %llu\n", static_cast<unsigned long long>(n),
              static_cast<unsigned long long>(sum));
  return 0;
}
