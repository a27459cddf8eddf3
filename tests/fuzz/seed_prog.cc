// A small program whose executable seeds symbols_fuzzer: symbols, DWARF
// lines, an inlined function, CFI and frame pointers, in a few kilobytes.
#include <cstdio>

namespace {

inline int inner(int x) { return x * 3 + 1; }

__attribute__((noinline)) int middle(int x) {
  int sum = 0;
  for (int i = 0; i < x; ++i) sum += inner(i);
  return sum;
}

}  // namespace

int main(int argc, char**) {
  std::printf("%d\n", middle(argc + 4));
  return 0;
}
