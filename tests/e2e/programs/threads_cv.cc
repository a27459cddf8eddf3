// threads_cv: std::thread + std::mutex + std::condition_variable + join.
// A producer hands numbered items to three consumers through a bounded
// queue; every consumer prints what it took; main joins them all and prints
// a summary. The interleaving of the consumers' lines depends on the
// schedule, which is exactly what replay must reproduce.
//
// Usage: threads_cv [items]
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace {

std::mutex g_mu;
std::condition_variable g_not_empty, g_not_full;
std::deque<int> g_queue;
bool g_done = false;
constexpr size_t kCapacity = 4;

void producer(int items) {
  for (int i = 1; i <= items; ++i) {
    std::unique_lock lock(g_mu);
    g_not_full.wait(lock, [] { return g_queue.size() < kCapacity; });
    g_queue.push_back(i);
    g_not_empty.notify_one();
  }
  std::lock_guard lock(g_mu);
  g_done = true;
  g_not_empty.notify_all();
}

void consumer(int id, long* sum) {
  for (;;) {
    int item = 0;
    {
      std::unique_lock lock(g_mu);
      g_not_empty.wait(lock, [] { return !g_queue.empty() || g_done; });
      if (g_queue.empty()) return;
      item = g_queue.front();
      g_queue.pop_front();
      g_not_full.notify_one();
    }
    *sum += item;
    std::printf("consumer %d took %d\n", id, item);
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int items = argc > 1 ? std::atoi(argv[1]) : 40;
  std::printf("threads_cv: %d items, 3 consumers\n", items);
  std::fflush(stdout);
  long sums[3] = {};
  std::vector<std::thread> threads;
  for (int c = 0; c < 3; ++c) threads.emplace_back(consumer, c, &sums[c]);
  std::thread prod(producer, items);
  prod.join();
  for (auto& t : threads) t.join();
  long total = sums[0] + sums[1] + sums[2];
  std::printf("sums %ld %ld %ld total %ld\n", sums[0], sums[1], sums[2], total);
  return total == static_cast<long>(items) * (items + 1) / 2 ? 0 : 1;
}
