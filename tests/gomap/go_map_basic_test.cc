// The map's API, object lifetimes, iteration guarantees, PutAll and clone.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gomap/go_map.h"
#include "test_support.h"

namespace backstep::gomap_test {
namespace {

using IntMap = GoMap<int, int>;
using StrMap = GoMap<std::string, std::string>;

template <class M>
std::map<typename M::key_type, typename M::mapped_type> contents(M& m) {
  std::map<typename M::key_type, typename M::mapped_type> out;
  for (auto [k, v] : m) {
    EXPECT_TRUE(out.emplace(k, v).second) << "duplicate key in iteration";
  }
  return out;
}

// Drives an in-progress growth to its end: a delete of an absent key
// evacuates like any delete.
template <class M, class K>
void finish_growth(M& m, const K& absent) {
  while (m.growing()) m.erase(absent);
}

TEST(GoMapBasic, EmptyMap) {
  IntMap m;
  EXPECT_EQ(m.size(), 0u);
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.find(1), nullptr);
  EXPECT_EQ(m.get(1), 0);
  EXPECT_FALSE(m.contains(1));
  EXPECT_FALSE(m.erase(1));
  m.clear();
  for (auto [k, v] : m) ADD_FAILURE() << k << v;
  EXPECT_EQ(m.B(), 0);
  EXPECT_EQ(m.bucket_count(), 1u);
  EXPECT_EQ(m.header().buckets, 0u) << "B = 0 buckets are allocated by the first assign";
  EXPECT_EQ(m.flags(), 0) << "ranging over an empty map sets no bits";
}

TEST(GoMapBasic, HeaderDescribesTheLayout) {
  IntMap m;
  m.put(1, 2);
  const abi::MapHeader& h = m.header();
  EXPECT_EQ(static_cast<const void*>(&h), static_cast<const void*>(&m)) << "header is the first member";
  EXPECT_EQ(h.magic, abi::kMapHeaderMagic);
  EXPECT_EQ(h.key_size, sizeof(int));
  EXPECT_EQ(h.value_size, sizeof(int));
  EXPECT_EQ(h.key_offset, 8u);
  EXPECT_EQ(h.value_offset, 8u + 8 * sizeof(int));
  EXPECT_EQ(h.bucket_size, 8u + 16 * sizeof(int) + 8);
  EXPECT_EQ(h.count, 1u);
  EXPECT_NE(h.buckets, 0u);
  EXPECT_EQ(h.oldbuckets, 0u);

  // A tracer reads the entry from the raw bucket.
  RawBuckets raw(h);
  const uint8_t* b = raw.bucket(h.buckets, 0);
  int found = 0;
  for (int i = 0; i < 8; ++i) {
    if (b[i] >= 5) {
      int k, v;
      std::memcpy(&k, b + h.key_offset + i * h.key_size, sizeof k);
      std::memcpy(&v, b + h.value_offset + i * h.value_size, sizeof v);
      EXPECT_EQ(k, 1);
      EXPECT_EQ(v, 2);
      ++found;
    }
  }
  EXPECT_EQ(found, 1);
  EXPECT_EQ(raw.overflow(b), nullptr);

  // Odd sizes and alignments keep the overflow pointer as the last word.
  struct alignas(16) Wide {
    char c[24];
    bool operator==(const Wide&) const = default;
  };
  struct WideHash {
    size_t operator()(const Wide&) const { return 0; }
  };
  GoMap<Wide, char, WideHash> w;
  EXPECT_EQ(w.header().bucket_size % 16, 0u);
  EXPECT_EQ(w.header().key_offset, 16u);
  EXPECT_EQ(w.header().value_offset, 16u + 8 * 32);
  EXPECT_EQ(w.header().value_size, 1u);
}

TEST(GoMapBasic, PutFindEraseOverwrite) {
  IntMap m;
  for (int i = 0; i < 1000; ++i) m.put(i, i * 10);
  EXPECT_EQ(m.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_NE(m.find(i), nullptr) << i;
    EXPECT_EQ(*m.find(i), i * 10);
    EXPECT_EQ(m.get(i), i * 10);
    EXPECT_TRUE(m.contains(i));
  }
  EXPECT_EQ(m.find(1000), nullptr);
  EXPECT_EQ(m.get(-1), 0);
  for (int i = 0; i < 1000; i += 3) m.put(i, -i);
  EXPECT_EQ(m.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(m.get(i), i % 3 == 0 ? -i : i * 10);
  for (int i = 0; i < 1000; i += 2) EXPECT_TRUE(m.erase(i));
  for (int i = 0; i < 1000; i += 2) EXPECT_FALSE(m.erase(i));
  EXPECT_EQ(m.size(), 500u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(m.contains(i), i % 2 == 1);
  *m.find(1) = 77;
  EXPECT_EQ(m.get(1), 77);
  m[1] += 1;
  m[2] += 5;  // absent: starts from the zero value
  EXPECT_EQ(m.get(1), 78);
  EXPECT_EQ(m.get(2), 5);
  m.clear();
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.find(1), nullptr);
  m.put(5, 5);
  EXPECT_EQ(m.get(5), 5);
}

TEST(GoMapBasic, StringKeysAndValues) {
  StrMap m;
  std::unordered_map<std::string, std::string> model;
  auto key = [](int i) { return "key-" + std::to_string(i) + std::string(static_cast<size_t>(i % 40), 'k'); };
  auto val = [](int i, int gen) {
    return "value-" + std::to_string(i) + "-" + std::to_string(gen) + std::string(static_cast<size_t>(i % 50), 'v');
  };
  for (int i = 0; i < 3000; ++i) {
    m.put(key(i), val(i, 0));
    model[key(i)] = val(i, 0);
  }
  for (int i = 0; i < 3000; i += 7) {
    m.put(key(i), val(i, 1));
    model[key(i)] = val(i, 1);
  }
  for (int i = 0; i < 3000; i += 5) {
    EXPECT_EQ(m.erase(key(i)), model.erase(key(i)) == 1);
  }
  ASSERT_EQ(m.size(), model.size());
  for (const auto& [k, v] : model) {
    const std::string* got = m.find(k);
    ASSERT_NE(got, nullptr) << k;
    EXPECT_EQ(*got, v);
  }
  EXPECT_EQ(m.get("absent"), "");
  auto seen = contents(m);
  EXPECT_EQ(seen, (std::map<std::string, std::string>(model.begin(), model.end())));

  StrMap c = m.clone();
  EXPECT_EQ(contents(c), seen);
  m.clear();
  EXPECT_EQ(c.size(), model.size()) << "a clone is independent";
  EXPECT_EQ(m.size(), 0u);
}

TEST(GoMapBasic, PutAllFromRangesAndInitializerList) {
  IntMap m;
  std::vector<std::pair<int, int>> v{{1, 10}, {2, 20}, {3, 30}};
  m.PutAll(v);
  std::map<int, int> sm{{3, 33}, {4, 40}};
  m.PutAll(sm);
  m.PutAll({{5, 50}, {1, 11}});
  EXPECT_EQ(contents(m), (std::map<int, int>{{1, 11}, {2, 20}, {3, 33}, {4, 40}, {5, 50}}));

  StrMap s;
  s.PutAll({{"a", "x"}, {"b", "y"}});
  EXPECT_EQ(s.get("a"), "x");
  EXPECT_EQ(s.get("b"), "y");
}

TEST(GoMapBasic, PutAllIsOnePutPerEntry) {
  IntMap m;
  m.put(0, 0);
  EventRecorder rec;
  m.PutAll({{1, 1}, {2, 2}, {1, 3}});
  m.put(9, 9);
  auto ev = rec.for_map(&m);
  ASSERT_EQ(ev.size(), 8u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(op_of(ev[i]), MapOp::kAssign);
    EXPECT_EQ(static_cast<MapOp>(ev[i].outer_op), MapOp::kPutAll) << i;
    EXPECT_EQ(kind_of(ev[i]), i % 2 == 0 ? MapEventKind::kWriteBegin : MapEventKind::kWriteEnd);
  }
  EXPECT_EQ(static_cast<MapOp>(ev[6].outer_op), MapOp::kNone);
  EXPECT_EQ(ev[1].count, 2u) << "each put is visible as soon as it is done";
}

TEST(GoMapBasic, OperatorIndexInsertsZeroValue) {
  GoMap<int, std::string> m;
  m[1] += "a";
  m[1] += "b";
  EXPECT_EQ(m.get(1), "ab");
  EXPECT_EQ(m.size(), 1u);
}

TEST(GoMapBasic, MoveLeavesAnEmptyMap) {
  IntMap a;
  for (int i = 0; i < 100; ++i) a.put(i, i);
  IntMap b(std::move(a));
  EXPECT_EQ(b.size(), 100u);
  EXPECT_EQ(b.get(42), 42);
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(a.find(42), nullptr);
  a.put(1, 1);
  EXPECT_EQ(a.get(1), 1);
  a = std::move(b);
  EXPECT_EQ(a.size(), 100u);
  EXPECT_EQ(a.header().magic, abi::kMapHeaderMagic);
}

TEST(GoMapBasic, DestructorMagicAndLiveIterators) {
  void* storage = ::operator new(sizeof(IntMap));
  auto* m = new (storage) IntMap;
  m->put(1, 1);
  m->put(2, 2);
  EXPECT_EQ(m->header().live_iterators, 0);
  {
    auto it = m->begin();
    EXPECT_EQ(m->header().live_iterators, 1);
    auto it2 = std::move(it);
    EXPECT_EQ(m->header().live_iterators, 1);
    auto e = m->begin();
    EXPECT_EQ(m->header().live_iterators, 2);
    while (!e.at_end()) ++e;
    EXPECT_EQ(m->header().live_iterators, 2) << "counted until destroyed, not until done";
  }
  EXPECT_EQ(m->header().live_iterators, 0);
  EXPECT_EQ(m->flags() & (abi::kFlagIterator | abi::kFlagOldIterator),
            abi::kFlagIterator | abi::kFlagOldIterator)
      << "nothing clears the iterator bits when an iteration ends";
  const volatile uint64_t* magic = &m->raw_header()->magic;
  m->~IntMap();
  asm volatile("" ::: "memory");  // what a tracer sees in the dead object's memory
  const uint64_t after = *magic;
  ::operator delete(storage);
  EXPECT_EQ(after, 0u);
}

TEST(GoMapBasic, ConstMapIteration) {
  IntMap m;
  for (int i = 0; i < 50; ++i) m.put(i, i * 2);
  const IntMap& cm = m;
  long sum = 0;
  int n = 0;
  for (auto [k, v] : cm) {
    static_assert(std::is_same_v<decltype(v), const int&>);
    sum += v - 2 * k;
    ++n;
  }
  EXPECT_EQ(n, 50);
  EXPECT_EQ(sum, 0);
  EXPECT_EQ(cm.get(7), 14);
  EXPECT_TRUE(cm.contains(7));
}

TEST(GoMapBasic, ValuesCanBeModifiedThroughTheIterator) {
  IntMap m;
  for (int i = 0; i < 100; ++i) m.put(i, i);
  for (auto [k, v] : m) v = k * 3;
  for (int i = 0; i < 100; ++i) EXPECT_EQ(m.get(i), i * 3);
}

// Every object is constructed and destroyed exactly once, including the old
// entries that evacuation keeps alive for iterators, across clear and clone.
TEST(GoMapBasic, ObjectLifetimes) {
  Tracked::live = 0;
  Tracked::errors = 0;
  {
    GoMap<Tracked, Tracked, TrackedHash> m;
    for (long i = 0; i < 500; ++i) m.put(Tracked(i), Tracked(i));
    EXPECT_EQ(Tracked::live, 1000);
    {
      auto it = m.begin();  // keeps old arrays (and their entries) alive
      const long first = it.key().value;
      for (long i = 500; i < 3000; ++i) m.put(Tracked(i), Tracked(-i));
      for (long i = 0; i < 3000; i += 2) m.erase(Tracked(i));
      EXPECT_GT(Tracked::live, 3000) << "old entries kept for the iterator";
      long n = 0;
      for (++it; !it.at_end(); ++it) {
        EXPECT_EQ(it.key().value % 2, 1) << "deleted before reached";
        EXPECT_NE(it.key().value, first);
        ++n;
      }
      EXPECT_GT(n, 0);
    }
    finish_growth(m, Tracked(-1));
    EXPECT_EQ(Tracked::live, 3000) << "released with the iterator and the growth";
    auto c = m.clone();
    EXPECT_EQ(Tracked::live, 6000);
    m.clear();
    EXPECT_EQ(Tracked::live, 3000);
    for (long i = 0; i < 100; ++i) m.put(Tracked(i), Tracked(i));
    {
      auto it = c.begin();
      c.clear();  // with an iterator on the array
      EXPECT_EQ(Tracked::live, 200);
      for (++it; !it.at_end(); ++it) ADD_FAILURE() << "entry after clear";
    }
  }
  EXPECT_EQ(Tracked::live, 0);
  EXPECT_EQ(Tracked::errors, 0);
}

// Go spec: an entry present for the whole iteration is returned exactly
// once; one removed before it is reached is not returned.
TEST(GoMapIteration, EveryEntryExactlyOnceAcrossGrowth) {
  for (int round = 0; round < 50; ++round) {
    IntMap m;
    const int n = 5 + round * 37;
    for (int i = 0; i < n; ++i) m.put(i, i);
    std::map<int, int> returned;
    std::set<int> deleted;
    int step = 0;
    int next_key = 100000;
    for (auto [k, v] : m) {
      const int key = k;
      const int value = v;
      returned[key]++;
      EXPECT_EQ(deleted.count(key), 0u) << "deleted before it was reached";
      if (key < n) {
        EXPECT_EQ(value, key);
      }
      // Writes between steps: several growths, and deletes of keys not yet returned.
      for (int j = 0; j < 3 + round; ++j) m.put(next_key++, 0);
      if (step % 4 == 0) {
        for (int d = n - 1 - step; d >= 0 && d > n - 3 - step; --d) {
          if (returned.count(d) == 0 && m.erase(d)) deleted.insert(d);
        }
      }
      ++step;
    }
    for (int i = 0; i < n; ++i) {
      if (deleted.count(i) != 0) {
        EXPECT_EQ(returned.count(i), 0u) << i;
      } else {
        EXPECT_EQ(returned[i], 1) << "round " << round << " key " << i;
      }
    }
    for (const auto& [k, c] : returned) EXPECT_EQ(c, 1) << k;
  }
}

TEST(GoMapIteration, IteratorStartedDuringGrowth) {
  for (int round = 0; round < 200; ++round) {
    IntMap m;
    const int n = 27 + round;
    for (int i = 0; i < n; ++i) {
      m.put(i, i);
      if (m.growing() && i > 20) break;
    }
    if (!m.growing()) continue;
    std::map<int, int> want;
    for (auto [k, v] : m) want[k] = v;  // (does not advance the growth)
    ASSERT_TRUE(m.growing());
    std::map<int, int> got;
    int step = 0;
    for (auto [k, v] : m) {
      EXPECT_TRUE(got.emplace(k, v).second) << "duplicate " << k;
      if (step++ % 2 == 0) m.erase(-1);  // evacuates while the iterator walks old buckets
    }
    EXPECT_EQ(got, want);
  }
}

TEST(GoMapIteration, WritesInsideRangeLoopAreLegal) {
  IntMap m;
  for (int i = 0; i < 200; ++i) m.put(i, i);
  int steps = 0;
  for (auto [k, v] : m) {
    const int key = k;
    m.put(key + 1000, v);
    m.erase(key);
    m.put(key, -1);
    ++steps;
  }
  EXPECT_GE(steps, 200);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(m.get(i), -1);
  EXPECT_EQ(m.flags() & abi::kFlagHashWriting, 0);
}

TEST(GoMapIteration, IteratorSurvivesClearAndDestroyAnytime) {
  IntMap m;
  for (int i = 0; i < 100; ++i) m.put(i, i);
  {
    auto it = m.begin();
    ++it;
    m.clear();
    ++it;
    EXPECT_TRUE(it.at_end()) << "clear marks the buckets empty";
    m.put(1, 1);
  }
  for (int len = 0; len < 60; ++len) {
    auto it = m.begin();
    for (int i = 0; i < len && !it.at_end(); ++i) {
      ++it;
      m.put(1000 + len * 100 + i, i);
    }
  }
  EXPECT_EQ(m.header().live_iterators, 0);
}

TEST(GoMapIteration, OrderDependsOnRandomStart) {
  IntMap m;
  for (int i = 0; i < 100; ++i) m.put(i, i);
  std::set<std::vector<int>> orders;
  for (int t = 0; t < 20; ++t) {
    std::vector<int> order;
    for (auto [k, v] : m) order.push_back(k);
    orders.insert(order);
  }
  EXPECT_GT(orders.size(), 1u);
}

TEST(GoMapClone, SmallMediumAndGrowing) {
  for (int n : {0, 1, 5, 8, 9, 100, 1000}) {
    IntMap m;
    for (int i = 0; i < n; ++i) m.put(i, i * 7);
    IntMap c = m.clone();
    EXPECT_EQ(c.flags(), 0) << "a clone starts with no flags";
    EXPECT_EQ(c.size(), static_cast<size_t>(n));
    EXPECT_EQ(contents(c), contents(m));
    EXPECT_EQ(c.header().hash0, m.header().hash0) << "mapclone keeps the seed";
    c.put(-1, -1);
    EXPECT_FALSE(m.contains(-1));
  }
  // Clone in every phase of a doubling growth and of same-size growths.
  IntMap m;
  uint64_t clones_while_growing = 0;
  for (int i = 0; i < 5000; ++i) {
    m.put(i, i);
    if (i % 3 == 0 && i > 30) m.erase(i - 30);
    if (m.growing() || i % 97 == 0) {
      clones_while_growing += m.growing();
      IntMap c = m.clone();
      ASSERT_EQ(c.size(), m.size()) << i;
      for (auto [k, v] : c) ASSERT_EQ(m.get(k), v);
    }
  }
  EXPECT_GT(clones_while_growing, 10u);
}

}  // namespace
}  // namespace backstep::gomap_test
