// An uninstrumented program (plain compiler flags) for the gdb `record full`
// oracle: a loop of arithmetic, calls and a write(2) every few iterations,
// so that stepping crosses calls, returns and syscalls.
#include <unistd.h>

namespace {

[[gnu::noinline]] int next(int x) { return (x % 2) != 0 ? 3 * x + 1 : x / 2; }

}  // namespace

[[gnu::noinline]] long work(int n) {
  long sum = 0;
  int x = 27;
  for (int i = 0; i < n; ++i) {
    x = next(x);
    sum += x;
    if (i % 8 == 0) {
      char c = static_cast<char>('0' + x % 10);
      if (::write(1, &c, 1) != 1) return -1;
    }
  }
  return sum;
}

int main() { return work(60) > 0 ? 0 : 1; }
