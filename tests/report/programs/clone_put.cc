// clone_put: a snapshot thread clones the map (maps.Clone) over and over
// while a writer thread puts new entries into it. No range loop, no PutAll.
//
// Expected under the chaos scheduler: "fatal error: concurrent map clone and
// map write" on the snapshot thread, hashWriting set by the writer's assign.
//
// Usage: clone_put [puts]
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "gomap/go_map.h"

namespace {

using Prices = backstep::GoMap<int, long>;

std::atomic<bool> g_writer_done{false};

[[gnu::noinline]] void update_prices(Prices& prices, long puts) {
  for (long i = 0; i < puts; ++i) prices.put(static_cast<int>(i % 200), i);  // the write
  g_writer_done.store(true, std::memory_order_release);
}

[[gnu::noinline]] void take_snapshots(const Prices& prices, unsigned long& sizes) {
  while (!g_writer_done.load(std::memory_order_acquire)) {
    Prices snapshot = prices.clone();  // the clone
    sizes += snapshot.size();
  }
}

}  // namespace

int main(int argc, char** argv) {
  long puts = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 20000;
  if (puts <= 0) {
    std::fprintf(stderr, "usage: %s [puts]\n", argv[0]);
    return 2;
  }
  Prices prices;
  for (int i = 0; i < 100; ++i) prices.put(i, 0);
  unsigned long sizes = 0;
  std::thread snapshots(take_snapshots, std::cref(prices), std::ref(sizes));
  std::thread writer(update_prices, std::ref(prices), puts);
  writer.join();
  snapshots.join();
  std::printf("clone_put: no failure (%zu entries, %lu cloned)\n", prices.size(), sizes);
  return 0;
}
