// concurrent_writes: two threads assign to the same map with no lock.
//
// Seed: section 2.1 ("map并发写入与迭代器竞争"): `go func() { m["k"] = "v" }()`
// run twice.
//
// Expected: "fatal error: concurrent map writes" on either writer, then
// SIGABRT (Go with GOTRACEBACK=crash).
//
// Why, in Go terms: mapassign checks hashWriting on entry (another writer is
// inside: throw), sets it with a plain XOR after hashing the key, and checks
// at its end that it is still set (a second writer's XOR cleared it: throw).
// Neither check is atomic (the seed's "XCHGQ ... 原子置位" is wrong: it is a
// load, an XOR and a store), so two assignments that overlap are caught most
// of the time, not always.
//
// Both writers only overwrite keys that exist, so the map's structure never
// changes: the only way this program can fail is the fatal check, never a
// bucket torn by two simultaneous inserts.
//
// Usage: concurrent_writes [rounds]   (a round = one write of every key, per writer)
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>

#include "gomap/go_map.h"

namespace {

using Map = backstep::GoMap<int, int>;

constexpr int kKeys = 256;
constexpr long kDefaultRounds = 100000;

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

// Writer `id` walks the keys from a different starting point than the other
// writer so that both are in the same buckets about as often as not.
[[gnu::noinline]] void writer(Map& m, long rounds, int id) {
  arrive_and_wait(2);
  const int start = id * (kKeys / 2);
  for (long r = 0; r < rounds; ++r) {
    for (int i = 0; i < kKeys; ++i) m.put((start + i) % kKeys, id);  // m[k] = id
  }
}

}  // namespace

int main(int argc, char** argv) {
  const long rounds = parse_rounds(argc, argv, kDefaultRounds);
  std::printf("concurrent_writes: two writers overwrite %d keys each per round\n", kKeys);
  std::fflush(stdout);

  Map m;
  for (int k = 0; k < kKeys; ++k) m.put(k, -1);

  std::thread a(writer, std::ref(m), rounds, 0);
  std::thread b(writer, std::ref(m), rounds, 1);
  a.join();
  b.join();

  std::printf("concurrent_writes: no failure in %ld rounds (%zu entries)\n", rounds, m.size());
  return 0;
}
