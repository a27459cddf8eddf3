// Go's runtime/map_test.go, ported. Loop variables are copied at the top of
// each range body, as Go's `for k, v := range m` does: the pair the C++
// iterator yields refers into the map.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gomap/go_map.h"
#include "test_support.h"

namespace backstep::gomap_test {
namespace {

using IntMap = GoMap<int, int>;

TEST(GoMapPorts, NegativeZero) {
  GoMap<double, bool> m(0);
  m.put(+0.0, true);
  m.put(std::copysign(0.0, -1.0), true);  // should overwrite +0 entry
  EXPECT_EQ(m.size(), 1u);
  for (auto [k, v] : m) EXPECT_TRUE(std::signbit(k)) << "wrong sign";

  GoMap<double, bool> n(0);
  n.put(std::copysign(0.0, -1.0), true);
  n.put(+0.0, true);  // should overwrite -0.0 entry
  EXPECT_EQ(n.size(), 1u);
  for (auto [k, v] : n) EXPECT_FALSE(std::signbit(k)) << "wrong sign";
}

void check_map_nan(GoMap<double, int>& m) {
  EXPECT_EQ(m.size(), 3u);
  int s = 0;
  for (auto [k, v] : m) {
    EXPECT_TRUE(k != k) << "nan disappeared";
    EXPECT_EQ(v & (v - 1), 0) << "value wrong";
    s |= v;
  }
  EXPECT_EQ(s, 7) << "values wrong";
}

TEST(GoMapPorts, MapAssignmentNan) {
  GoMap<double, int> m(0);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  m.put(nan, 1);
  m.put(nan, 2);
  m.put(nan, 4);
  check_map_nan(m);
  EXPECT_EQ(m.find(nan), nullptr) << "NaN keys are never found";
  EXPECT_FALSE(m.erase(nan));
  EXPECT_EQ(m.size(), 3u);
}

TEST(GoMapPorts, MapOperatorAssignmentNan) {
  GoMap<double, int> m(0);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  m[nan] += 1;
  m[nan] += 2;
  m[nan] += 4;
  check_map_nan(m);
}

TEST(GoMapPorts, GrowWithNaN) {
  GoMap<double, int> m(4);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  m.put(nan, 1);
  m.put(nan, 2);
  m[nan] += 4;
  int cnt = 0;
  int s = 0;
  bool growflag = true;
  for (auto [kr, vr] : m) {
    const double k = kr;
    const int v = vr;
    if (growflag) {
      // force a hashtable resize
      for (int i = 0; i < 50; ++i) m.put(i, i);
      for (int i = 50; i < 100; ++i) m[i] += i;
      growflag = false;
    }
    if (k != k) {
      cnt++;
      s |= v;
    }
  }
  EXPECT_EQ(cnt, 3) << "NaN keys lost during grow";
  EXPECT_EQ(s, 7) << "NaN values lost during grow";
}

struct FloatInt {
  double x;
  int y;
  bool operator==(const FloatInt& o) const { return x == o.x && y == o.y; }
};
struct FloatIntHash {
  size_t operator()(const FloatInt& f) const {
    return std::hash<double>{}(f.x) * 31 + std::hash<int>{}(f.y);
  }
};

TEST(GoMapPorts, GrowWithNegativeZero) {
  const double negzero = std::copysign(0.0, -1.0);
  GoMap<FloatInt, int, FloatIntHash> m(4);
  m.put({0.0, 0}, 1);
  m[{0.0, 1}] += 2;
  m[{0.0, 2}] += 4;
  m.put({0.0, 3}, 8);
  bool growflag = true;
  int s = 0;
  int cnt = 0;
  int negcnt = 0;
  // The first iteration should return the +0 key; the subsequent ones the -0
  // key (the iterator looks entries up again after the growth).
  for (auto [kr, vr] : m) {
    const FloatInt k = kr;
    const int v = vr;
    if (v == 0) continue;  // ignore entries added to grow table
    cnt++;
    if (std::signbit(k.x)) {
      EXPECT_NE(v & 16, 0) << "key/value not updated together 1";
      negcnt++;
      s |= v & 15;
    } else {
      EXPECT_EQ(v & 16, 0) << "key/value not updated together 2";
      s |= v;
    }
    if (growflag) {
      // force a hashtable resize
      for (int i = 0; i < 100; ++i) m.put({3.0, i}, 0);
      // then change all the entries to negative zero
      m.put({negzero, 0}, 1 | 16);
      m.put({negzero, 1}, 2 | 16);
      m.put({negzero, 2}, 4 | 16);
      m.put({negzero, 3}, 8 | 16);
      growflag = false;
    }
  }
  EXPECT_EQ(s, 15) << "entry missing";
  EXPECT_EQ(cnt, 4) << "wrong number of entries returned by iterator";
  EXPECT_EQ(negcnt, 3) << "update to negzero missed by iteration";
}

TEST(GoMapPorts, IterGrowAndDelete) {
  IntMap m(4);
  for (int i = 0; i < 100; ++i) m.put(i, i);
  bool growflag = true;
  for (auto [kr, vr] : m) {
    const int k = kr;
    if (growflag) {
      // grow the table
      for (int i = 100; i < 1000; ++i) m.put(i, i);
      // delete all odd keys
      for (int i = 1; i < 1000; i += 2) m.erase(i);
      growflag = false;
    } else {
      EXPECT_EQ(k & 1, 0) << "odd value returned";
    }
  }
}

// Go: make sure old bucket arrays don't get GCd while an iterator is still
// using them. Here: the iterator's reference keeps the arrays (and the
// evacuated entries in them) alive after the growths have finished.
TEST(GoMapPorts, IterGrowWithGC) {
  IntMap m(4);
  for (int i = 0; i < 8; ++i) m.put(i, i);
  for (int i = 8; i < 16; ++i) m[i] += i;
  bool growflag = true;
  int bitmask = 0;
  for (auto [kr, vr] : m) {
    const int k = kr;
    if (k < 16) bitmask |= 1 << k;
    if (growflag) {
      // grow the table
      for (int i = 100; i < 1000; ++i) m.put(i, i);
      // Go triggers a GC here; the equivalent danger is the old arrays
      // being freed when the growths finish.
      while (m.growing()) m.erase(-1);
      EXPECT_EQ(m.old_bucket_count(), 0u);
      growflag = false;
    }
  }
  EXPECT_EQ(bitmask, (1 << 16) - 1) << "missing key";
}

// Concurrent readers (range loops and lookups) are legal in Go; the readers
// here are real threads, each growth step is made by the main thread with no
// reader running.
TEST(GoMapPorts, ConcurrentReadsAfterGrowth) {
  const int num_loop = 2;
  const int num_grow_step = 120;
  const int num_reader = 4;
  for (int i = 0; i < num_loop; ++i) {
    IntMap m(0);
    for (int gs = 0; gs < num_grow_step; ++gs) {
      m.put(gs, gs);
      std::vector<std::thread> readers;
      std::atomic<long> bad{0};
      for (int nr = 0; nr < num_reader; ++nr) {
        readers.emplace_back([&] {
          int n = 0;
          for (auto [k, v] : m) n += (k == v);
          if (n != gs + 1) bad++;
        });
        readers.emplace_back([&, gs] {
          for (int key = 0; key < gs; ++key) {
            if (m.get(key) != key) bad++;
          }
        });
      }
      for (auto& t : readers) t.join();
      ASSERT_EQ(bad.load(), 0) << "step " << gs;
      ASSERT_EQ(m.header().live_iterators, 0);
    }
  }
}

TEST(GoMapPorts, BigItems) {
  using Big = std::array<std::string, 256>;
  struct BigHash {
    size_t operator()(const Big& b) const {
      size_t h = 0;
      for (const std::string& s : b) h = h * 1099511628211ull + std::hash<std::string>{}(s);
      return h;
    }
  };
  Big key;
  key.fill("foo");
  GoMap<Big, Big, BigHash> m(4);
  for (int i = 0; i < 100; ++i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "string%02d", i);
    key[37] = buf;
    m.put(key, key);
  }
  std::vector<std::string> keys;
  std::vector<std::string> values;
  for (auto [k, v] : m) {
    keys.push_back(k[37]);
    values.push_back(v[37]);
  }
  std::sort(keys.begin(), keys.end());
  std::sort(values.begin(), values.end());
  ASSERT_EQ(keys.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "string%02d", i);
    EXPECT_EQ(keys[static_cast<size_t>(i)], buf) << "missing key";
    EXPECT_EQ(values[static_cast<size_t>(i)], buf) << "missing value";
  }
}

