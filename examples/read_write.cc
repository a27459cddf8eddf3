// read_write: one thread looks keys up in a map while another assigns to it.
//
// Seed: chapter 1 (first paragraph: "fatal error: concurrent map read and
// map write") and the access rows of the 2.1 table.
//
// Expected: "fatal error: concurrent map read and map write" on the reading
// thread, then SIGABRT (Go with GOTRACEBACK=crash).
//
// Why, in Go terms: mapaccess1/mapaccess2 (v := m[k], v, ok := m[k]) check
// hashWriting after the empty-map early return and throw when a writer is
// inside the map. Lookups never set any flag, so the writer cannot notice the
// reader: only the reader fails. The check is a plain, best-effort read: a
// lookup has to overlap an assignment, which is likely, not certain.
//
// The writer only overwrites keys that exist, so the map's structure never
// changes: the only way this program can fail is the fatal check.
//
// Usage: read_write [rounds]   (a round = one write of every key)
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>

#include "gomap/go_map.h"

namespace {

using Map = backstep::GoMap<int, int>;

constexpr int kKeys = 256;
constexpr long kDefaultRounds = 200000;

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

// Start barrier: spin (no syscalls) until both threads have arrived.
std::atomic<int> g_arrived{0};
void arrive_and_wait(int parties) {
  g_arrived.fetch_add(1, std::memory_order_acq_rel);
  while (g_arrived.load(std::memory_order_acquire) < parties) __builtin_ia32_pause();
}

std::atomic<bool> g_writer_done{false};

[[gnu::noinline]] void writer(Map& m, long rounds) {
  arrive_and_wait(2);
  for (long r = 0; r < rounds; ++r) {
    for (int k = 0; k < kKeys; ++k) m.put(k, static_cast<int>(r));  // m[k] = r
  }
  g_writer_done.store(true, std::memory_order_release);
}

[[gnu::noinline]] void reader(Map& m, long& passes, unsigned long& sum) {
  arrive_and_wait(2);
  while (!g_writer_done.load(std::memory_order_acquire)) {
    for (int k = 0; k < kKeys; ++k) {
      if (const int* v = m.find(k)) sum += static_cast<unsigned>(*v);  // v, ok := m[k]
    }
    ++passes;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const long rounds = parse_rounds(argc, argv, kDefaultRounds);
  std::printf("read_write: reader looks up %d keys while a writer overwrites them\n", kKeys);
  std::fflush(stdout);

  Map m;
  for (int k = 0; k < kKeys; ++k) m.put(k, 0);

  long passes = 0;
  unsigned long sum = 0;
  std::thread w(writer, std::ref(m), rounds);
  std::thread r(reader, std::ref(m), std::ref(passes), std::ref(sum));
  w.join();
  r.join();

  std::printf("read_write: no failure in %ld rounds (%ld lookup passes, checksum %lu)\n", rounds,
              passes, sum);
  return 0;
}
