// frames_shop: a one-worker pool restocks a map while a thread named
// "auditor" (pthread_setname_np) ranges over it, with no lock. Under the
// chaos scheduler it fails with "concurrent map iteration and map write" on
// the auditor, the pool's worker having set hashWriting. The map's methods
// are inlined into restock() and audit() (stock.cc), which are called from
// two other files: the stacks the tests read span three source files.
//
// Usage: frames_shop [rounds]
#include <pthread.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "pool.h"
#include "stock.h"

int main(int argc, char** argv) {
  const long rounds = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 20000;
  if (rounds <= 0) {
    std::fprintf(stderr, "usage: %s [rounds]\n", argv[0]);
    return 2;
  }
  Stock stock;
  for (int item = 0; item < kItems; ++item) stock.put(item, 0);
  long total = 0;
  std::thread auditor([&] {
    pthread_setname_np(pthread_self(), "auditor");
    while (!g_restocked.load(std::memory_order_acquire)) {
      total += audit(stock);  // @auditor-audit
    }
  });
  { Pool pool(stock, 1, rounds); }
  auditor.join();
  std::printf("frames_shop: %ld rounds, audit total %ld\n", rounds, total);
  return 0;
}
