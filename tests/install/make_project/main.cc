// relay: two threads take turns writing to and ranging over one Go map,
// handing over through spin.c's loops.
//
// Usage: relay [rounds]   (default 10; prints one line, exits 0)
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "gomap/go_map.h"
#include "spin.h"

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 10;
  backstep::GoMap<int, int> map;
  int turn = 0;  // odd: the writer's turn; even: main's
  std::thread writer([&] {
    for (int r = 0; r < rounds; ++r) {
      spin_until(&turn, 2 * r + 1);
      for (int k = 0; k < 8; ++k) map.put(8 * r + k, r);
      spin_pass(&turn);
    }
  });
  long sum = 0;
  for (int r = 0; r < rounds; ++r) {
    spin_pass(&turn);
    spin_until(&turn, 2 * r + 2);
    for (auto [key, round] : map) sum += key + round;
  }
  writer.join();
  std::printf("relay: %zu keys, %ld\n", map.size(), sum);
  return 0;
}
