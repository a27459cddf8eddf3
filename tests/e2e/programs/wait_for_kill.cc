// Waits, with a second thread blocked too, until something outside kills
// it; says "ready" on stdout first, so that the killer knows when. The
// fault tests kill it (or the recorder, replayer or gdb server around it)
// at that point. With "busy", both threads make syscalls without end
// instead (traced ones and buffered ones), so that the kill finds them
// anywhere: in user code, at a syscall, in the syscall buffer.
#include <sys/utsname.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

namespace {
[[noreturn]] void make_syscalls() {
  for (;;) {
    utsname u;
    ::uname(&u);
    ::getppid();
  }
}
}  // namespace

int main(int argc, char** argv) {
  const bool busy = argc > 1 && std::strcmp(argv[1], "busy") == 0;
  std::mutex m;
  std::condition_variable cv;
  bool never = false;
  std::thread other([&] {
    if (busy) make_syscalls();
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return never; });
  });
  std::printf("ready\n");
  std::fflush(stdout);
  if (busy) make_syscalls();
  for (;;) ::pause();
}
