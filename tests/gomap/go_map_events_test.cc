// The exact event sequences of map operations, captured through the
// runtime's observer.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gomap/go_map.h"
#include "test_support.h"

namespace backstep::gomap_test {
namespace {

using IntMap = GoMap<int, int>;

constexpr uint8_t kIt = abi::kFlagIterator;
constexpr uint8_t kOldIt = abi::kFlagOldIterator;
constexpr uint8_t kW = abi::kFlagHashWriting;
constexpr uint8_t kSame = abi::kFlagSameSizeGrow;

// What a test expects of one event; unset fields are not compared.
struct Want {
  MapEventKind kind{};
  std::optional<MapOp> op = std::nullopt;
  std::optional<uint8_t> fb = std::nullopt;
  std::optional<uint8_t> fa = std::nullopt;
  std::optional<uint8_t> B = std::nullopt;
  std::optional<uint64_t> count = std::nullopt;
  std::optional<uint64_t> nevacuate = std::nullopt;
  std::optional<uint8_t> arg0 = std::nullopt;
  std::optional<uint32_t> arg1 = std::nullopt;
  std::optional<uint8_t> arg2 = std::nullopt;
};

std::string dump(const std::vector<MapEvent>& ev) {
  std::string s;
  for (const MapEvent& e : ev) s += "  " + describe(e) + "\n";
  return s;
}

void expect_sequence(const std::vector<MapEvent>& ev, const std::vector<Want>& want) {
  ASSERT_EQ(ev.size(), want.size()) << dump(ev);
  for (size_t i = 0; i < ev.size(); ++i) {
    const MapEvent& e = ev[i];
    const Want& w = want[i];
    SCOPED_TRACE("event " + std::to_string(i) + ": " + describe(e));
    EXPECT_EQ(kind_of(e), w.kind);
    if (w.op) {
      EXPECT_EQ(op_of(e), *w.op);
    }
    if (w.fb) {
      EXPECT_EQ(e.flags_before, *w.fb);
    }
    if (w.fa) {
      EXPECT_EQ(e.flags_after, *w.fa);
    }
    if (w.B) {
      EXPECT_EQ(e.B, *w.B);
    }
    if (w.count) {
      EXPECT_EQ(e.count, *w.count);
    }
    if (w.nevacuate) {
      EXPECT_EQ(e.nevacuate, *w.nevacuate);
    }
    if (w.arg0) {
      EXPECT_EQ(e.arg0, *w.arg0);
    }
    if (w.arg1) {
      EXPECT_EQ(e.arg1, *w.arg1);
    }
    if (w.arg2) {
      EXPECT_EQ(e.arg2, *w.arg2);
    }
  }
  for (size_t i = 1; i < ev.size(); ++i) EXPECT_EQ(ev[i].seq, ev[i - 1].seq + 1);
}

// Predicts growWork's evacuations (evacuate + advanceEvacuationMark).
struct GrowthSim {
  explicit GrowthSim(size_t nold, bool same_size) : evacuated(nold), n(nold), same(same_size) {}
  void evacuate(size_t ob, uint8_t b) {
    const bool moved = !evacuated[ob];
    evacuated[ob] = true;
    bool finished = false;
    if (ob == nev) {
      ++nev;
      const uint64_t stop = std::min<uint64_t>(nev + 1024, n);
      while (nev != stop && evacuated[nev]) ++nev;
      finished = nev == n;
    }
    if (moved) {
      out.push_back({.kind = MapEventKind::kEvacuate, .op = MapOp::kAssign, .fb = kW, .fa = kW, .B = b,
                     .nevacuate = nev, .arg0 = 0, .arg1 = static_cast<uint32_t>(ob), .arg2 = 0});
    }
    if (finished) {
      out.push_back({.kind = MapEventKind::kGrowFinish, .op = MapOp::kAssign,
                     .fb = static_cast<uint8_t>(kW | (same ? kSame : 0)), .fa = kW, .B = b});
      growing = false;
    }
  }
  void grow_work(uint64_t hash, uint8_t b) {
    evacuate(static_cast<size_t>(hash & (n - 1)), b);
    if (growing) evacuate(static_cast<size_t>(nev), b);
  }
  std::vector<bool> evacuated;
  uint64_t nev = 0;
  size_t n;
  bool same;
  bool growing = true;
  std::vector<Want> out;
};

TEST(GoMapEvents, PutThatGrowsFromOneBucket) {
  IntMap m;
  for (int i = 0; i < 8; ++i) m.put(i, i);
  ASSERT_EQ(m.B(), 0);
  EventRecorder rec;
  m.put(8, 8);
  const auto ev = rec.for_map(&m);
  expect_sequence(ev, {
      {.kind = MapEventKind::kWriteBegin, .op = MapOp::kAssign, .fb = 0, .fa = kW, .B = 0, .count = 8},
      {.kind = MapEventKind::kGrowStart, .op = MapOp::kAssign, .fb = kW, .fa = kW, .B = 1, .count = 8,
       .nevacuate = 0, .arg0 = 0, .arg1 = 1, .arg2 = 0},
      {.kind = MapEventKind::kEvacuate, .op = MapOp::kAssign, .fb = kW, .fa = kW, .B = 1, .count = 8,
       .nevacuate = 1, .arg0 = 0, .arg1 = 0, .arg2 = 0},
      {.kind = MapEventKind::kGrowFinish, .op = MapOp::kAssign, .fb = kW, .fa = kW, .B = 1, .nevacuate = 1},
      {.kind = MapEventKind::kWriteEnd, .op = MapOp::kAssign, .fb = kW, .fa = 0, .B = 1, .count = 9},
  });
  ASSERT_EQ(ev.size(), 5u);
  const pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
  for (const MapEvent& e : ev) {
    EXPECT_EQ(e.map, reinterpret_cast<uint64_t>(&m));
    EXPECT_EQ(static_cast<MapOp>(e.outer_op), MapOp::kNone);
    EXPECT_EQ(e.tid, static_cast<uint32_t>(tid));
    EXPECT_NE(e.site, 0u);
  }
  EXPECT_NE(ev[0].site, ev[4].site) << "each transition has its own site";
  EXPECT_FALSE(m.growing());
}

TEST(GoMapEvents, PutThatGrowsFromFourBuckets) {
  for (int round = 0; round < 20; ++round) {
    IntMap m;
    for (int i = 0; i < 26; ++i) m.put(i, i);
    while (m.growing()) m.erase(-1);  // a same-size growth may be under way
    ASSERT_EQ(m.B(), 2);
    ASSERT_EQ(m.size(), 26u);

    const int key = 1000 + round;
    GrowthSim sim(4, false);
    sim.grow_work(m.hash_of(key), 3);
    std::vector<Want> want = {
        {.kind = MapEventKind::kWriteBegin, .op = MapOp::kAssign, .fb = 0, .fa = kW, .B = 2, .count = 26},
        {.kind = MapEventKind::kGrowStart, .op = MapOp::kAssign, .fb = kW, .fa = kW, .B = 3, .count = 26,
         .nevacuate = 0, .arg0 = 2, .arg1 = 3, .arg2 = 0},
    };
    want.insert(want.end(), sim.out.begin(), sim.out.end());
    want.push_back({.kind = MapEventKind::kWriteEnd, .op = MapOp::kAssign, .fb = kW, .fa = 0, .B = 3, .count = 27});

    EventRecorder rec;
    m.put(key, key);
    expect_sequence(rec.for_map(&m), want);
    EXPECT_EQ(m.growing(), sim.growing);
    EXPECT_EQ(m.nevacuate(), sim.nev);
    if (HasFailure()) return;
  }
}

TEST(GoMapEvents, IterationAcrossGrowth) {
  IntMap m;
  for (int i = 0; i < 8; ++i) m.put(i, i);
  EventRecorder rec;
  auto it = m.begin();
  expect_sequence(rec.for_map(&m), {
      {.kind = MapEventKind::kIterStart, .op = MapOp::kIterate, .fb = 0, .fa = kIt | kOldIt, .B = 0, .count = 8},
      {.kind = MapEventKind::kIterStep, .op = MapOp::kIterate, .fb = kIt | kOldIt, .fa = kIt | kOldIt, .B = 0},
  });
  std::multiset<int> keys{it.key()};
  rec.clear();

  // The growth moves the iterator bit to oldIterator and keeps the old
  // entries alive for the iterator (kEvacuate arg2 = 1).
  m.put(100, 100);
  expect_sequence(rec.for_map(&m), {
      {.kind = MapEventKind::kWriteBegin, .fb = kIt | kOldIt, .fa = kIt | kOldIt | kW},
      {.kind = MapEventKind::kGrowStart, .fb = kIt | kOldIt | kW, .fa = kOldIt | kW, .B = 1, .arg0 = 0,
       .arg1 = 1, .arg2 = 0},
      {.kind = MapEventKind::kEvacuate, .fb = kOldIt | kW, .fa = kOldIt | kW, .nevacuate = 1, .arg1 = 0,
       .arg2 = 1},
      {.kind = MapEventKind::kGrowFinish, .fb = kOldIt | kW, .fa = kOldIt | kW},
      {.kind = MapEventKind::kWriteEnd, .fb = kOldIt | kW, .fa = kOldIt, .B = 1, .count = 9},
  });
  rec.clear();

  for (++it; !it.at_end(); ++it) keys.insert(it.key());
  const auto ev = rec.for_map(&m);
  ASSERT_EQ(ev.size(), 8u) << "one step per remaining entry and one that finds the end";
  for (const MapEvent& e : ev) {
    EXPECT_EQ(kind_of(e), MapEventKind::kIterStep);
    EXPECT_EQ(e.flags_before, kOldIt);
    EXPECT_EQ(e.flags_after, kOldIt);
  }
  EXPECT_EQ(keys, (std::multiset<int>{0, 1, 2, 3, 4, 5, 6, 7}))
      << "the iterator walks its snapshot: 100 was added after it started";

  // A new iteration sets the iterator bit again.
  rec.clear();
  { auto again = m.begin(); }
  const auto ev2 = rec.for_map(&m);
  ASSERT_EQ(ev2.size(), 2u);
  EXPECT_EQ(ev2[0].flags_before, kOldIt);
  EXPECT_EQ(ev2[0].flags_after, kIt | kOldIt);
}

TEST(GoMapEvents, IterationOfEmptyMapPublishesNothing) {
  IntMap m;
  EventRecorder rec;
  for (auto [k, v] : m) ADD_FAILURE() << k << v;
  m.put(1, 1);
  m.erase(1);
  rec.clear();
  for (auto [k, v] : m) ADD_FAILURE() << k << v;
  EXPECT_TRUE(rec.events().empty());
  EXPECT_EQ(m.flags(), 0);
}

TEST(GoMapEvents, DeleteClearAndLookups) {
  IntMap m;
  for (int i = 0; i < 5; ++i) m.put(i, i);
  EventRecorder rec;
  m.find(1);
  m.get(2);
  m.contains(3);
  EXPECT_TRUE(rec.events().empty()) << "lookups make no transition";

  m.erase(1);
  m.erase(42);  // absent: hashWriting is still set and cleared
  m.clear();
  m.clear();    // empty: skipped, no checks, no events
  m.erase(3);   // empty: skipped
  expect_sequence(rec.for_map(&m), {
      {.kind = MapEventKind::kWriteBegin, .op = MapOp::kDelete, .fb = 0, .fa = kW, .count = 5},
      {.kind = MapEventKind::kWriteEnd, .op = MapOp::kDelete, .fb = kW, .fa = 0, .count = 4},
      {.kind = MapEventKind::kWriteBegin, .op = MapOp::kDelete, .fb = 0, .fa = kW, .count = 4},
      {.kind = MapEventKind::kWriteEnd, .op = MapOp::kDelete, .fb = kW, .fa = 0, .count = 4},
      {.kind = MapEventKind::kWriteBegin, .op = MapOp::kClear, .fb = 0, .fa = kW, .count = 4},
      {.kind = MapEventKind::kWriteEnd, .op = MapOp::kClear, .fb = kW, .fa = 0, .count = 0},
  });
}

TEST(GoMapEvents, DeleteDoesGrowWork) {
  IntMap m;
  for (int i = 0; i < 27; ++i) m.put(i, i);
  int extra = 100;
  while (!m.growing() || m.B() != 3) m.put(extra++, 0);  // a doubling from B = 2 is under way
  ASSERT_EQ(m.old_bucket_count(), 4u);
  EventRecorder rec;
  while (m.growing()) m.erase(-1);
  size_t evacuations = 0;
  size_t finishes = 0;
  for (const MapEvent& e : rec.for_map(&m)) {
    if (kind_of(e) == MapEventKind::kEvacuate) {
      ++evacuations;
      EXPECT_EQ(op_of(e), MapOp::kDelete);
      EXPECT_LT(e.arg1, 4u);
    }
    finishes += kind_of(e) == MapEventKind::kGrowFinish;
  }
  EXPECT_GE(evacuations, 1u);
  EXPECT_LE(evacuations, 3u);
  EXPECT_EQ(finishes, 1u);
}

TEST(GoMapEvents, SameSizeGrowth) {
  GoMap<uint64_t, uint64_t> m;
  std::vector<uint64_t> live;
  uint64_t next = 0;
  while (m.size() < 50) {
    m.put(next, next);
    live.push_back(next++);
  }
  ASSERT_EQ(m.B(), 3);
  EventRecorder rec;
  std::optional<MapEvent> start;
  uint64_t seed = 12345;
  for (int i = 0; i < 100000 && !start; ++i) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    const size_t victim = static_cast<size_t>(seed >> 33) % live.size();
    m.erase(live[victim]);
    live[victim] = next;
    m.put(next, next);
    ++next;
    for (const MapEvent& e : rec.events()) {
      if (kind_of(e) == MapEventKind::kGrowStart) start = e;
    }
    rec.clear();
  }
  ASSERT_TRUE(start.has_value()) << "no growth under churn";
  EXPECT_EQ(start->arg2, 1) << describe(*start);
  EXPECT_EQ(start->arg0, 3);
  EXPECT_EQ(start->arg1, 3);
  EXPECT_EQ(start->B, 3);
  EXPECT_EQ(start->flags_before & (kW | kSame), kW);
  EXPECT_EQ(start->flags_after & (kW | kSame), kW | kSame);
  rec.clear();
  while (m.growing()) m.erase(~uint64_t{0});
  std::optional<MapEvent> finish;
  for (const MapEvent& e : rec.events()) {
    if (kind_of(e) == MapEventKind::kGrowFinish) finish = e;
    if (kind_of(e) == MapEventKind::kEvacuate) {
      EXPECT_EQ(e.B, 3);
    }
  }
  ASSERT_TRUE(finish.has_value());
  EXPECT_EQ(finish->flags_before & kSame, kSame);
  EXPECT_EQ(finish->flags_after & kSame, 0);
  EXPECT_EQ(finish->nevacuate, 8u);
}

}  // namespace
}  // namespace backstep::gomap_test
