// same_size_churn: a cache of constant size under insert/delete churn (each
// step puts a new key and erases the oldest one), which piles up overflow
// buckets until the map grows to the same size to compact them, while a
// reader thread looks keys up. No range loop, no PutAll.
//
// Expected under the chaos scheduler: "fatal error: concurrent map read and
// map write" on the reader; hashWriting set by the churner's put or erase.
// The erase follows a put with no function entry or loop of its own before
// its store to the flags: a position on tick boundaries alone would land in
// the put.
//
// Usage: same_size_churn [steps]
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "gomap/go_map.h"

namespace {

using Cache = backstep::GoMap<uint64_t, uint64_t>;

constexpr uint64_t kLive = 200;  // entries at any time (B = 5: 32 buckets)

std::atomic<bool> g_churn_done{false};

[[gnu::noinline]] void churn(Cache& cache, long steps) {
  for (uint64_t i = 0; i < static_cast<uint64_t>(steps); ++i) {
    cache.put(i + kLive, i);  // the newest key
    cache.erase(i);           // the oldest one leaves
  }
  g_churn_done.store(true, std::memory_order_release);
}

[[gnu::noinline]] void read_cache(const Cache& cache, unsigned long& hits) {
  uint64_t k = 0;
  while (!g_churn_done.load(std::memory_order_acquire)) {
    if (cache.find(k++ % 4096) != nullptr) ++hits;  // the read
  }
}

}  // namespace

int main(int argc, char** argv) {
  long steps = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 20000;
  if (steps <= 0) {
    std::fprintf(stderr, "usage: %s [steps]\n", argv[0]);
    return 2;
  }
  Cache cache;
  for (uint64_t i = 0; i < kLive; ++i) cache.put(i, i);
  unsigned long hits = 0;
  std::thread reader(read_cache, std::cref(cache), std::ref(hits));
  std::thread churner(churn, std::ref(cache), steps);
  churner.join();
  reader.join();
  std::printf("same_size_churn: no failure (%zu entries, %lu hits)\n", cache.size(), hits);
  return 0;
}
