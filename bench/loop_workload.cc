// A tiny CPU loop for the gdb `record full` comparison (figure 6 of
// bench/run_benchmarks.sh). loop_spin() runs 6 instructions per iteration
// (load, add, increment, store, compare, branch; check with objdump -d), so
// `loop_workload N` executes about 6*N instructions from loop_spin() to
// loop_done(). gdb records exactly that stretch and stops recording before
// printf (glibc's AVX-512 string functions are instructions gdb's process
// record cannot record).
// Uninstrumented. Prints the loop's own native time (steady clock).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

volatile uint64_t g_sink = 0;

}  // namespace

// gdb records from `break loop_spin` to `break loop_done`: extern "C" and
// noinline so that both names resolve to one stable address. No clock read
// lies in between (a vDSO clock_gettime under gdb's single-stepping can spin
// in its retry loop for minutes).
extern "C" [[gnu::noinline]] void loop_spin(uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) g_sink = g_sink + i;
}
extern "C" [[gnu::noinline]] void loop_done() { asm volatile("" ::: "memory"); }

int main(int argc, char** argv) {
  const uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
  auto start = std::chrono::steady_clock::now();
  loop_spin(n);
  loop_done();
  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("elapsed %.9f iterations %llu sink %llu\n", elapsed, static_cast<unsigned long long>(n),
              static_cast<unsigned long long>(g_sink));
  return 0;
}
