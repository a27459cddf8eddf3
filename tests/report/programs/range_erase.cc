// range_erase: a janitor thread erases the expired entries of a
// map<string, vector<int>> while a stats thread ranges over the map to sum
// its values. No PutAll, no clone: only a range loop and erases.
//
// Expected under the chaos scheduler: "fatal error: concurrent map iteration
// and map write" on the stats thread, hashWriting set by the janitor's erase
// (operation "delete").
//
// Usage: range_erase [entries]
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "gomap/go_map.h"

namespace {

using Sessions = backstep::GoMap<std::string, std::vector<int>>;

std::atomic<bool> g_janitor_done{false};

[[gnu::noinline]] void expire_sessions(Sessions& sessions, long entries) {
  for (long i = 0; i < entries; ++i) {
    sessions.erase("session-" + std::to_string(i));  // the write
  }
  g_janitor_done.store(true, std::memory_order_release);
}

[[gnu::noinline]] unsigned long stats_pass(const Sessions& sessions) {
  unsigned long total = 0;
  for (auto&& [name, hits] : sessions) {  // the range loop
    total += name.size() + hits.size();
  }
  return total;
}

[[gnu::noinline]] void collect_stats(const Sessions& sessions, unsigned long& checksum) {
  while (!g_janitor_done.load(std::memory_order_acquire)) checksum += stats_pass(sessions);
}

}  // namespace

int main(int argc, char** argv) {
  long entries = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 2000;
  if (entries <= 0) {
    std::fprintf(stderr, "usage: %s [entries]\n", argv[0]);
    return 2;
  }
  Sessions sessions;
  for (long i = 0; i < entries; ++i) {
    sessions.put("session-" + std::to_string(i), std::vector<int>(static_cast<size_t>(i % 5), 1));
  }
  unsigned long checksum = 0;
  std::thread stats(collect_stats, std::cref(sessions), std::ref(checksum));
  std::thread janitor(expire_sessions, std::ref(sessions), entries);
  janitor.join();
  stats.join();
  std::printf("range_erase: no failure (%zu left, checksum %lu)\n", sessions.size(), checksum);
  return 0;
}
