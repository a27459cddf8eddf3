#include "pool.h"

Pool::Pool(Stock& stock, int workers, long rounds) : stock_(stock), rounds_(rounds) {
  for (int id = 0; id < workers; ++id) {
    threads_.emplace_back([this, id] { worker_loop(id); });
  }
}

Pool::~Pool() {
  for (auto& t : threads_) t.join();
  g_restocked.store(true, std::memory_order_release);
}

void Pool::worker_loop(int id) {
  for (long r = 0; r < rounds_; ++r) {
    restock(stock_, static_cast<int>(r) + id);  // @worker-restock
  }
}
