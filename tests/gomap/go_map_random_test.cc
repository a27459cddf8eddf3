// Randomized operation sequences checked against std::unordered_map, with
// fixed seeds for the operations (the map's own seed and iteration starts
// come from the runtime's random source and vary from run to run).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "gomap/go_map.h"
#include "test_support.h"

namespace backstep::gomap_test {
namespace {

template <class M, class Model>
void expect_same_contents(M& m, const Model& model, const char* what) {
  ASSERT_EQ(m.size(), model.size()) << what;
  size_t n = 0;
  std::unordered_set<typename Model::key_type> seen;
  for (auto [k, v] : m) {
    auto it = model.find(k);
    ASSERT_NE(it, model.end()) << what << ": iteration returned a key not in the model";
    ASSERT_EQ(it->second, v) << what;
    ASSERT_TRUE(seen.insert(k).second) << what << ": duplicate key";
    ++n;
  }
  ASSERT_EQ(n, model.size()) << what << ": iteration missed entries";
}

template <class M>
void expect_quiet(const M& m) {
  ASSERT_EQ(m.flags() & abi::kFlagHashWriting, 0);
  ASSERT_EQ(m.header().magic, abi::kMapHeaderMagic);
  if (!m.growing()) {
    ASSERT_EQ(m.flags() & abi::kFlagSameSizeGrow, 0);
  }
}

// A phase drives the size towards `target` (an absolute size, or when
// negative: that many entries below the load-factor limit of the current B,
// so that the map churns at full load without doubling) while mixing in
// overwrites, lookups and deletes of absent keys.
struct Phase {
  int ops;
  long target;
  int overwrite;  // weights, out of 100; the rest are inserts/deletes
  int lookup;
  int erase_absent;
};

// Inserted keys are even (and spread: the map must not depend on std::hash
// being the identity); absent keys are odd.
uint64_t model_key(uint64_t n) { return (n * 0x9e3779b97f4a7c15ull) << 1; }

void run_model(uint64_t seed, const std::vector<Phase>& phases) {
  std::mt19937_64 rng(seed);
  GoMap<uint64_t, uint64_t> m;
  std::unordered_map<uint64_t, uint64_t> model;
  std::vector<uint64_t> keys;  // the model's keys, for picking existing ones
  std::unordered_map<uint64_t, size_t> pos;
  auto add_key = [&](uint64_t k) {
    pos[k] = keys.size();
    keys.push_back(k);
  };
  auto remove_key = [&](uint64_t k) {
    size_t i = pos[k];
    pos[keys.back()] = i;
    keys[i] = keys.back();
    keys.pop_back();
    pos.erase(k);
  };
  uint64_t next_key = 1;
  uint64_t op_index = 0;
  for (const Phase& ph : phases) {
    const long limit = 13 * (1l << m.B()) / 2;
    const size_t target = static_cast<size_t>(ph.target >= 0 ? ph.target : limit + ph.target);
    for (int n = 0; n < ph.ops; ++n, ++op_index) {
      int r = static_cast<int>(rng() % 100);
      const uint64_t value = rng();
      if ((r -= ph.overwrite) < 0) {
        if (keys.empty()) continue;
        const uint64_t k = keys[rng() % keys.size()];
        m.put(k, value);
        model[k] = value;
      } else if ((r -= ph.lookup) < 0) {
        if (!keys.empty() && (value & 1)) {
          const uint64_t k = keys[rng() % keys.size()];
          const uint64_t* got = m.find(k);
          ASSERT_NE(got, nullptr);
          ASSERT_EQ(*got, model[k]);
          ASSERT_EQ(m.get(k), model[k]);
        } else {
          const uint64_t k = model_key(next_key);  // not inserted yet
          ASSERT_EQ(m.find(k), nullptr);
          ASSERT_FALSE(m.contains(k));
        }
      } else if ((r -= ph.erase_absent) < 0) {
        ASSERT_FALSE(m.erase(value | 1));
      } else {
        // Towards the target: mostly inserts below it, mostly deletes above.
        const bool below = model.size() < target;
        const bool insert = (rng() % 10 < 9) == below;
        if (insert || keys.empty()) {
          const uint64_t k = model_key(next_key++);
          m.put(k, value);
          model[k] = value;
          add_key(k);
        } else {
          const uint64_t k = keys[rng() % keys.size()];
          ASSERT_TRUE(m.erase(k));
          model.erase(k);
          remove_key(k);
        }
      }
      ASSERT_EQ(m.size(), model.size()) << "op " << op_index;
      if (op_index % 4096 == 0) {
        expect_quiet(m);
        expect_same_contents(m, model, "periodic");
      }
      if (op_index % 20011 == 20010) {
        auto c = m.clone();
        expect_same_contents(c, model, "clone");
      }
    }
    expect_quiet(m);
    expect_same_contents(m, model, "end of phase");
  }
  while (m.growing()) m.erase(1);
  m.clear();
  model.clear();
  expect_same_contents(m, model, "after clear");
}

TEST(GoMapRandom, AgainstUnorderedMapWithGrowthAndSameSizeGrowth) {
  const std::vector<Phase> phases = {
      {1000, 190, 10, 10, 5},     // grow through B = 0 .. 5
      // Churn at full load: overflow buckets pile up until there are as many
      // as buckets (each bucket must have overflowed about once).
      {30000, -10, 5, 25, 5},
      {2500, 800, 10, 10, 5},     // grow through B = 6 .. 7
      {20000, -24, 5, 25, 5},     // churn again
      {12000, 9000, 10, 10, 5},   // grow through B = 8 .. 11
      {12000, 1000, 10, 20, 5},   // shrink (B stays)
      {6000, 0, 5, 10, 5},        // empty it
      {6000, 3000, 10, 10, 5},    // grow again
  };
  for (uint64_t seed : {1ull, 2ull, 3ull}) {
    SCOPED_TRACE(seed);
    EventCounter events;
    run_model(seed, phases);
    if (HasFatalFailure()) return;
    EXPECT_GE(events.doubling_grows, 11u);
    EXPECT_GE(events.same_size_grows, 1u) << "churn should force a same-size growth";
    std::printf("seed %llu: %llu doubling, %llu same-size growths\n", static_cast<unsigned long long>(seed),
                static_cast<unsigned long long>(events.doubling_grows),
                static_cast<unsigned long long>(events.same_size_grows));
    EXPECT_EQ(events.by_kind[static_cast<int>(MapEventKind::kWriteBegin)],
              events.by_kind[static_cast<int>(MapEventKind::kWriteEnd)]);
    EXPECT_EQ(events.by_kind[static_cast<int>(MapEventKind::kGrowStart)],
              events.by_kind[static_cast<int>(MapEventKind::kGrowFinish)])
        << "every growth finished";
  }
}

// Same-size growth on its own: delete and insert at the load factor until
// the overflow buckets trigger one, then check it through the flags.
TEST(GoMapRandom, DeletesAndInsertsForceSameSizeGrowth) {
  GoMap<uint64_t, uint64_t> m;
  std::vector<uint64_t> live;
  uint64_t next = 0;
  std::mt19937_64 rng(42);
  // Fill to just below the load factor of B = 6 (416 entries).
  while (m.size() < 410) {
    m.put(next, next);
    live.push_back(next++);
  }
  const uint8_t b = m.B();
  ASSERT_EQ(b, 6);
  bool saw_same_size = false;
  for (int i = 0; i < 200000 && !saw_same_size; ++i) {
    const size_t victim = rng() % live.size();
    ASSERT_TRUE(m.erase(live[victim]));
    live[victim] = next;
    m.put(next, next);
    ++next;
    if (m.flags() & abi::kFlagSameSizeGrow) {
      saw_same_size = true;
      EXPECT_TRUE(m.growing());
      EXPECT_EQ(m.B(), b);
      EXPECT_EQ(m.old_bucket_count(), m.bucket_count());
    }
  }
  ASSERT_TRUE(saw_same_size);
  while (m.growing()) m.erase(~uint64_t{0});
  EXPECT_EQ(m.flags() & abi::kFlagSameSizeGrow, 0);
  EXPECT_EQ(m.B(), b);
  EXPECT_EQ(m.size(), live.size());
  for (uint64_t k : live) ASSERT_EQ(m.get(k), k);
}

// Iteration interleaved with random writes: every key present throughout is
// returned exactly once; a key deleted before it was reached is not
// returned; no key is returned twice unless it was deleted and reinserted;
// returned values are the current ones.
TEST(GoMapRandom, IterationWithConcurrentModificationsOnOneThread) {
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937_64 rng(seed);
    GoMap<int, std::string> m;
    std::unordered_map<int, std::string> model;
    const int initial = static_cast<int>(rng() % 3000);
    for (int i = 0; i < initial; ++i) {
      m.put(i, "v" + std::to_string(i));
      model[i] = "v" + std::to_string(i);
    }
    // Sometimes start the iterator in the middle of a growth.
    if (seed % 3 == 0) {
      int k = initial;
      while (!m.growing() && k < initial + 5000) {
        m.put(k, "g");
        model[k++] = "g";
      }
    }
    std::unordered_set<int> at_start;
    for (const auto& [k, v] : model) at_start.insert(k);
    std::unordered_set<int> touched;   // deleted at some point during the iteration
    std::unordered_set<int> reinserted;
    std::unordered_set<int> deleted_unreached;
    std::unordered_map<int, int> returned;
    int next_key = 1000000;
    for (auto it = m.begin(); !it.at_end(); ++it) {
      const int k = it.key();
      ASSERT_EQ(it.value(), model.at(k)) << "stale value for " << k;
      returned[k]++;
      ASSERT_EQ(deleted_unreached.count(k), 0u) << "returned after being deleted before reached: " << k;
      const int writes = static_cast<int>(rng() % 6);
      for (int w = 0; w < writes; ++w) {
        const int what = static_cast<int>(rng() % 10);
        if (what < 4) {
          const int nk = next_key++;
          m.put(nk, "n");
          model[nk] = "n";
        } else if (what < 6 && !model.empty()) {
          const int victim = static_cast<int>(rng() % static_cast<uint64_t>(initial + 1));
          if (victim == k) continue;  // the pair refers to it; see DeleteCurrent below
          if (model.erase(victim) == 1) {
            ASSERT_TRUE(m.erase(victim));
            touched.insert(victim);
            if (returned.count(victim) == 0) deleted_unreached.insert(victim);
          }
        } else if (what < 7) {
          const int victim = static_cast<int>(rng() % static_cast<uint64_t>(initial + 1));
          if (touched.count(victim) != 0 && model.count(victim) == 0) {
            m.put(victim, "r");
            model[victim] = "r";
            reinserted.insert(victim);
            deleted_unreached.erase(victim);
          }
        } else if (what < 9 && !model.empty()) {
          const int victim = static_cast<int>(rng() % static_cast<uint64_t>(initial + 1));
          if (model.count(victim) != 0) {
            m.put(victim, "u" + std::to_string(w));
            model[victim] = "u" + std::to_string(w);
          }
        } else {
          ASSERT_EQ(m.find(k) != nullptr, model.count(k) != 0);
        }
      }
      if (rng() % 50 == 0 && model.count(k) != 0) {
        // DeleteCurrent: delete the entry just returned (copy the key first).
        m.erase(k);
        model.erase(k);
        touched.insert(k);
      }
    }
    for (int k : at_start) {
      if (touched.count(k) == 0) {
        ASSERT_EQ(returned[k], 1) << "present throughout: " << k;
      }
    }
    for (const auto& [k, c] : returned) {
      if (reinserted.count(k) == 0) {
        ASSERT_EQ(c, 1) << "returned twice: " << k;
      }
    }
    expect_same_contents(m, model, "after iteration");
    ASSERT_EQ(m.header().live_iterators, 0);
  }
}

}  // namespace
}  // namespace backstep::gomap_test
