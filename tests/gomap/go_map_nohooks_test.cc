// Built with BACKSTEP_NO_MAP_HOOKS (the overhead benchmark's configuration):
// no map events at all, every fatal check still in place.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>

#include "gomap/go_map.h"
#include "test_support.h"

static_assert(!backstep::gomap_internal::kMapHooks, "build this file with -DBACKSTEP_NO_MAP_HOOKS");

namespace backstep::gomap_test {
namespace {

TEST(GoMapNoHooks, PublishesNoEvents) {
  EventRecorder rec;
  GoMap<int, int> m;
  for (int i = 0; i < 2000; ++i) m.put(i, i);
  for (int i = 0; i < 2000; i += 3) m.erase(i);
  m.PutAll({{-1, -1}, {-2, -2}});
  long sum = 0;
  for (auto [k, v] : m) sum += k - v;
  EXPECT_EQ(sum, 0);
  GoMap<int, int> c = m.clone();
  EXPECT_EQ(c.size(), m.size());
  m.clear();
  EXPECT_TRUE(rec.events().empty());
  EXPECT_EQ(m.flags() & abi::kFlagHashWriting, 0);
}

// Without hooks there is no observer hook inside the map; user code that
// runs while hashWriting is set (an Eq called by assign's search) provides
// the conflicting moment instead.
GoMap<int, int, std::hash<int>, struct ReentrantEq>* g_map = nullptr;
bool g_reenter = false;

struct ReentrantEq {
  bool operator()(int a, int b) const {
    if (g_reenter) {
      g_reenter = false;
      g_map->find(12345);
    }
    return a == b;
  }
};

void LookupFromEqDuringAssign() {
  rt::set_map_event_observer(
      [](const MapEvent& e, void*) {
        std::fprintf(stderr, "[kind=%d op=%d arg0=%d site=%u]\n", e.kind, e.op, e.arg0, e.arg1);
      },
      nullptr);
  auto* m = new GoMap<int, int, std::hash<int>, ReentrantEq>;
  g_map = m;
  m->put(1, 1);
  g_reenter = true;
  m->put(1, 2);  // finds key 1: Eq runs after the XOR
  std::fprintf(stderr, "survived\n");
}

TEST(GoMapNoHooksDeathTest, FatalChecksRemain) {
  EXPECT_EXIT(LookupFromEqDuringAssign(), ::testing::KilledBySignal(SIGABRT),
              "\\[kind=8 op=1 arg0=2 site=1\\]\nfatal error: concurrent map read and map write");
}

}  // namespace
}  // namespace backstep::gomap_test
