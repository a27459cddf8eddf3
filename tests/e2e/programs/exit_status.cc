// exit_status: ends in the way argv[1] says: "exit3" exits with status 3,
// "abort" calls abort() (SIGABRT), "segv" writes through a null pointer
// (SIGSEGV), "ok" returns 0.
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "ok";
  std::printf("exit_status: %s\n", mode);
  std::fflush(stdout);
  if (std::strcmp(mode, "exit3") == 0) std::exit(3);
  if (std::strcmp(mode, "abort") == 0) std::abort();
  if (std::strcmp(mode, "segv") == 0) {
    volatile int* p = nullptr;
    *p = 42;
  }
  return 0;
}
