// torn_batch: a "sync.Map-like" wrapper whose PutAll is a loop of
// individually locked stores, while another thread takes snapshots and checks
// that every batch is all-or-nothing.
//
// Seed: section 2.3 ("使用未同步的sync.Map模拟PutAll导致迭代器状态错乱"): a
// loop of m.Store while m.Range runs.
//
// Expected: "assertion failed: torn batch: ..." from the program's own check,
// then SIGABRT from std::abort(). No map fatal error: every single map
// operation is under the mutex, so the map itself is never used concurrently.
//
// Why, in Go terms: sync.Map (and this wrapper) makes each Store, Load and
// Range step safe on its own, but nothing makes a sequence of Stores atomic.
// A reader that gets the lock between two Stores of one batch sees part of
// the batch: some keys at generation g, the rest still at g - 1. The seed's
// explanation (Range seeing nil values or panicking because "buckets split"
// under it) is wrong: sync.Map never exposes a half-written entry and never
// panics here; the bug is purely a lost atomicity of the batch, which only an
// application-level invariant can detect, as this program does.
//
// Here Range holds the lock for a whole pass, so each pass is a consistent
// snapshot of the map: a torn pass proves the tearing is PutAll's, not
// Range's. (sync.Map's Range only guarantees each callback on its own, which
// tears even more.)
//
// Usage: torn_batch [rounds]   (a round = one PutAll of a new generation)
#include <atomic>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "gomap/go_map.h"

namespace {

using Map = backstep::GoMap<int, int>;

constexpr int kKeys = 16;  // entries per batch: every key, with the batch's generation
constexpr long kDefaultRounds = 500000;

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

// An always-on check (independent of NDEBUG): prints "assertion failed: ..."
// and aborts.
[[noreturn, gnu::format(printf, 1, 2)]] void check_failed(const char* format, ...) {
  std::fputs("assertion failed: ", stderr);
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
  std::fflush(stderr);
  std::abort();
}
#define EXAMPLE_CHECK(cond, ...)            \
  do {                                      \
    if (!(cond)) check_failed(__VA_ARGS__); \
  } while (0)

// The sync.Map stand-in: every operation on its own is atomic.
class SyncMap {
 public:
  void Store(int key, int value) {
    std::lock_guard<std::mutex> lock(mu_);
    map_.put(key, value);
  }

  // The seed's PutAll: one locked Store per entry. Not atomic.
  template <class Range>
  void PutAll(const Range& entries) {
    for (const auto& [key, value] : entries) Store(key, value);
  }

  // Calls f(key, value) for every entry, holding the lock for the whole pass.
  template <class F>
  void Range(F&& f) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto [key, value] : map_) f(key, value);
  }

 private:
  std::mutex mu_;
  Map map_;
};

// Start barrier: spin (no syscalls) until both threads have arrived.
std::atomic<int> g_arrived{0};
void arrive_and_wait(int parties) {
  g_arrived.fetch_add(1, std::memory_order_acq_rel);
  while (g_arrived.load(std::memory_order_acquire) < parties) __builtin_ia32_pause();
}

std::atomic<bool> g_writer_done{false};

[[gnu::noinline]] void writer(SyncMap& m, long rounds) {
  std::vector<std::pair<int, int>> batch;
  for (int k = 0; k < kKeys; ++k) batch.emplace_back(k, 0);
  arrive_and_wait(2);
  for (long generation = 1; generation <= rounds; ++generation) {
    for (auto& entry : batch) entry.second = static_cast<int>(generation);
    m.PutAll(batch);
  }
  g_writer_done.store(true, std::memory_order_release);
}

[[gnu::noinline]] void checker(SyncMap& m, long& snapshots) {
  arrive_and_wait(2);
  while (!g_writer_done.load(std::memory_order_acquire)) {
    int lowest = INT_MAX;
    int highest = INT_MIN;
    int entries = 0;
    m.Range([&](int, int generation) {
      lowest = generation < lowest ? generation : lowest;
      highest = generation > highest ? generation : highest;
      ++entries;
    });
    ++snapshots;
    EXAMPLE_CHECK(entries == kKeys, "torn batch: snapshot %ld has %d entries, expected %d",
                  snapshots, entries, kKeys);
    EXAMPLE_CHECK(lowest == highest,
                  "torn batch: snapshot %ld mixes generations %d and %d of a %d-entry PutAll",
                  snapshots, lowest, highest, kKeys);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const long rounds = parse_rounds(argc, argv, kDefaultRounds);
  std::printf("torn_batch: PutAll of %d entries as %d locked stores while checking snapshots\n",
              kKeys, kKeys);
  std::fflush(stdout);

  SyncMap m;
  for (int k = 0; k < kKeys; ++k) m.Store(k, 0);

  long snapshots = 0;
  std::thread w(writer, std::ref(m), rounds);
  std::thread c(checker, std::ref(m), std::ref(snapshots));
  w.join();
  c.join();

  std::printf("torn_batch: no failure in %ld rounds (%ld consistent snapshots)\n", rounds,
              snapshots);
  return 0;
}