TEST(GoMapPorts, MapHugeZero) {
  using T = std::array<unsigned char, 4000>;
  GoMap<int, T> m;
  T x = m.get(0);
  EXPECT_EQ(x, T{}) << "map value not zero";
  EXPECT_EQ(m.find(0), nullptr) << "map value should be missing";
}

struct Empty {
  bool operator==(const Empty&) const { return true; }
};
struct EmptyHash {
  size_t operator()(const Empty&) const { return 0; }
};

TEST(GoMapPorts, EmptyKeyAndValue) {
  GoMap<int, Empty> a(4);
  GoMap<Empty, int, EmptyHash> b(4);
  GoMap<Empty, Empty, EmptyHash> c(4);
  a.put(0, Empty{});
  b.put(Empty{}, 0);
  b.put(Empty{}, 1);
  c.put(Empty{}, Empty{});
  EXPECT_EQ(a.size(), 1u) << "empty value insert problem";
  EXPECT_EQ(b.size(), 1u) << "empty key insert problem";
  EXPECT_EQ(c.size(), 1u) << "empty key+value insert problem";
  EXPECT_EQ(b.get(Empty{}), 1) << "empty key returned wrong value";
}

void check_lookups(GoMap<std::string, std::string>& m) {
  for (auto [k, v] : m) EXPECT_EQ(m.get(k), v);
}

