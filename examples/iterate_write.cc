// iterate_write: one thread writes to a map in a loop while another thread
// ranges over the same map.
//
// Seed: chapter 1, "复现并发写panic的最小代码" (goroutine 1 does m[i] = i,
// goroutine 2 does `for range m {}`), and the table of 2.1.
//
// Expected: "fatal error: concurrent map iteration and map write" on the
// ranging thread, then SIGABRT (Go with GOTRACEBACK=crash).
//
// Why, in Go terms: every assignment sets hashWriting in h.flags (an XOR
// after hashing the key) and clears it at its end; the iterator checks
// hashWriting at every step (mapiternext) and throws when it is set. A throw
// is a fatal error, not a panic: recover() cannot catch it. The check is a
// plain, best-effort read, so the failure needs a step to land inside an
// assignment: likely, not certain. The seed's account of the mechanism (an
// hmap.iter_count that growth resets, and a "panic: iteration over map with
// concurrent writes") is wrong: hmap has no such field and that message does
// not exist.
//
// The writer only overwrites keys that exist, so the map's structure never
// changes (growth under a live iterator is growth_panic's subject): the only
// way this program can fail is the fatal check.
//
// Usage: iterate_write [rounds]   (a round = one write of every key)
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>

#include "gomap/go_map.h"

namespace {

using Map = backstep::GoMap<int, int>;

constexpr int kKeys = 256;
constexpr long kDefaultRounds = 200000;

long parse_rounds(int argc, char** argv, long fallback) {
  if (argc < 2) return fallback;
  char* end = nullptr;
  long rounds = std::strtol(argv[1], &end, 10);
  if (end == argv[1] || *end != '\0' || rounds <= 0) {
    std::fprintf(stderr, "usage: %s [rounds]\n", argv[0]);
    std::exit(2);
  }
  return rounds;
}

// Start barrier: spin (no syscalls) until both threads have arrived.
std::atomic<int> g_arrived{0};
void arrive_and_wait(int parties) {
  g_arrived.fetch_add(1, std::memory_order_acq_rel);
  while (g_arrived.load(std::memory_order_acquire) < parties) __builtin_ia32_pause();
}

std::atomic<bool> g_writer_done{false};

[[gnu::noinline]] void writer(Map& m, long rounds) {
  arrive_and_wait(2);
  for (long r = 0; r < rounds; ++r) {
    for (int k = 0; k < kKeys; ++k) m.put(k, static_cast<int>(r));  // m[k] = r
  }
  g_writer_done.store(true, std::memory_order_release);
}

[[gnu::noinline]] void ranger(Map& m, long& passes, unsigned long& sum) {
  arrive_and_wait(2);
  while (!g_writer_done.load(std::memory_order_acquire)) {
    for (auto [k, v] : m) sum += static_cast<unsigned>(k + v);  // for k, v := range m
    ++passes;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const long rounds = parse_rounds(argc, argv, kDefaultRounds);
  std::printf("iterate_write: writer overwrites %d keys per round while another thread ranges\n",
              kKeys);
  std::fflush(stdout);

  Map m;
  for (int k = 0; k < kKeys; ++k) m.put(k, 0);

  long passes = 0;
  unsigned long sum = 0;
  std::thread w(writer, std::ref(m), rounds);
  std::thread it(ranger, std::ref(m), std::ref(passes), std::ref(sum));
  w.join();
  it.join();

  std::printf("iterate_write: no failure in %ld rounds (%ld range passes, checksum %lu)\n", rounds,
              passes, sum);
  return 0;
}
