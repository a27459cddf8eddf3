// Syscalls the syscall buffer takes over, made every way a program makes
// them: through glibc's wrappers (patched sites), glibc's internals (stdio,
// mutexes) and syscall(2); with threads that hand work over through a pipe
// (reads that would block go traced) and a mutex (futex waits and wakes).
// Prints only what is the same on every run.
// Usage: syscall_mix [ROUNDS]
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 200;
  long ppid_sum = 0;
  for (int i = 0; i < rounds; ++i) ppid_sum += syscall(SYS_getppid) + getppid();
  struct timespec a {
  }, b{};
  clock_gettime(CLOCK_MONOTONIC, &a);
  clock_gettime(CLOCK_MONOTONIC, &b);
  std::printf("syscall_mix: ppid ok %d, clock ok %d\n", ppid_sum == 2L * rounds * getppid(),
              b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec));

  // A file: write, stat, read back, lseek, close.
  char path[] = "/tmp/backstep-syscall-mix-XXXXXX";
  int fd = mkstemp(path);
  std::string text;
  for (int i = 0; i < rounds; ++i) text += "line " + std::to_string(i) + "\n";
  if (write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) return 1;
  struct stat st {};
  fstat(fd, &st);
  lseek(fd, 0, SEEK_SET);
  std::string back(text.size(), '\0');
  ssize_t got = read(fd, back.data(), back.size());
  close(fd);
  int fd2 = open(path, O_RDONLY);
  char first[8] = {};
  ssize_t got2 = read(fd2, first, 7);
  close(fd2);
  unlink(path);
  std::printf("file: size %lld, read back %d, first '%s' (%zd)\n",
              static_cast<long long>(st.st_size),
              got == static_cast<ssize_t>(text.size()) && back == text, first, got2);

  // Two threads: a pipe ping-pong and a shared counter under a mutex.
  int to_worker[2], to_main[2];
  if (pipe(to_worker) != 0 || pipe(to_main) != 0) return 1;
  std::mutex mu;
  long counter = 0;
  std::thread worker([&] {
    for (int i = 0; i < rounds; ++i) {
      char c = 0;
      if (read(to_worker[0], &c, 1) != 1) std::abort();
      {
        std::lock_guard<std::mutex> lock(mu);
        counter += c;
      }
      c = static_cast<char>(c + 1);
      if (write(to_main[1], &c, 1) != 1) std::abort();
    }
  });
  long echoed = 0;
  for (int i = 0; i < rounds; ++i) {
    char c = static_cast<char>(i % 100);
    if (write(to_worker[1], &c, 1) != 1) return 1;
    {
      std::lock_guard<std::mutex> lock(mu);
      counter += 1000;
    }
    struct pollfd p {
      to_main[0], POLLIN, 0
    };
    poll(&p, 1, -1);
    if (read(to_main[0], &c, 1) != 1) return 1;
    echoed += c;
  }
  worker.join();
  std::printf("threads: counter %ld, echoed %ld\n", counter, echoed);
  for (int i = 0; i < 5; ++i) std::printf("stdio line %d\n", i);
  std::fflush(stdout);
  return 0;
}
