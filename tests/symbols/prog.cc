// The program symbols_tests stops and symbolizes: built -O0 with frame
// pointers, as a PIE and as a fixed-address executable. It prints its
// functions' addresses, then traps (int3) inside inner(); the tests find the
// lines below by their @markers, so the markers must stay on the lines they
// tag.
#include <cstdio>

namespace geo {

template <typename T>
struct Box {
  T value;
  T get() const { return value * 2; }
};

template <typename T>
T scale(T v) {
  return Box<T>{v}.get() + 1;
}

}  // namespace geo

int inner(int x) {
  // a comment line: no code here  @comment
  asm volatile("int3\n\tnop");  // @inner-break
  return x + 1;
}

int middle(int x) {
  return inner(x * 2) + 1;  // @middle-call
}

int outer(int x) {
  const int y = geo::scale(x);
  return middle(y) + 1;  // @outer-call
}

int main(int argc, char**) {
  std::printf("inner=%p middle=%p outer=%p scale=%p\n", reinterpret_cast<void*>(&inner),
              reinterpret_cast<void*>(&middle), reinterpret_cast<void*>(&outer),
              reinterpret_cast<void*>(&geo::scale<int>));
  std::fflush(stdout);
  return outer(argc) == 0 ? 1 : 0;  // @main-call
}
