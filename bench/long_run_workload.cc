// A long recording for the time-travel benchmark (bench/timetravel_bench.sh):
// one thread counts `ticks` loop iterations in instrumented code, writes the
// global `g_marker` once when 90% of them are done (the write a watchpoint
// finds, ~10^7 ticks before the end for 10^8), and ends in abort(), which
// `goto panic` finds from the end.
// Usage: long_run_workload [ticks]   (default 100000000)
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

volatile uint64_t g_sink = 0;

// One loop iteration of instrumented code is one tick (the loop header's).
[[gnu::noinline]] void spin(uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) g_sink = g_sink + i;
}

}  // namespace

volatile uint64_t g_marker = 0;

int main(int argc, char** argv) {
  const uint64_t ticks = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000000;
  std::printf("g_marker at %p\n", static_cast<void*>(const_cast<uint64_t*>(&g_marker)));
  std::fflush(stdout);
  spin(ticks / 10 * 9);
  g_marker = 42;  // the write the benchmark's watchpoint finds
  spin(ticks / 10);
  std::abort();
}