TEST(GoMapPorts, SingleBucketMapStringKeysDupLen) {
  GoMap<std::string, std::string> m;
  m.PutAll({{"x", "x1val"},
            {"xx", "x2val"},
            {"foo", "fooval"},
            {"bar", "barval"},  // same key length as "foo"
            {"xxxx", "x4val"},
            {std::string(128, 'x'), "longval1"},
            {std::string(128, 'y'), "longval2"}});
  EXPECT_EQ(m.B(), 0);
  check_lookups(m);
}

TEST(GoMapPorts, SingleBucketMapStringKeysNoDupLen) {
  GoMap<std::string, std::string> m;
  m.PutAll({{"x", "x1val"},
            {"xx", "x2val"},
            {"foo", "fooval"},
            {"xxxx", "x4val"},
            {"xxxxx", "x5val"},
            {"xxxxxx", "x6val"},
            {std::string(128, 'x'), "longval"}});
  check_lookups(m);
}

// Tests whether the iterator returns the right elements when started in the
// middle of a grow, when the keys are NaNs.
TEST(GoMapPorts, MapNanGrowIterator) {
  GoMap<double, int> m;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const int n_buckets = 16;
  // To fill n_buckets buckets takes LOAD * n_buckets keys.
  const int n_keys = static_cast<int>(n_buckets * 6.5);

  // Get map to full point with nan keys.
  for (int i = 0; i < n_keys; ++i) m.put(nan, i);
  // Trigger grow
  m.put(1.0, 1);
  m.erase(1.0);
  ASSERT_TRUE(m.growing());

  // Run iterator
  std::set<int> found;
  for (auto [kr, vr] : m) {
    const int v = vr;
    if (v != -1) {
      ASSERT_EQ(found.count(v), 0u) << "repeat of value " << v;
      found.insert(v);
    }
    if (found.size() == static_cast<size_t>(n_keys / 2)) {
      // Halfway through iteration, finish grow.
      for (int i = 0; i < n_buckets; ++i) m.erase(1.0);
    }
  }
  EXPECT_EQ(found.size(), static_cast<size_t>(n_keys)) << "missing value";
}

