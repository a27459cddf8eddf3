// What the syscall buffer must get right beyond one process's common calls
// (syscall_buffer_test.cc). Each mode prints only what is the same on every
// run, so that record and replay print what the native run does.
// Usage: buffer_cases MODE [ARG]
//   fork         a forked child and a posix_spawn'ed shell make buffered calls
//   exec-static  execs ARG, a static program (no library: every call traced)
//   exec-noenv   execs itself without LD_PRELOAD in the environment
//   child        what exec-noenv runs: the calls the buffer would take
//   mapped       writes to a file some mapping maps (must be seen in replay)
//   fifo         two threads open the two ends of a FIFO (the opens wait)
//   pipe-wait    a read on an empty pipe that another thread fills later
//   ping-pong    two threads pass bytes back and forth over two pipes, then
//                over a socket pair (every read and recv waits for the
//                other thread); prints the sums
//   spin-calls   a thread waits for another's flag in a loop of buffered
//                calls (no stop of its own: preempted by the wall clock)
//   signals      a timer's handler (SA_RESTART) while buffered calls run;
//                prints how often it ran (record and replay must agree)
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

extern char** environ;

namespace {

// Calls the buffer takes, with a result that is the same on every run.
long common_calls(int rounds) {
  long sum = 0;
  for (int i = 0; i < rounds; ++i) {
    sum += syscall(SYS_getppid) == getppid();
    struct timespec ts {};
    sum += clock_gettime(CLOCK_MONOTONIC, &ts) == 0;
    sum += getpid() > 0;
  }
  return sum;
}

// A new name in a directory of this run's own (pids repeat: the recording's
// PID namespace starts at 1).
std::string temp_path(const char* what) {
  static std::string dir = [] {
    char templ[] = "/tmp/backstep-buffer-XXXXXX";
    const char* made = mkdtemp(templ);
    if (!made) std::abort();
    return std::string(made);
  }();
  return dir + "/" + what;
}

// The directory goes with the last file in it.
void remove_temp(const std::string& path) {
  unlink(path.c_str());
  rmdir(path.substr(0, path.rfind('/')).c_str());
}

// What a child wrote into `fd` until it closed it, then its exit status.
std::string read_until_closed_and_reap(int fd, pid_t child, int* status) {
  std::string got;
  char buf[128];
  for (ssize_t r; (r = read(fd, buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(r));
  waitpid(child, status, 0);
  return got;
}

int fork_mode() {
  int out[2];
  if (pipe(out) != 0) return 1;
  std::fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    close(out[0]);
    long sum = common_calls(200);
    char line[64];
    int n = std::snprintf(line, sizeof line, "child: %ld calls ok\n", sum);
    if (write(out[1], line, static_cast<size_t>(n)) != n) _exit(3);
    std::printf("child prints through stdio\n");
    std::fflush(stdout);
    _exit(7);
  }
  close(out[1]);
  int status = 0;
  std::string got = read_until_closed_and_reap(out[0], child, &status);
  std::printf("parent read: %s", got.c_str());
  std::printf("child status %d\n", WEXITSTATUS(status));
  std::printf("parent: %ld calls ok\n", common_calls(100));
  std::fflush(stdout);
  // posix_spawn: a vfork-like clone on the parent's memory, then exec.
  pid_t shell = 0;
  const char* argv[] = {"sh", "-c", "echo spawned shell; exit 5", nullptr};
  if (posix_spawn(&shell, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ) != 0) {
    return 1;
  }
  waitpid(shell, &status, 0);
  std::printf("shell status %d, parent again: %ld calls ok\n", WEXITSTATUS(status),
              common_calls(50));
  return 0;
}

// A parent and its child buffering at the same time: the fork leaves the
// child's buffer shared with its parent's (the recorder maps buffers
// shared), and the recorder gives the child one of its own before it runs.
// The child buffers on two threads, then forks a grandchild that buffers.
int fork_busy_mode() {
  int out[2];
  if (pipe(out) != 0) return 1;
  std::fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    close(out[0]);
    long sums[2] = {};
    std::thread other([&] { sums[1] = common_calls(400); });
    sums[0] = common_calls(400);
    other.join();
    pid_t grandchild = fork();
    if (grandchild == 0) _exit(common_calls(200) == 600 ? 4 : 5);
    int status = 0;
    waitpid(grandchild, &status, 0);
    char line[128];
    int n = std::snprintf(line, sizeof line, "child: %ld and %ld calls ok, grandchild status %d\n",
                          sums[0], sums[1], WEXITSTATUS(status));
    if (write(out[1], line, static_cast<size_t>(n)) != n) _exit(3);
    _exit(7);
  }
  close(out[1]);
  long mine = common_calls(400);  // while the child runs
  int status = 0;
  std::string got = read_until_closed_and_reap(out[0], child, &status);
  std::printf("parent: %ld calls ok\nparent read: %schild status %d\n", mine, got.c_str(),
              WEXITSTATUS(status));
  return 0;
}

int exec_mode(const char* exe, char** envp, const char* arg) {
  std::printf("before exec: %ld calls ok\n", common_calls(100));
  std::fflush(stdout);
  char* argv[] = {const_cast<char*>(exe), const_cast<char*>(arg), nullptr};
  execve(exe, argv, envp);
  std::perror("execve");
  return 1;
}

int child_mode() {
  std::printf("after exec, LD_PRELOAD %s: %ld calls ok\n",
              std::getenv("LD_PRELOAD") ? "set" : "unset", common_calls(100));
  return 0;
}

int mapped_mode() {
  std::string path = temp_path("mapped");
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || ftruncate(fd, 4096) != 0) return 1;
  auto* view = static_cast<char*>(mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0));
  if (view == MAP_FAILED) return 1;
  // Each of these changes what the mapping shows.
  if (write(fd, "written", 7) != 7) return 1;
  if (pwrite(fd, "pwritten", 8, 100) != 8) return 1;
  struct iovec iov[2] = {{const_cast<char*>("write"), 5}, {const_cast<char*>("v"), 1}};
  if (lseek(fd, 200, SEEK_SET) != 200 || writev(fd, iov, 2) != 6) return 1;
  std::printf("mapping: '%.7s' '%.8s' '%.6s'\n", view, view + 100, view + 200);
  // Another file, not mapped: its writes may be buffered.
  std::string other = temp_path("plain");
  int fd2 = open(other.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  for (int i = 0; i < 50; ++i) {
    if (write(fd2, "0123456789", 10) != 10) return 1;
  }
  char back[16] = {};
  if (pread(fd2, back, 10, 490) != 10) return 1;
  std::printf("plain file: '%s'\n", back);
  close(fd2);
  unlink(other.c_str());  // not the last
  // A private mapping shows a write on pages it has not written.
  auto* priv = static_cast<char*>(mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE, fd, 0));
  if (priv == MAP_FAILED || pwrite(fd, "again", 5, 300) != 5) return 1;
  std::printf("private mapping: '%.5s'\n", priv + 300);
  close(fd);
  remove_temp(path);
  return 0;
}

