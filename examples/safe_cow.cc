// safe_cow: the copy-on-write fix. A published map is never written again:
// a writer clones the current map, applies its PutAll to the private clone,
// and publishes the clone with one atomic compare-and-swap of a
// std::atomic<std::shared_ptr<const Map>>, retrying on top of the newer map
// when another writer published first. Readers load the pointer and range
// over their snapshot for as long as they like.
//
// Seed: chapter 4, section 4.1 ("基于read-copy-update(RCU)语义的安全PutAll接口
// 设计"): read the current version, build a new one, swap the pointer, free
// the old one when no reader uses it (here: the shared_ptr count).
//
// Expected: never fails; exit 0 with a one-line summary.
//
// Why, in Go terms: the only concurrent operations on any one map are
// iterations and clones, which are reads: none of them sets hashWriting, so
// no fatal check can fire (Go allows any number of concurrent readers). Each
// batch becomes visible all at once with the swap, so a reader never sees a
// batch half-applied (the bug of torn_batch), and the compare-and-swap loses
// no writer's batch. The program checks both.
//
// Usage: safe_cow [rounds]   (a round = one batch per writer)
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "gomap/go_map.h"

namespace {

using Map = backstep::GoMap<int, int>;

constexpr int kWriters = 2;
constexpr int kKeysPerWriter = 24;  // writer w owns keys [w * 24, w * 24 + 24)
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
  std::fprintf(stderr, "safe_cow: FAILED: %s (%ld)\n", what, value);
  std::fflush(stderr);
  std::abort();
}

// Start barrier: spin (no syscalls) until every thread has arrived.
std::atomic<int> g_arrived{0};
void arrive_and_wait(int parties) {
  g_arrived.fetch_add(1, std::memory_order_acq_rel);
  while (g_arrived.load(std::memory_order_acquire) < parties) __builtin_ia32_pause();
}

std::atomic<std::shared_ptr<const Map>> g_current;
std::atomic<int> g_writers_done{0};
std::atomic<long> g_retries{0};

[[gnu::noinline]] void writer(int id, long rounds) {
  std::vector<std::pair<int, int>> batch;
  for (int i = 0; i < kKeysPerWriter; ++i) batch.emplace_back(id * kKeysPerWriter + i, 0);
  arrive_and_wait(kWriters + 1);
  long retries = 0;
  for (long r = 1; r <= rounds; ++r) {
    for (auto& entry : batch) entry.second = static_cast<int>(r);
    std::shared_ptr<const Map> current = g_current.load(std::memory_order_acquire);
    for (;;) {
      // Copy, then write the private copy: nobody else can see it yet.
      std::shared_ptr<Map> next = std::make_shared<Map>(current->clone());
      next->PutAll(batch);
      // Publish it unless another writer published first; then `current` is
      // the newer map and the batch is applied again on top of it.
      if (g_current.compare_exchange_weak(current, std::move(next), std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
        break;
      }
      ++retries;
    }
  }
  g_retries.fetch_add(retries, std::memory_order_relaxed);
  g_writers_done.fetch_add(1, std::memory_order_release);
}

// Checks one snapshot: each writer's keys carry one generation, never older
// than in the previous snapshot. Returns the number of entries.
long check_snapshot(const Map& m, int (&last)[kWriters]) {
  int lowest[kWriters];
  int highest[kWriters];
  for (int w = 0; w < kWriters; ++w) {
    lowest[w] = INT_MAX;
    highest[w] = INT_MIN;
  }
  long entries = 0;
  for (auto [k, v] : m) {
    const int w = k / kKeysPerWriter;
    if (w < 0 || w >= kWriters) fail("unknown key", k);
    lowest[w] = v < lowest[w] ? v : lowest[w];
    highest[w] = v > highest[w] ? v : highest[w];
    ++entries;
  }
  if (entries != kWriters * kKeysPerWriter) fail("a snapshot has the wrong size", entries);
  for (int w = 0; w < kWriters; ++w) {
    if (lowest[w] != highest[w]) fail("a snapshot holds a batch half-applied", w);
    if (lowest[w] < last[w]) fail("a writer's generation went backwards", w);
    last[w] = lowest[w];
  }
  return entries;
}

[[gnu::noinline]] void reader(long& snapshots) {
  int last[kWriters] = {};
  arrive_and_wait(kWriters + 1);
  while (g_writers_done.load(std::memory_order_acquire) < kWriters) {
    std::shared_ptr<const Map> snapshot = g_current.load(std::memory_order_acquire);
    check_snapshot(*snapshot, last);
    ++snapshots;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const long rounds = parse_rounds(argc, argv, kDefaultRounds);
  std::printf("safe_cow: %d writers clone + PutAll + compare-and-swap, a reader ranges snapshots\n",
              kWriters);
  std::fflush(stdout);

  {
    auto initial = std::make_shared<Map>();
    for (int k = 0; k < kWriters * kKeysPerWriter; ++k) initial->put(k, 0);
    g_current.store(std::move(initial));
  }

  long snapshots = 0;
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) threads.emplace_back(writer, w, rounds);
  threads.emplace_back(reader, std::ref(snapshots));
  for (auto& t : threads) t.join();

  // No batch was lost: the final map has every writer's last generation.
  int last[kWriters] = {};
  check_snapshot(*g_current.load(), last);
  for (int w = 0; w < kWriters; ++w) {
    if (last[w] != rounds) fail("a writer's last batch is missing", w);
  }

  std::printf("safe_cow: ok: %ld rounds x %d writers, %ld consistent snapshots, %ld CAS retries\n",
              rounds, kWriters, snapshots, g_retries.load());
  return 0;
}