TEST(GoMapPorts, MapIterOrder) {
  for (int n : {3, 7, 9, 15}) {
    for (int i = 0; i < 1000; ++i) {
      // Make m be {0: true, 1: true, ..., n-1: true}.
      GoMap<int, bool> m;
      for (int j = 0; j < n; ++j) m.put(j, true);
      // Check that iterating over the map produces at least two different orderings.
      auto ord = [&m] {
        std::vector<int> s;
        for (auto [k, v] : m) s.push_back(k);
        return s;
      };
      const std::vector<int> first = ord();
      bool ok = false;
      for (int t = 0; t < 100; ++t) {
        if (first != ord()) {
          ok = true;
          break;
        }
      }
      ASSERT_TRUE(ok) << "Map with n=" << n << " elements had consistent iteration order";
    }
  }
}

// Go issue 8410.
TEST(GoMapPorts, MapSparseIterOrder) {
  for (int round = 0; round < 10; ++round) {
    GoMap<int, bool> m;
    // Add 1000 items, remove 980.
    for (int i = 0; i < 1000; ++i) m.put(i, true);
    for (int i = 20; i < 1000; ++i) m.erase(i);
    std::vector<int> first;
    for (auto [k, v] : m) first.push_back(k);
    // 800 chances to get a different iteration order (Go bug 8736).
    bool changed = false;
    for (int n = 0; n < 800 && !changed; ++n) {
      size_t idx = 0;
      for (auto [k, v] : m) {
        if (k != first[idx]) {
          changed = true;
          break;
        }
        idx++;
      }
    }
    ASSERT_TRUE(changed) << "constant iteration order on round " << round;
  }
}

// Map iteration must not return duplicate entries.
TEST(GoMapPorts, MapIterDuplicate) {
  for (int round = 0; round < 1000; ++round) {
    GoMap<int, bool> m;
    // Add 1000 items, remove 980.
    for (int i = 0; i < 1000; ++i) m.put(i, true);
    for (int i = 20; i < 1000; ++i) m.erase(i);
    std::vector<int> got;
    for (auto [k, v] : m) got.push_back(k);
    std::sort(got.begin(), got.end());
    std::vector<int> want;
    for (int i = 0; i < 20; ++i) want.push_back(i);
    ASSERT_EQ(got, want) << "round " << round;
  }
}

TEST(GoMapPorts, MapIterDeleteReplace) {
  for (int i = 0; i < 10000; i += 37) {
    GoMap<int, bool> m;
    for (int j = 0; j < i; ++j) m.put(j, false);
    // Delete and replace all entries.
    for (auto [kr, vr] : m) {
      const int k = kr;  // kr refers to the cell the delete destroys
      m.erase(k);
      m.put(k, true);
    }
    for (auto [k, v] : m) EXPECT_TRUE(v) << "m[" << k << "] got false want true";
    EXPECT_EQ(m.size(), static_cast<size_t>(i));
  }
}

// Go issue 25936.
TEST(GoMapPorts, IncrementAfterDeleteValueInt) {
  GoMap<int, int> m;
  m.put(12, 99);
  m.erase(12);
  m[13]++;
  EXPECT_EQ(m.get(13), 1) << "incremented 0 to " << m.get(13);
}

TEST(GoMapPorts, IncrementAfterDeleteValueInt32) {
  GoMap<int, int32_t> m;
  m.put(12, 99);
  m.erase(12);
  m[13]++;
  EXPECT_EQ(m.get(13), 1);
}

TEST(GoMapPorts, IncrementAfterDeleteValueInt64) {
  GoMap<int, int64_t> m;
  m.put(12, 99);
  m.erase(12);
  m[13]++;
  EXPECT_EQ(m.get(13), 1);
}

TEST(GoMapPorts, IncrementAfterDeleteKeyStringValueInt) {
  GoMap<std::string, int> m;
  m.put("", 99);
  m.erase("");
  m["x"] += 1;
  EXPECT_EQ(m.get("x"), 1);
}

TEST(GoMapPorts, IncrementAfterDeleteKeyValueString) {
  GoMap<std::string, std::string> m;
  m.put("", "99");
  m.erase("");
  m["x"] += "1";
  EXPECT_EQ(m.get("x"), "1") << "appended '1' to empty (nil) string";
}

