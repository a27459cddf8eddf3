// A CPU-bound, map-heavy, race-free workload with several threads, for
// record/replay versus native (bench/run_benchmarks.sh, figure 3).
// Each thread owns its GoMap: no data race, so every schedule the recorder
// picks computes the same checksum. Built as
//   mt_map_native  BACKSTEP_NO_MAP_HOOKS, no ticks: the native baseline
//   mt_map_instr   backstep_instrument(): ticks + map events (what is recorded)
// Usage: mt_map_workload [THREADS [ROUNDS]]; prints the checksum only (the
// script times the whole process from outside: under replay the program's own
// clock reads return recorded values).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "gomap/go_map.h"

namespace {

uint64_t work(uint64_t seed, uint64_t rounds) {
  uint64_t checksum = 0;
  for (uint64_t r = 0; r < rounds; ++r) {
    backstep::GoMap<uint64_t, uint64_t> m;
    const uint64_t salt = seed * 1000003u + r;
    for (uint64_t i = 0; i < 20000; ++i) m.put(i * 2654435761u + salt, i);
    for (uint64_t i = 0; i < 20000; i += 2) m.put(i * 2654435761u + salt, i + 1);
    for (uint64_t i = 0; i < 40000; ++i) {
      if (const uint64_t* v = m.find(i * 2654435761u + salt)) checksum += *v;
    }
    for (uint64_t i = 0; i < 20000; i += 3) m.erase(i * 2654435761u + salt);
    // Go randomizes the iteration order: sum order-independently.
    for (auto [k, v] : m) checksum += k ^ v;
  }
  return checksum;
}

}  // namespace

int main(int argc, char** argv) {
  const unsigned threads = argc > 1 ? static_cast<unsigned>(std::strtoul(argv[1], nullptr, 10)) : 4;
  const uint64_t rounds = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 10;
  std::vector<uint64_t> sums(threads, 0);
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&sums, t, rounds] { sums[t] = work(t + 1, rounds); });
  }
  for (auto& th : pool) th.join();
  uint64_t checksum = 0;
  for (uint64_t s : sums) checksum += s;
  std::printf("threads %u rounds %llu checksum %llu\n", threads, static_cast<unsigned long long>(rounds),
              static_cast<unsigned long long>(checksum));
  return 0;
}
