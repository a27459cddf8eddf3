// growth_panic: PutAll of a batch that makes the map grow, while another
// thread keeps ranging over the map. The headline case.
//
// Seed: section 2.2 ("键值对批量插入时bucket迁移引发的迭代器指针悬空复现"): a
// batch insert pushes the map over its load factor, the buckets are
// "migrated", and the iterator running meanwhile fails.
//
// Expected: "fatal error: concurrent map iteration and map write" on the
// ranging thread, then SIGABRT (Go with GOTRACEBACK=crash), raised while the
// map is growing: at the fatal the header has B = 9 and oldbuckets != 0, and
// the other thread is inside PutAll (its assignments' events carry
// outer_op = PutAll).
//
// Why, in Go terms: PutAll is not a map operation of its own, just one
// assignment per entry. The first assignment finds the map full (count + 1 >
// 6.5 * 2^B), starts an incremental growth (buckets -> oldbuckets, a new array
// of twice the size, nothing copied yet), and every assignment after that
// evacuates one or two old buckets. Each assignment holds hashWriting while it
// works; the iterator checks hashWriting at every step and throws. The seed is
// wrong about the mechanism: Go's iterator never dangles (during a growth it
// walks the old buckets that are not evacuated yet and the new ones for the
// rest, and both arrays stay valid); what kills the program is the best-effort
// flag check, a fatal error that recover() cannot catch, not a panic and not
// a stray pointer.
//
// How the program makes the failure happen only during growth:
//  - each round, the writer clones a template map filled to the load-factor
//    boundary (1664 = 13 * 2^8 / 2 entries, B = 8, not growing), publishes
//    the clone, and calls PutAll on it with 2^(B-1) - 1 = 127 new entries.
//    The first assignment starts the growth; each assignment evacuates at most
//    two of the 256 old buckets, so the growth cannot finish inside PutAll
//    (nor later: nothing writes the map again). The writer never waits;
//  - the ranger ranges over a map continuously, but starts ranging a newly
//    published map only once its header shows oldbuckets != 0, and switches
//    to it as soon as that happens (checked after every element). Since that
//    map then stays growing for good, every step the ranger takes on a map
//    that PutAll may be writing is taken during the growth: the fatal can only
//    be raised while the map grows (never in the first assignment before it
//    calls hashGrow).
// Only one thread writes, so "concurrent map writes" cannot happen; lookups
// are not used, so "read and write" cannot either. Neither thread waits for
// the other, so under a one-thread-at-a-time recorder a timeslice can end
// anywhere in the writer's rounds, most often inside PutAll.
//
// Usage: growth_panic [rounds]   (a round = one fresh map and one PutAll)
#include <atomic>
#include <cstdint>
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

constexpr int kB = 8;                       // log2 of the bucket count when a round starts
constexpr int kBuckets = 1 << kB;           // 256 buckets
constexpr int kFull = 13 * (kBuckets / 2);  // 1664: the most entries B = 8 holds (6.5 per bucket)
constexpr int kBatch = kBuckets / 2 - 1;    // 127 new entries: they start, but cannot end, a growth
constexpr long kDefaultRounds = 30000;

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

// The program's own assumptions about the map (not the race): exit 3.
void expect(bool ok, const char* what, long round) {
  if (ok) return;
  std::fprintf(stderr, "growth_panic: broken assumption in round %ld: %s\n", round, what);
  std::fflush(stderr);
  std::_Exit(3);
}

// True once a growth has started (and, here, for good). Read through
// atomic_ref so that loops re-read it; the writer stores it plainly, as the
// map does.
bool growing(Map& m) {
  return std::atomic_ref<uint64_t>(m.raw_header()->oldbuckets).load(std::memory_order_relaxed) != 0;
}

// Start barrier: spin (no syscalls) until both threads have arrived.
std::atomic<int> g_arrived{0};
void arrive_and_wait(int parties) {
  g_arrived.fetch_add(1, std::memory_order_acq_rel);
  while (g_arrived.load(std::memory_order_acquire) < parties) __builtin_ia32_pause();
}

// The newest round's map. A map lives as long as someone holds it: the
// writer during its PutAll, the ranger while it ranges over it.
std::atomic<std::shared_ptr<Map>> g_latest;
std::atomic<long> g_latest_round{0};
std::atomic<bool> g_writer_done{false};

[[gnu::noinline]] void writer(long rounds) {
  Map full(static_cast<size_t>(kFull));
  for (int k = 0; k < kFull; ++k) full.put(k, 0);
  std::vector<std::pair<int, int>> batch;
  for (int i = 0; i < kBatch; ++i) batch.emplace_back(kFull + i, 0);
  arrive_and_wait(2);

  for (long r = 1; r <= rounds; ++r) {
    auto m = std::make_shared<Map>(full.clone());
    expect(m->B() == kB && !m->growing() && m->size() == kFull,
           "a map filled to the load-factor boundary has B = 8 and is not growing", r);
    for (auto& entry : batch) entry.second = static_cast<int>(r);
    g_latest.store(m, std::memory_order_release);
    g_latest_round.store(r, std::memory_order_release);

    m->PutAll(batch);  // starts a growth, while the other thread ranges

    expect(m->growing(), "the map is still growing when PutAll returns", r);
  }
  g_writer_done.store(true, std::memory_order_release);
}

// What the ranger knows of the published maps.
struct RangerState {
  std::shared_ptr<Map> ranging;  // the map it ranges over: growing
  std::shared_ptr<Map> pending;  // the newest map, not growing when last looked at
  long seen_round = 0;

  // Moves to the newest map once it grows. True if it did.
  bool adopt_growing_map() {
    const long round = g_latest_round.load(std::memory_order_acquire);
    if (round != seen_round) {
      seen_round = round;
      pending = g_latest.load(std::memory_order_acquire);
    }
    if (pending == nullptr || !growing(*pending)) return false;
    ranging = std::move(pending);
    pending.reset();
    return true;
  }
};

[[gnu::noinline]] void ranger(long& passes, unsigned long& checksum) {
  RangerState s;
  arrive_and_wait(2);
  while (!g_writer_done.load(std::memory_order_acquire)) {
    if (s.ranging == nullptr) {  // until the first map grows
      s.adopt_growing_map();
      continue;
    }
    const std::shared_ptr<Map> m = s.ranging;  // keeps the map alive for this loop
    for (auto [k, v] : *m) {                   // for k, v := range m
      checksum += static_cast<unsigned>(k + v);
      if (s.adopt_growing_map()) break;  // range over the newest map instead
    }
    ++passes;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const long rounds = parse_rounds(argc, argv, kDefaultRounds);
  std::printf("growth_panic: PutAll of %d entries into a full map of %d (B=%d) while ranging\n",
              kBatch, kFull, kB);
  std::fflush(stdout);

  long passes = 0;
  unsigned long checksum = 0;
  std::thread w(writer, rounds);
  std::thread it(ranger, std::ref(passes), std::ref(checksum));
  w.join();
  it.join();

  std::printf("growth_panic: no failure in %ld rounds (%ld range passes, checksum %lu)\n", rounds,
              passes, checksum);
  return 0;
}