// mapclear (here: deletes inside a range loop, which Go compiles to mapclear).
TEST(GoMapPorts, IncrementAfterBulkClearKeyStringValueInt) {
  GoMap<std::string, int> m;
  m.put("", 99);
  for (auto [kr, vr] : m) {
    const std::string k = kr;
    m.erase(k);
  }
  m["x"]++;
  EXPECT_EQ(m.get(""), 0) << "deleted key1 has value";
  EXPECT_EQ(m.get("x"), 1);

  GoMap<std::string, int> c;
  c.put("", 99);
  c.clear();
  c["x"]++;
  EXPECT_EQ(c.get(""), 0);
  EXPECT_EQ(c.get("x"), 1);
}

TEST(GoMapPorts, LoadFactor) {
  for (uint8_t b = 0; b < 20; ++b) {
    uint64_t count = 13 * (uint64_t{1} << b) / 2;  // 6.5
    if (b == 0) count = 8;
    EXPECT_FALSE(IntMap::over_load_factor(count, b)) << count << "," << int{b};
    EXPECT_TRUE(IntMap::over_load_factor(count + 1, b)) << count + 1 << "," << int{b};
  }
}

TEST(GoMapPorts, MapBuckets) {
  // n, expected bucket count (Go's table; its negative hints do not apply).
  const std::pair<size_t, size_t> tests[] = {{0, 1}, {1, 1}, {8, 1}, {9, 2}, {13, 2}, {14, 4}, {26, 4}};
  for (const auto& [n, want] : tests) {
    IntMap nohint;
    for (size_t i = 0; i < n; ++i) nohint.put(static_cast<int>(i), static_cast<int>(i));
    EXPECT_EQ(nohint.bucket_count(), want) << "nohint n=" << n;

    IntMap hinted(n);
    EXPECT_EQ(hinted.bucket_count(), want) << "makemap hint=" << n;
    EXPECT_EQ(hinted.header().buckets != 0, want > 1)
        << "buckets allocated up front only when the hint needs more than one";
    for (size_t i = 0; i < n; ++i) hinted.put(static_cast<int>(i), static_cast<int>(i));
    EXPECT_EQ(hinted.bucket_count(), want) << "makemap n=" << n;
    EXPECT_FALSE(hinted.growing());
  }
  EXPECT_EQ(IntMap(27).B(), 3);
  EXPECT_EQ(IntMap(size_t{1} << 62).B(), 0) << "a hint too big to allocate is ignored";
}

// Make sure emptyOne and emptyRest are distributed correctly: a series of
// filled and emptyOne cells, then a series of emptyRest cells.
void tombstone_check(const IntMap& m) {
  const abi::MapHeader& h = m.header();
  RawBuckets raw(h);
  for (size_t x = 0; x < (size_t{1} << h.B); ++x) {
    size_t n = 0;
    raw.chain(h.buckets, x, [&](const uint8_t* b) {
      for (int i = 0; i < 8; ++i) n += b[i] != 0;
    });
    size_t k = 0;
    raw.chain(h.buckets, x, [&](const uint8_t* b) {
      for (int i = 0; i < 8; ++i) {
        if (k < n) {
          ASSERT_NE(b[i], 0) << "early emptyRest";
        } else {
          ASSERT_EQ(b[i], 0) << "late non-emptyRest";
        }
        if (k + 1 == n) {
          ASSERT_NE(b[i], 1) << "last non-emptyRest entry is emptyOne";
        }
        k++;
      }
    });
  }
}

TEST(GoMapPorts, MapTombstones) {
  IntMap m;
  const int n = 10000;
  // Fill a map.
  for (int i = 0; i < n; ++i) m.put(i, i);
  tombstone_check(m);
  // Delete half of the entries.
  for (int i = 0; i < n; i += 2) m.erase(i);
  tombstone_check(m);
  // Add new entries to fill in holes.
  for (int i = n; i < 3 * n / 2; ++i) m.put(i, i);
  tombstone_check(m);
  // Delete everything.
  for (int i = 0; i < 3 * n / 2; ++i) m.erase(i);
  tombstone_check(m);
  EXPECT_EQ(m.size(), 0u);
}

}  // namespace
}  // namespace backstep::gomap_test
