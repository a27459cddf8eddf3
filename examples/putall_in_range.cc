// putall_in_range: PutAll called inside a range loop over the same map, on the
// same thread. Legal in Go; this program must never fail.
//
// Seed: section 2.5 ("迭代中调用PutAll触发runtime.mapassign触发器重入的栈帧崩溃
// 路径"), which claims the opposite.
//
// Expected: exit 0 and a one-line summary. Each round ranges over a map filled
// to its load-factor boundary (B = 5) and calls PutAll twice from inside the
// loop body: the first batch starts a growth to B = 6 (it finishes inside the
// batch), the second one starts a growth to B = 7 that is still running when
// the loop goes on. The program checks Go's range guarantee: every entry
// present for the whole loop is produced exactly once, with its value, and
// no entry is produced twice. It exits 1 with a message otherwise.
//
// Why the seed's claim is wrong: it says the range loop holds hashWriting
// (or that mapiterinit sets it), so that mapassign inside the loop finds the
// flag set and throws "concurrent map writes", and it describes the check
// with an hmap.iter_count field. None of this is Go:
//  - hmap has no iter_count field. An iterator sets the iterator and
//    oldIterator bits of h.flags (and nothing ever clears them); those bits
//    only tell growth not to clear old buckets' keys, they are never checked
//    for a fatal error;
//  - hashWriting is set by mapassign/mapdelete/mapclear only, for the
//    duration of that one operation. A range step (mapiternext) checks it,
//    but it runs between loop bodies, when the same goroutine's PutAll has
//    already returned and cleared it; the writer and the iterator are never
//    inside the map at the same time;
//  - growth during iteration is designed for: the iterator remembers B and
//    the bucket array it started on, walks old buckets that are not yet
//    evacuated (skipping the keys that belong to the other half), and looks
//    entries of buckets evacuated after it started up again in the current
//    table. The spec only leaves open whether entries added during the loop
//    are produced. Here none are: every PutAll starts a growth before its
//    first insert, so the added entries only ever live in arrays newer than
//    the one the iterator walks (the summary's "0 of N" is Go's behaviour).
//
// Usage: putall_in_range [rounds]   (a round = one fresh map and one range loop)
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "gomap/go_map.h"

namespace {

using Map = backstep::GoMap<int, int>;

constexpr int kB = 5;                        // log2 of the bucket count when a round starts
constexpr int kFull = 13 * ((1 << kB) / 2);  // 208: the most entries B = 5 holds
constexpr int kFirstBatch = 64;              // 208 -> 272: grows to B = 6 and finishes
constexpr int kSecondBatch = 175;            // 272 -> 447: grows to B = 7 at entry 145
constexpr int kAdded = kFirstBatch + kSecondBatch;
constexpr int kValueOffset = 1000000;  // value of key k: k + kValueOffset
constexpr long kDefaultRounds = 2000;

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

std::vector<std::pair<int, int>> make_batch(int first_key, int count) {
  std::vector<std::pair<int, int>> batch;
  batch.reserve(static_cast<size_t>(count));
  for (int k = first_key; k < first_key + count; ++k) batch.emplace_back(k, k + kValueOffset);
  return batch;
}

struct Totals {
  long steps_while_growing = 0;  // loop bodies that ran while the map was growing
  long added_produced = 0;       // entries added during the loop that the loop produced
};

// One round; returns false (after printing why) when Go's guarantee is broken.
bool run_round(long round, const std::vector<std::pair<int, int>>& first,
               const std::vector<std::pair<int, int>>& second, Totals& totals) {
  Map m(static_cast<size_t>(kFull));
  for (int k = 0; k < kFull; ++k) m.put(k, k + kValueOffset);
  if (m.B() != kB || m.growing()) {
    std::fprintf(stderr, "putall_in_range: round %ld: a full map should have B=%d, not growing\n",
                 round, kB);
    return false;
  }

  // The loop bodies after which the two PutAlls run: they move with the
  // round, so that growth starts at many different iterator positions.
  const long first_at = round % (kFull / 2);
  const long second_at = first_at + kFull / 2;

  std::vector<int> produced(kFull + kAdded, 0);
  long step = 0;
  for (auto [k, v] : m) {
    if (k < 0 || k >= kFull + kAdded) {
      std::fprintf(stderr, "putall_in_range: round %ld: produced unknown key %d\n", round, k);
      return false;
    }
    if (v != k + kValueOffset) {
      std::fprintf(stderr, "putall_in_range: round %ld: key %d produced with value %d\n", round, k,
                   v);
      return false;
    }
    ++produced[static_cast<size_t>(k)];
    if (m.growing()) ++totals.steps_while_growing;
    if (step == first_at) m.PutAll(first);  // legal: the iterator is between steps
    if (step == second_at) {
      m.PutAll(second);
      // 31 assignments since the growth started evacuated at most 62 of the
      // 64 old buckets: the rest of the loop runs while the map grows.
      if (!m.growing()) {
        std::fprintf(
            stderr, "putall_in_range: round %ld: map not growing after the second PutAll\n", round);
        return false;
      }
    }
    ++step;
  }

  if (m.B() != kB + 2 || m.size() != static_cast<size_t>(kFull + kAdded)) {
    std::fprintf(stderr,
                 "putall_in_range: round %ld: expected B=%d and %d entries, got B=%d, %zu\n", round,
                 kB + 2, kFull + kAdded, static_cast<int>(m.B()), m.size());
    return false;
  }
  for (int k = 0; k < kFull + kAdded; ++k) {
    const int n = produced[static_cast<size_t>(k)];
    if (k < kFull && n != 1) {
      std::fprintf(stderr,
                   "putall_in_range: round %ld: pre-existing key %d produced %d times, not once\n",
                   round, k, n);
      return false;
    }
    if (n > 1) {
      std::fprintf(stderr, "putall_in_range: round %ld: added key %d produced %d times\n", round, k,
                   n);
      return false;
    }
    if (k >= kFull) totals.added_produced += n;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const long rounds = parse_rounds(argc, argv, kDefaultRounds);
  std::printf("putall_in_range: PutAll inside a range loop over a full map (B=%d), same thread\n",
              kB);
  std::fflush(stdout);

  const auto first = make_batch(kFull, kFirstBatch);
  const auto second = make_batch(kFull + kFirstBatch, kSecondBatch);
  Totals totals;
  for (long r = 0; r < rounds; ++r) {
    if (!run_round(r, first, second, totals)) return 1;
  }

  std::printf(
      "putall_in_range: ok: %ld rounds, every pre-existing entry produced exactly once across two "
      "growths (B=%d->%d, %ld steps while growing); %ld of %ld added entries produced\n",
      rounds, kB, kB + 2, totals.steps_while_growing, totals.added_produced,
      rounds * static_cast<long>(kAdded));
  return 0;
}
