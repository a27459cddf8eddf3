// Waits, with a second thread blocked too, until something outside kills
// it; says "ready" on stdout first, so that the killer knows when. The
// fault tests kill it (or the recorder, replayer or gdb server around it)
// at that point.
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

int main() {
  std::mutex m;
  std::condition_variable cv;
  bool never = false;
  std::thread waiter([&] {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return never; });
  });
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) ::pause();
}
