// safe_rwlock: the reader/writer-lock fix. A std::shared_mutex guards every
// map access: the writer holds it exclusively for a whole PutAll, the reader
// holds it shared for every lookup and for every whole range loop.
//
// Seed: chapter 4 (defensive PutAll) and the "读写分离(sync.RWMutex)" row of
// chapter 1's table: "读锁保护所有range及m[key]访问".
//
// Expected: never fails; exit 0 with a one-line summary.
//
// Why, in Go terms: with sync.RWMutex around every access, no assignment
// overlaps a lookup or an iterator step, so hashWriting is never seen set by
// anyone but its owner and no fatal check can fire. Because the writer holds
// the lock for the whole batch and the reader for the whole range, a reader
// also never sees a batch half-applied (the bug of torn_batch); the program
// checks that. The writer's batches also grow the map now and then (each
// round adds a few new keys), with no iterator affected.
//
// Usage: safe_rwlock [rounds]   (a round = one PutAll)
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <utility>
#include <vector>

#include "gomap/go_map.h"

namespace {

using Map = backstep::GoMap<int, int>;

constexpr int kBatchKeys = 32;   // keys 0..31 carry the generation of the last batch
constexpr int kNewPerRound = 2;  // plus two new keys per batch, so that the map grows
constexpr long kDefaultRounds = 20000;

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

void fail(const char* what, long value) {
  std::fprintf(stderr, "safe_rwlock: FAILED: %s (%ld)\n", what, value);
  std::fflush(stderr);
  std::abort();
}

// Start barrier: spin (no syscalls) until both threads have arrived.
std::atomic<int> g_arrived{0};
void arrive_and_wait(int parties) {
  g_arrived.fetch_add(1, std::memory_order_acq_rel);
  while (g_arrived.load(std::memory_order_acquire) < parties) __builtin_ia32_pause();
}

std::shared_mutex g_mu;
std::atomic<bool> g_writer_done{false};

[[gnu::noinline]] void writer(Map& m, long rounds) {
  std::vector<std::pair<int, int>> batch(kBatchKeys + kNewPerRound);
  arrive_and_wait(2);
  for (long r = 1; r <= rounds; ++r) {
    const int generation = static_cast<int>(r);
    for (int k = 0; k < kBatchKeys; ++k) batch[static_cast<size_t>(k)] = {k, generation};
    for (int i = 0; i < kNewPerRound; ++i) {
      // Keys above kBatchKeys, recycled every 4096 so that the map stays small.
      const int key = kBatchKeys + static_cast<int>((r * kNewPerRound + i) % 4096);
      batch[static_cast<size_t>(kBatchKeys + i)] = {key, -generation};
    }
    std::unique_lock<std::shared_mutex> lock(g_mu);
    m.PutAll(batch);
  }
  g_writer_done.store(true, std::memory_order_release);
}

[[gnu::noinline]] void reader(Map& m, long& passes) {
  arrive_and_wait(2);
  int last_generation = 0;
  while (!g_writer_done.load(std::memory_order_acquire)) {
    int lowest = INT_MAX;
    int highest = INT_MIN;
    {
      std::shared_lock<std::shared_mutex> lock(g_mu);  // held for the whole range
      for (auto [k, v] : m) {
        if (k < kBatchKeys) {
          lowest = v < lowest ? v : lowest;
          highest = v > highest ? v : highest;
        }
      }
    }
    if (lowest != highest) fail("a range saw a batch half-applied", passes);
    if (lowest < last_generation) fail("generations went backwards", lowest);
    last_generation = lowest;
    for (int k = 0; k < kBatchKeys; ++k) {
      std::shared_lock<std::shared_mutex> lock(g_mu);  // held for each lookup
      if (m.get(k) < last_generation) fail("a lookup saw an older generation", k);
    }
    ++passes;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const long rounds = parse_rounds(argc, argv, kDefaultRounds);
  std::printf("safe_rwlock: PutAll under a write lock, range and lookups under a read lock\n");
  std::fflush(stdout);

  Map m;
  for (int k = 0; k < kBatchKeys; ++k) m.put(k, 0);

  long passes = 0;
  std::thread w(writer, std::ref(m), rounds);
  std::thread r(reader, std::ref(m), std::ref(passes));
  w.join();
  r.join();

  std::printf("safe_rwlock: ok: %ld rounds, %ld consistent range passes, %zu entries, B=%d\n",
              rounds, passes, m.size(), static_cast<int>(m.B()));
  return 0;
}
