// Every fatal check, hit deterministically on one thread: the runtime's
// observer runs synchronously after each event, so a second operation can be
// made at the exact moment the first one holds hashWriting.
//
// In the dying child the observer prints each event as "[ev <kind> op <op>]"
// and the kFatal event as "[kFatal op=.. kind=.. site=.. writing=..]"
// (site: GoMapFatalSite; writing: hashWriting at the failed check), before
// the runtime prints Go's "fatal error: ..." line; the regexes check both.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <functional>
#include <string>

#include "gomap/go_map.h"
#include "test_support.h"

namespace backstep::gomap_test {
namespace {

using IntMap = GoMap<int, int>;

// Runs `then` (once, not re-entrantly) after each event; prints events.
struct Scenario {
  std::function<void(const MapEvent&)> then;
  bool busy = false;

  void arm() { rt::set_map_event_observer(&Scenario::observe, this); }

  static void observe(const MapEvent& e, void* ctx) {
    auto* s = static_cast<Scenario*>(ctx);
    if (kind_of(e) == MapEventKind::kFatal) {
      std::fprintf(stderr, "[kFatal op=%d kind=%d site=%u writing=%d outer=%d]\n", e.op, e.arg0, e.arg1,
                   (e.flags_before & abi::kFlagHashWriting) != 0, e.outer_op);
      return;
    }
    std::fprintf(stderr, "[ev %d op %d]\n", e.kind, e.op);
    if (s->busy || !s->then) return;
    s->busy = true;
    s->then(e);
    s->busy = false;
  }
};

bool is_write_begin(const MapEvent& e, MapOp op) {
  return kind_of(e) == MapEventKind::kWriteBegin && op_of(e) == op;
}

// Returns normally only if nothing died: the death test then fails.
void run(IntMap& m, Scenario& s, const std::function<void()>& op) {
  s.arm();
  op();
  rt::set_map_event_observer(nullptr, nullptr);
  std::fprintf(stderr, "survived\n");
  (void)m;
}

IntMap* filled(int n) {
  auto* m = new IntMap;
  for (int i = 0; i < n; ++i) m->put(i, i);
  return m;
}

// ---- assign ----------------------------------------------------------------

// A second put while the first holds hashWriting: dies at its entry check.
void AssignOnEntry() {
  IntMap& m = *filled(4);
  Scenario s;
  s.then = [&](const MapEvent& e) {
    if (is_write_begin(e, MapOp::kAssign)) m.put(100, 100);
  };
  run(m, s, [&] { m.put(50, 50); });
}

// Go's check at the end of mapassign catches a second writer that passed its
// own entry check before the first writer's XOR; its XOR then clears the
// flag. Nested calls on one thread cannot produce that order (the nested put
// dies on entry, see AssignOnEntry), so the observer applies the second
// writer's XOR to the header directly.
void AssignAtEnd() {
  IntMap& m = *filled(4);
  Scenario s;
  s.then = [&](const MapEvent& e) {
    if (is_write_begin(e, MapOp::kAssign)) m.raw_header()->flags ^= abi::kFlagHashWriting;
  };
  run(m, s, [&] { m.put(50, 50); });
}

TEST(GoMapFatalDeathTest, AssignOnEntry) {
  EXPECT_EXIT(AssignOnEntry(), ::testing::KilledBySignal(SIGABRT),
              "\\[ev 3 op 2\\].*\\[kFatal op=2 kind=1 site=1 writing=1 outer=0\\].*"
              "fatal error: concurrent map writes");
}

TEST(GoMapFatalDeathTest, AssignAtEnd) {
  EXPECT_EXIT(AssignAtEnd(), ::testing::KilledBySignal(SIGABRT),
              "\\[kFatal op=2 kind=1 site=2 writing=0 outer=0\\].*fatal error: concurrent map writes");
}

// PutAll is one assign per entry: a read between two of them is legal, a
// read during one is not (the seed's non-atomic PutAll).
void PutAllReadDuringSecondAssign() {
  IntMap& m = *filled(4);
  Scenario s;
  int writes = 0;
  s.then = [&](const MapEvent& e) {
    if (kind_of(e) == MapEventKind::kWriteEnd) m.get(1);  // between two assigns: fine
    if (is_write_begin(e, MapOp::kAssign) && ++writes == 2) m.get(1);
  };
  run(m, s, [&] { m.PutAll({{10, 10}, {11, 11}, {12, 12}}); });
}

TEST(GoMapFatalDeathTest, PutAllIsNotAtomic) {
  EXPECT_EXIT(PutAllReadDuringSecondAssign(), ::testing::KilledBySignal(SIGABRT),
              "\\[kFatal op=1 kind=2 site=1 writing=1 outer=7\\].*"
              "fatal error: concurrent map read and map write");
}

// ---- delete and clear ------------------------------------------------------

void DeleteOnEntry() {
  IntMap& m = *filled(4);
  Scenario s;
  s.then = [&](const MapEvent& e) {
    if (is_write_begin(e, MapOp::kAssign)) m.erase(1);
  };
  run(m, s, [&] { m.put(50, 50); });
}

void DeleteAtEnd() {
  IntMap& m = *filled(4);
  Scenario s;
  s.then = [&](const MapEvent& e) {
    if (is_write_begin(e, MapOp::kDelete)) m.raw_header()->flags ^= abi::kFlagHashWriting;
  };
  run(m, s, [&] { m.erase(2); });
}

void ClearOnEntry() {
  IntMap& m = *filled(4);
  Scenario s;
  s.then = [&](const MapEvent& e) {
    if (is_write_begin(e, MapOp::kDelete)) m.clear();
  };
  run(m, s, [&] { m.erase(3); });
}

void ClearAtEnd() {
  IntMap& m = *filled(4);
  Scenario s;
  s.then = [&](const MapEvent& e) {
    if (is_write_begin(e, MapOp::kClear)) m.raw_header()->flags ^= abi::kFlagHashWriting;
  };
  run(m, s, [&] { m.clear(); });
}

TEST(GoMapFatalDeathTest, DeleteOnEntry) {
  EXPECT_EXIT(DeleteOnEntry(), ::testing::KilledBySignal(SIGABRT),
              "\\[kFatal op=3 kind=1 site=1 writing=1 outer=0\\].*fatal error: concurrent map writes");
}

TEST(GoMapFatalDeathTest, DeleteAtEnd) {
  EXPECT_EXIT(DeleteAtEnd(), ::testing::KilledBySignal(SIGABRT),
              "\\[kFatal op=3 kind=1 site=2 writing=0 outer=0\\].*fatal error: concurrent map writes");
}

TEST(GoMapFatalDeathTest, ClearOnEntry) {
  EXPECT_EXIT(ClearOnEntry(), ::testing::KilledBySignal(SIGABRT),
              "\\[ev 3 op 3\\].*\\[kFatal op=4 kind=1 site=1 writing=1 outer=0\\].*"
              "fatal error: concurrent map writes");
}

TEST(GoMapFatalDeathTest, ClearAtEnd) {
  EXPECT_EXIT(ClearAtEnd(), ::testing::KilledBySignal(SIGABRT),
              "\\[kFatal op=4 kind=1 site=2 writing=0 outer=0\\].*fatal error: concurrent map writes");
}

// ---- lookups ---------------------------------------------------------------

void LookupDuring(MapOp writer, int which) {
  IntMap& m = *filled(4);
  Scenario s;
  s.then = [&](const MapEvent& e) {
    if (!is_write_begin(e, writer)) return;
    if (which == 0) m.find(1);
    if (which == 1) m.get(1);
    if (which == 2) m.contains(99);  // absent keys are checked too
  };
  run(m, s, [&] {
    if (writer == MapOp::kAssign) m.put(50, 50);
    if (writer == MapOp::kDelete) m.erase(2);
    if (writer == MapOp::kClear) m.clear();
  });
}

TEST(GoMapFatalDeathTest, LookupDuringAssign) {
  EXPECT_EXIT(LookupDuring(MapOp::kAssign, 0), ::testing::KilledBySignal(SIGABRT),
              "\\[kFatal op=1 kind=2 site=1 writing=1 outer=0\\].*"
              "fatal error: concurrent map read and map write");
}

TEST(GoMapFatalDeathTest, GetDuringDelete) {
  EXPECT_EXIT(LookupDuring(MapOp::kDelete, 1), ::testing::KilledBySignal(SIGABRT),
              "\\[kFatal op=1 kind=2 site=1 writing=1.*fatal error: concurrent map read and map write");
}

TEST(GoMapFatalDeathTest, ContainsDuringClear) {
  EXPECT_EXIT(LookupDuring(MapOp::kClear, 2), ::testing::KilledBySignal(SIGABRT),
              "\\[kFatal op=1 kind=2 site=1 writing=1.*fatal error: concurrent map read and map write");
}

// ---- iteration -------------------------------------------------------------

void IteratorStepDuringAssign() {
  IntMap& m = *filled(6);
  auto it = m.begin();
  Scenario s;
  s.then = [&](const MapEvent& e) {
    if (is_write_begin(e, MapOp::kAssign)) ++it;
  };
  run(m, s, [&] { m.put(50, 50); });
}

void IteratorStartDuringDelete() {
  IntMap& m = *filled(6);
  Scenario s;
  s.then = [&](const MapEvent& e) {
    if (!is_write_begin(e, MapOp::kDelete)) return;
    for (auto [k, v] : m) std::fprintf(stderr, "%d %d\n", k, v);
  };
  run(m, s, [&] { m.erase(1); });
}

TEST(GoMapFatalDeathTest, IteratorStep) {
  EXPECT_EXIT(IteratorStepDuringAssign(), ::testing::KilledBySignal(SIGABRT),
              "\\[ev 3 op 2\\]\n\\[kFatal op=5 kind=3 site=1 writing=1 outer=0\\].*"
              "fatal error: concurrent map iteration and map write");
}

TEST(GoMapFatalDeathTest, IteratorStart) {
  // mapiterinit sets the bits (kIterStart), then its first mapiternext dies.
  EXPECT_EXIT(IteratorStartDuringDelete(), ::testing::KilledBySignal(SIGABRT),
              "\\[ev 3 op 3\\]\n\\[ev 1 op 5\\]\n\\[kFatal op=5 kind=3 site=1 writing=1 outer=0\\].*"
              "fatal error: concurrent map iteration and map write");
}

// ---- clone -----------------------------------------------------------------

void CloneAtStart() {
  IntMap& m = *filled(6);
  Scenario s;
  s.then = [&](const MapEvent& e) {
    if (is_write_begin(e, MapOp::kAssign)) m.clone();
  };
  run(m, s, [&] { m.put(50, 50); });
}

// mapclone checks per entry only while copying an old bucket whose entries
// spread over several destination buckets: a doubling from B = 2 to 3 in
// progress, with 27 entries (clone B = 3). The clone's own assigns publish
// events; at the first one a writer on the source "starts" (its XOR applied
// to the header), and the next entry's check fails.
void ClonePerEntry() {
  auto* src = new IntMap;
  for (int i = 0; i < 26; ++i) src->put(i, i);
  while (src->growing()) src->erase(-1);
  src->put(26, 26);
  if (!src->growing() || src->B() != 3 || src->size() != 27) {
    std::fprintf(stderr, "precondition failed\n");
    std::_Exit(3);
  }
  // At least two entries left in unevacuated old buckets.
  const abi::MapHeader& h = src->header();
  RawBuckets raw(h);
  int pending = 0;
  for (size_t x = 0; x < 4; ++x) {
    raw.chain(h.oldbuckets, x, [&](const uint8_t* b) {
      for (int i = 0; i < 8; ++i) pending += b[i] >= 5;
    });
  }
  if (pending < 2) {
    std::fprintf(stderr, "precondition failed\n");
    std::_Exit(3);
  }
  Scenario s;
  s.then = [&](const MapEvent& e) {
    if (e.map != reinterpret_cast<uint64_t>(src) && is_write_begin(e, MapOp::kAssign)) {
      src->raw_header()->flags |= abi::kFlagHashWriting;
    }
  };
  run(*src, s, [&] { src->clone(); });
}

TEST(GoMapFatalDeathTest, CloneAtStart) {
  EXPECT_EXIT(CloneAtStart(), ::testing::KilledBySignal(SIGABRT),
              "\\[ev 3 op 2\\]\n\\[kFatal op=6 kind=4 site=1 writing=1 outer=0\\].*"
              "fatal error: concurrent map clone and map write");
}

TEST(GoMapFatalDeathTest, ClonePerEntry) {
  EXPECT_EXIT(ClonePerEntry(), ::testing::KilledBySignal(SIGABRT),
              "\\[ev 3 op 2\\].*\\[kFatal op=6 kind=4 site=3 writing=1 outer=0\\].*"
              "fatal error: concurrent map clone and map write");
}

// ---- what Go does not check --------------------------------------------------

// Go skips the checks of lookups, deletes and clears of an empty map: inside
// the first assign of an empty map they neither die nor write.
TEST(GoMapFatal, OperationsOnEmptyMapSkipTheirChecks) {
  IntMap m;
  Scenario s;
  bool ran = false;
  s.then = [&](const MapEvent& e) {
    if (!is_write_begin(e, MapOp::kAssign)) return;
    EXPECT_EQ(m.find(1), nullptr);
    EXPECT_EQ(m.get(1), 0);
    EXPECT_FALSE(m.erase(1));
    m.clear();
    { auto it = m.begin(); }
    IntMap c = m.clone();
    EXPECT_EQ(c.size(), 0u);
    ran = true;
  };
  s.arm();
  m.put(1, 1);
  rt::set_map_event_observer(nullptr, nullptr);
  EXPECT_TRUE(ran);
  EXPECT_EQ(m.get(1), 1);
  EXPECT_EQ(m.flags(), 0);
}

// Same-thread writes inside a range loop are legal (the seed's section 2.5
// says otherwise): the writer and the iterator are never inside the map at
// the same time.
TEST(GoMapFatal, WriteInsideRangeLoopIsLegal) {
  IntMap m;
  for (int i = 0; i < 100; ++i) m.put(i, i);
  int n = 0;
  for (auto [k, v] : m) {
    if (n++ == 3) m.PutAll({{1000, 1}, {1001, 2}});
    m.erase(k + 1);
    m.put(5000 + n, v);
  }
  EXPECT_GT(n, 0);
}

}  // namespace
}  // namespace backstep::gomap_test
