// safe_snapshot: the atomic-snapshot fix. The writer owns a private master
// map that nobody else ever sees; after each PutAll it publishes an immutable
// clone of it. Readers take the latest snapshot (a shared_ptr copy under a
// mutex held only for that copy) and range over it with no lock at all.
//
// Seed: chapter 4, section 4.2 ("使用atomic.Value封装map快照实现无锁批量写入"):
// build the new map, then store it as the current snapshot; readers Load it.
// (The seed's version copies the old map inside the writer, i.e. it is
// copy-on-write; see safe_cow for that one.)
//
// Expected: never fails; exit 0 with a one-line summary.
//
// Why, in Go terms: the master is written by one goroutine only, so its
// PutAll can be the plain, non-atomic loop of assignments; a published
// snapshot is never written again, and the only concurrent operations on it
// are iterations, which are reads: no fatal check can fire. Each snapshot is
// taken after a whole batch, so readers never see a batch half-applied. The
// program checks that, and that snapshots never go back in time.
//
// Usage: safe_snapshot [rounds]   (a round = one PutAll and one published snapshot)
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "gomap/go_map.h"

namespace {

using Map = backstep::GoMap<int, int>;

constexpr int kKeys = 48;  // every batch writes all of them with its generation
constexpr int kReaders = 2;
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
  std::fprintf(stderr, "safe_snapshot: FAILED: %s (%ld)\n", what, value);
  std::fflush(stderr);
  std::abort();
}

// The published snapshot. The mutex guards the shared_ptr only, never a map.
class SnapshotSlot {
 public:
  void publish(std::shared_ptr<const Map> snapshot) {
    std::lock_guard<std::mutex> lock(mu_);
    current_.swap(snapshot);
  }  // the old snapshot goes when `snapshot` does (after the lock) or with its last reader

  std::shared_ptr<const Map> take() const {
    std::lock_guard<std::mutex> lock(mu_);
    return current_;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Map> current_;
};

// Start barrier: spin (no syscalls) until every thread has arrived.
std::atomic<int> g_arrived{0};
void arrive_and_wait(int parties) {
  g_arrived.fetch_add(1, std::memory_order_acq_rel);
  while (g_arrived.load(std::memory_order_acquire) < parties) __builtin_ia32_pause();
}

SnapshotSlot g_slot;
std::atomic<bool> g_writer_done{false};
std::atomic<long> g_snapshots_checked{0};

[[gnu::noinline]] void writer(long rounds) {
  Map master;  // private to this thread
  std::vector<std::pair<int, int>> batch;
  for (int k = 0; k < kKeys; ++k) batch.emplace_back(k, 0);
  master.PutAll(batch);
  g_slot.publish(std::make_shared<Map>(master.clone()));
  arrive_and_wait(kReaders + 1);
  for (long r = 1; r <= rounds; ++r) {
    for (auto& entry : batch) entry.second = static_cast<int>(r);
    master.PutAll(batch);  // nobody else sees the master: a plain loop is fine
    g_slot.publish(std::make_shared<Map>(master.clone()));
  }
  g_writer_done.store(true, std::memory_order_release);
}

[[gnu::noinline]] void reader() {
  arrive_and_wait(kReaders + 1);
  int last = 0;
  long checked = 0;
  while (!g_writer_done.load(std::memory_order_acquire)) {
    std::shared_ptr<const Map> snapshot = g_slot.take();
    int lowest = INT_MAX;
    int highest = INT_MIN;
    long entries = 0;
    for (auto [k, v] : *snapshot) {  // no lock: the snapshot is immutable
      if (k < 0 || k >= kKeys) fail("unknown key", k);
      lowest = v < lowest ? v : lowest;
      highest = v > highest ? v : highest;
      ++entries;
    }
    if (entries != kKeys) fail("a snapshot has the wrong size", entries);
    if (lowest != highest) fail("a snapshot holds a batch half-applied", lowest);
    if (lowest < last) fail("snapshots went back in time", lowest);
    last = lowest;
    ++checked;
  }
  g_snapshots_checked.fetch_add(checked, std::memory_order_relaxed);
}

}  // namespace

int main(int argc, char** argv) {
  const long rounds = parse_rounds(argc, argv, kDefaultRounds);
  std::printf("safe_snapshot: writer publishes a clone after each PutAll, %d readers range them\n",
              kReaders);
  std::fflush(stdout);

  std::vector<std::thread> threads;
  threads.emplace_back(writer, rounds);
  for (int i = 0; i < kReaders; ++i) threads.emplace_back(reader);
  for (auto& t : threads) t.join();

  std::shared_ptr<const Map> final_snapshot = g_slot.take();
  if (final_snapshot->get(0) != rounds) fail("the last batch was not published", rounds);

  std::printf("safe_snapshot: ok: %ld snapshots published, %ld checked by %d readers\n", rounds,
              g_snapshots_checked.load(), kReaders);
  return 0;
}
