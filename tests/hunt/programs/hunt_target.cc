// hunt_target: a program whose fate is fixed by its argument, for the hunt
// tests: `pass` exits 0 (a hunt finds nothing), `hang` blocks forever (only
// --timeout ends it).
#include <unistd.h>

#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "hang") == 0) {
    for (;;) ::pause();
  }
  std::puts("pass");
  return 0;
}
