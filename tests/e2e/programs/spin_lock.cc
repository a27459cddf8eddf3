// spin_lock: pthread_spin_lock contention in a program built WITH
// backstep_instrument. The critical section is instrumented code, so the
// holder can be preempted at a tick while it holds the lock; the waiter
// then spins inside glibc's pthread_spin_lock, where no tick is counted.
// Only a wall-clock interrupt gives the holder its turn back.
//
// Usage: spin_lock [threads] [rounds]
#include <pthread.h>

#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

pthread_spinlock_t lock;
long total = 0;

// Instrumented work inside the lock: ticks at every iteration.
__attribute__((noinline)) long work(long x) {
  long acc = x;
  for (int i = 0; i < 2000; ++i) acc = acc * 6364136223846793005L + 1442695040888963407L;
  return acc;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 3;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 20;
  std::printf("spin_lock: %d threads, %d rounds\n", threads, rounds);
  std::fflush(stdout);
  pthread_spin_init(&lock, PTHREAD_PROCESS_PRIVATE);
  long check = 0;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int r = 0; r < rounds; ++r) {
        pthread_spin_lock(&lock);
        long w = work(t * 1000 + r);
        total += 1;
        check ^= w;
        pthread_spin_unlock(&lock);
      }
    });
  }
  for (auto& th : pool) th.join();
  std::printf("spin_lock: total %ld, check %lx\n", total, static_cast<unsigned long>(check));
  return total == static_cast<long>(threads) * rounds ? 0 : 1;
}