int fifo_mode() {
  std::string path = temp_path("fifo");
  if (mkfifo(path.c_str(), 0600) != 0) return 1;
  std::thread reader([&] {
    int fd = open(path.c_str(), O_RDONLY);  // waits for the writer
    char buf[32] = {};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    std::printf("reader got %zd: %s\n", n, buf);
    close(fd);
  });
  int fd = open(path.c_str(), O_WRONLY);  // waits for the reader
  if (fd < 0 || write(fd, "through the fifo", 16) != 16) return 1;
  close(fd);
  reader.join();
  remove_temp(path);
  std::printf("fifo done\n");
  return 0;
}

int pipe_wait_mode() {
  int p[2];
  if (pipe(p) != 0) return 1;
  std::atomic<long> work{0};
  std::thread reader([&] {
    char buf[16] = {};
    ssize_t n = read(p[0], buf, sizeof buf - 1);  // empty until the writer is done
    std::printf("reader got %zd: %s\n", n, buf);
  });
  work = common_calls(300);  // the reader is waiting meanwhile
  if (write(p[1], "filled", 6) != 6) return 1;
  reader.join();
  std::printf("writer: %ld calls ok\n", work.load());
  return 0;
}

// Echoes `rounds` bytes from `in` to `out`, reading with `get` and writing
// with `put`; what it read summed.
template <class Get, class Put>
long echo_bytes(long rounds, Get get, Put put) {
  long sum = 0;
  for (long i = 0; i < rounds; ++i) {
    char c = 0;
    if (get(&c) != 1 || put(c) != 1) std::abort();
    sum += c;
  }
  return sum;
}

