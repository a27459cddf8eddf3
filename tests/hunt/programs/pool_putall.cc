// pool_putall: a pool of 3 worker threads takes tasks from a queue guarded
// by a mutex and a condition variable; each task is a PutAll of a batch into
// one shared map. Workers sleep on the condition variable (futex waits)
// between tasks, so the schedule switches threads at futex-blocked points as
// well as at timeslices.
//
// Expected under the chaos scheduler: "fatal error: concurrent map writes"
// (two workers inside PutAll at once).
//
// Usage: pool_putall [tasks]
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "gomap/go_map.h"

namespace {

using Inventory = backstep::GoMap<int, int>;

class Pool {
 public:
  explicit Pool(int workers) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void submit(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(task));
    }
    ready_.notify_one();
  }
  void wait_idle() {
    std::unique_lock<std::mutex> lock(mu_);
    idle_.wait(lock, [this] { return tasks_.empty() && busy_ == 0; });
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
        ++busy_;
      }
      task();
      {
        std::lock_guard<std::mutex> lock(mu_);
        --busy_;
      }
      idle_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable ready_, idle_;
  std::deque<std::function<void()>> tasks_;
  int busy_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

[[gnu::noinline]] void restock(Inventory& inventory, int task) {
  std::vector<std::pair<int, int>> batch;
  for (int i = 0; i < 64; ++i) batch.emplace_back((task * 64 + i) % 1500, task);
  inventory.PutAll(batch);  // the write
}

}  // namespace

int main(int argc, char** argv) {
  long tasks = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 300;
  if (tasks <= 0) {
    std::fprintf(stderr, "usage: %s [tasks]\n", argv[0]);
    return 2;
  }
  Inventory inventory;
  {
    Pool pool(3);
    for (long t = 0; t < tasks; ++t) {
      pool.submit([&inventory, t] { restock(inventory, static_cast<int>(t)); });
      if (t % 6 == 5) pool.wait_idle();  // bursts of 6 tasks
    }
    pool.wait_idle();
  }
  std::printf("pool_putall: no failure (%zu items)\n", inventory.size());
  return 0;
}
