// header_corruption: a "buggy unsafe helper" writes the map header through a
// raw pointer, leaving count > 0 with buckets == 0, while another thread
// ranges over the map.
//
// Seed: section 2.4 ("基于unsafe.Pointer手动构造map内部结构"): hmap.count
// non-zero but hmap.buckets nil.
//
// Expected: SIGSEGV on the ranging thread, inside the map's iteration code: a
// read of a bucket at a small address (0 + bucket index * bucket size). No
// "fatal error" line: no map check looks at the bucket pointer.
//
// Why, in Go terms: the iterator trusts the header. mapiterinit returns early
// only when count == 0; otherwise it snapshots h.buckets and the first step
// reads tophash from it. With buckets == nil and count > 0 that is a nil
// dereference. The seed is wrong about the outcome where it says "concurrent
// map iteration and map write": hashWriting is never set here, so no map check
// fires; it is a memory fault, which Go reports as "invalid memory address or
// nil pointer dereference" [signal SIGSEGV] and this C++ program as SIGSEGV.
//
// The helper "detaches" the bucket array to checksum it and then puts it back,
// so the corruption is a window: a range loop that starts inside it crashes,
// one that starts outside it does not. The bad write is one plain 8-byte store
// of 0 to MapHeader::buckets through raw_header() (see scrub_buckets_unsafely):
// the store a watchpoint on the header's buckets field finds, going backwards
// from the iterator start that copied the 0.
//
// Usage: header_corruption [rounds]   (a round = one call of the buggy helper)
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>

#include "gomap/go_map.h"

namespace {

using Map = backstep::GoMap<int, int>;

constexpr int kKeys = 40;  // small map: B = 3, so bucket index * size stays in page 0
constexpr long kDefaultRounds = 1000000;

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

std::atomic<bool> g_helper_done{false};

// The buggy unsafe helper: "scrub" the bucket array without going through the
// map's API by detaching it from the header, checksumming it, and putting it
// back. It forgets that count stays > 0 while buckets is 0, and that another
// thread may start iterating in between.
[[gnu::noinline]] uint64_t scrub_buckets_unsafely(Map& m) {
  backstep::abi::MapHeader* h = m.raw_header();
  const uint64_t detached = h->buckets;
  h->buckets = 0;  // THE BUG: one plain store; count is still > 0
  // A compiler-only barrier (emits no instruction): the store above must not
  // be optimised away as dead, since another thread can read the header.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  const uint64_t bytes = static_cast<uint64_t>(h->bucket_size) << h->B;
  const auto* p = reinterpret_cast<const unsigned char*>(static_cast<uintptr_t>(detached));
  uint64_t sum = 0;
  for (uint64_t i = 0; i < bytes; ++i) sum = sum * 31 + p[i];
  std::atomic_signal_fence(std::memory_order_seq_cst);
  h->buckets = detached;
  return sum;
}

[[gnu::noinline]] void helper(Map& m, long rounds, uint64_t& checksum) {
  arrive_and_wait(2);
  for (long r = 0; r < rounds; ++r) checksum += scrub_buckets_unsafely(m);
  g_helper_done.store(true, std::memory_order_release);
}

[[gnu::noinline]] void ranger(Map& m, long& passes, uint64_t& checksum) {
  arrive_and_wait(2);
  while (!g_helper_done.load(std::memory_order_acquire)) {
    for (auto [k, v] : m) checksum += static_cast<unsigned>(k + v);  // for k, v := range m
    ++passes;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const long rounds = parse_rounds(argc, argv, kDefaultRounds);
  std::printf("header_corruption: unsafe helper nulls buckets of a %d-entry map while ranging\n",
              kKeys);
  std::fflush(stdout);

  Map m;
  for (int k = 0; k < kKeys; ++k) m.put(k, k);

  long passes = 0;
  uint64_t helper_sum = 0;
  uint64_t ranger_sum = 0;
  std::thread h(helper, std::ref(m), rounds, std::ref(helper_sum));
  std::thread it(ranger, std::ref(m), std::ref(passes), std::ref(ranger_sum));
  h.join();
  it.join();

  std::printf("header_corruption: no failure in %ld rounds (%ld range passes, checksum %llx)\n",
              rounds, passes, static_cast<unsigned long long>(helper_sum ^ ranger_sum));
  return 0;
}