int ping_pong_mode() {
  constexpr long kRounds = 300;
  int ping[2], pong[2], sock[2];
  if (pipe(ping) != 0 || pipe(pong) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sock) != 0) {
    return 1;
  }
  long echoed_pipe = 0, echoed_sock = 0;
  std::thread echo([&] {
    echoed_pipe = echo_bytes(
        kRounds, [&](char* c) { return read(ping[0], c, 1); },
        [&](char c) { return write(pong[1], &c, 1); });
    echoed_sock = echo_bytes(
        kRounds, [&](char* c) { return recv(sock[1], c, 1, 0); },
        [&](char c) { return send(sock[1], &c, 1, 0); });
  });
  long sum_pipe = 0, sum_sock = 0;
  for (long i = 0; i < kRounds; ++i) {
    char c = static_cast<char>(i * 7);
    if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1) return 1;
    sum_pipe += c;
  }
  for (long i = 0; i < kRounds; ++i) {
    char c = static_cast<char>(i * 5);
    if (send(sock[0], &c, 1, 0) != 1 || recv(sock[0], &c, 1, 0) != 1) return 1;
    sum_sock += c;
  }
  echo.join();
  std::printf("ping-pong: pipes %ld/%ld, socket pair %ld/%ld\n", sum_pipe, echoed_pipe, sum_sock,
              echoed_sock);
  return 0;
}

int spin_calls_mode() {
  std::atomic<bool> flag{false};
  std::thread setter([&] { flag = true; });
  long calls = 0;
  while (!flag) {
    struct timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ++calls;
  }
  setter.join();
  std::printf("spin-calls: flag seen\n");
  std::fprintf(stderr, "calls %ld\n", calls);  // record and replay agree
  return 0;
}

std::atomic<int> g_handled{0};

int signals_mode() {
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_handled++; };
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, nullptr);
  struct itimerval it {};
  it.it_interval.tv_usec = 500;
  it.it_value.tv_usec = 500;
  setitimer(ITIMER_REAL, &it, nullptr);
  std::string path = temp_path("signals");
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  long sum = 0;
  for (int i = 0; i < 3000; ++i) {
    sum += common_calls(1);
    char c = static_cast<char>('a' + i % 26);
    sum += pwrite(fd, &c, 1, i) == 1;
    char back = 0;
    sum += pread(fd, &back, 1, i) == 1 && back == c;
  }
  it = {};
  setitimer(ITIMER_REAL, &it, nullptr);
  close(fd);
  remove_temp(path);
  std::printf("signals: %ld calls ok\n", sum);
  std::fprintf(stderr, "handled %d\n", g_handled.load());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "fork") return fork_mode();
  if (mode == "fork-busy") return fork_busy_mode();
  if (mode == "exec-static" && argc > 2) return exec_mode(argv[2], environ, "static");
  if (mode == "exec-noenv") {
    char* envp[] = {const_cast<char*>("PATH=/usr/bin:/bin"), nullptr};
    return exec_mode("/proc/self/exe", envp, "child");
  }
  if (mode == "child") return child_mode();
  if (mode == "mapped") return mapped_mode();
  if (mode == "fifo") return fifo_mode();
  if (mode == "pipe-wait") return pipe_wait_mode();
  if (mode == "ping-pong") return ping_pong_mode();
  if (mode == "signals") return signals_mode();
  if (mode == "spin-calls") return spin_calls_mode();
  std::fprintf(stderr,
               "usage: buffer_cases fork|exec-static EXE|exec-noenv|mapped|fifo|"
               "pipe-wait|ping-pong|signals\n");
  return 2;
}
