// handoff: two threads take turns filling and ranging over one Go map,
// handing it over by spinning on an atomic. The spin loops make no
// syscall, so only the ticks backstep_instrument() adds let backstep's
// one-thread-at-a-time recorder preempt them; the map publishes its flag
// transitions to the recorder.
//
// Usage: handoff [rounds]   (default 10; prints one line, exits 0)
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "gomap/go_map.h"

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 10;
  backstep::GoMap<int, long> squares;
  std::atomic<int> turn{0};  // odd: the filler's turn; even: main's
  std::thread filler([&] {
    for (int r = 0; r < rounds; ++r) {
      while (turn.load() != 2 * r + 1) {
      }
      for (int k = 10 * r; k < 10 * r + 10; ++k) squares.put(k, long{k} * k);
      turn.fetch_add(1);
    }
  });
  long total = 0;
  for (int r = 0; r < rounds; ++r) {
    turn.fetch_add(1);
    while (turn.load() != 2 * r + 2) {
    }
    for (auto [key, square] : squares) total += square;
  }
  filler.join();
  std::printf("handoff: %zu keys, %ld\n", squares.size(), total);
  return 0;
}
