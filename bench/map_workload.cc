// A map-heavy single-threaded workload, built several ways by
// bench/CMakeLists.txt to price the instrumentation:
//   map_workload_nohooks  BACKSTEP_NO_MAP_HOOKS: map events compiled out
//   map_workload_hooks    map events on, no tracer attached (idle hooks)
//   map_workload_ticks    backstep_instrument(): idle hooks + tick counting
// It prints its own elapsed time (steady clock, work only) and a checksum,
// so that bench/run_benchmarks.sh can compare the builds side by side.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "gomap/go_map.h"

int main(int argc, char** argv) {
  const uint64_t rounds = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 40;
  auto start = std::chrono::steady_clock::now();
  uint64_t checksum = 0;
  for (uint64_t r = 0; r < rounds; ++r) {
    backstep::GoMap<uint64_t, uint64_t> m;
    // Inserts across many growths, overwrites, lookups, deletes, ranges.
    for (uint64_t i = 0; i < 20000; ++i) m.put(i * 2654435761u + r, i);
    for (uint64_t i = 0; i < 20000; i += 2) m.put(i * 2654435761u + r, i + 1);
    for (uint64_t i = 0; i < 40000; ++i) {
      if (const uint64_t* v = m.find(i * 2654435761u + r)) checksum += *v;
    }
    for (uint64_t i = 0; i < 20000; i += 3) m.erase(i * 2654435761u + r);
    for (auto [k, v] : m) checksum += k ^ v;
  }
  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("elapsed %.6f checksum %llu\n", elapsed, static_cast<unsigned long long>(checksum));
  return 0;
}
