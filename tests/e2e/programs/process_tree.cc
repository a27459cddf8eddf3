// Process trees: fork with a pipe and waitpid, a grandchild, a child that
// crashes, MAP_SHARED anonymous memory shared by parent and child, an fd
// passed over a socketpair (SCM_RIGHTS), vfork + _exit, posix_spawn (via
// system() and popen()) and SIGCHLD caught by a handler.
//   process_tree [ROUNDS]
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

volatile sig_atomic_t sigchld_seen = 0;

void on_sigchld(int) { sigchld_seen = sigchld_seen + 1; }

__attribute__((format(printf, 1, 2))) void out(const char* fmt, ...) {
  char line[256];
  va_list args;
  va_start(args, fmt);
  int n = std::vsnprintf(line, sizeof line, fmt, args);
  va_end(args);
  // One write per line: the order between processes is the recorded one.
  if (write(1, line, static_cast<size_t>(n)) != n) _exit(9);
}

int status_of(pid_t pid) {
  int st = 0;
  if (waitpid(pid, &st, 0) != pid) return -1;
  return st;
}

void pipe_and_grandchild() {
  int fds[2];
  if (pipe(fds) != 0) _exit(9);
  pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    pid_t me = getpid();
    pid_t grandchild = fork();
    if (grandchild == 0) {
      out("grandchild: its parent is the child: %s\n", getppid() == me ? "yes" : "no");
      const char msg[] = "from the grandchild";
      _exit(write(fds[1], msg, sizeof msg - 1) == sizeof msg - 1 ? 4 : 9);
    }
    int st = status_of(grandchild);
    out("child: grandchild exited with %d\n", WEXITSTATUS(st));
    _exit(5);
  }
  close(fds[1]);
  char buf[64] = {};
  ssize_t n = read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  int st = status_of(child);
  out("parent: read %d bytes, child exited with %d\n", static_cast<int>(n), WEXITSTATUS(st));
}

void crashing_child() {
  pid_t child = fork();
  if (child == 0) {
    out("child: about to crash\n");
    volatile int* p = nullptr;
    *p = 1;
    _exit(0);
  }
  int st = status_of(child);
  out("parent: child killed by signal %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

void shared_memory(int rounds) {
  auto* counter = static_cast<std::atomic<int>*>(
      mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  if (counter == MAP_FAILED) _exit(9);
  counter->store(0);
  int to_child[2], to_parent[2];
  if (pipe(to_child) != 0 || pipe(to_parent) != 0) _exit(9);
  pid_t child = fork();
  char token = 'x';
  if (child == 0) {
    for (int i = 0; i < rounds; ++i) {
      if (read(to_child[0], &token, 1) != 1) _exit(9);
      counter->fetch_add(10);
      if (write(to_parent[1], &token, 1) != 1) _exit(9);
    }
    _exit(0);
  }
  for (int i = 0; i < rounds; ++i) {
    counter->fetch_add(1);
    if (write(to_child[1], &token, 1) != 1 || read(to_parent[0], &token, 1) != 1) _exit(9);
  }
  status_of(child);
  out("shared memory: counter %d after %d rounds\n", counter->load(), rounds);
  munmap(counter, 4096);
  close(to_child[0]), close(to_child[1]), close(to_parent[0]), close(to_parent[1]);
}

void pass_fd() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) _exit(9);
  pid_t child = fork();
  if (child == 0) {
    close(sv[0]);
    char byte = 0;
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (recvmsg(sv[1], &msg, 0) != 1) _exit(9);
    int fd = -1;
    std::memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof fd);
    const char text[] = "written through a passed fd";
    _exit(write(fd, text, sizeof text - 1) == sizeof text - 1 ? 0 : 9);
  }
  close(sv[1]);
  int fds[2];
  if (pipe(fds) != 0) _exit(9);
  char byte = 'f';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fds[1], sizeof(int));
  if (sendmsg(sv[0], &msg, 0) != 1) _exit(9);
  close(fds[1]);
  char buf[64] = {};
  ssize_t n = read(fds[0], buf, sizeof buf - 1);
  int st = status_of(child);
  out("passed fd: read %d bytes, child exited with %d\n", static_cast<int>(n), WEXITSTATUS(st));
}

void vfork_exit() {
  pid_t child = vfork();
  if (child == 0) _exit(6);
  int st = status_of(child);
  out("vfork: child exited with %d\n", WEXITSTATUS(st));
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 5;
  struct sigaction sa {};
  sa.sa_handler = on_sigchld;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGCHLD, &sa, nullptr);
  pipe_and_grandchild();
  crashing_child();
  shared_memory(rounds);
  pass_fd();
  vfork_exit();
  std::fflush(stdout);
  int r = std::system("echo from system; exit 3");
  out("system: status %d\n", WEXITSTATUS(r));
  FILE* f = popen("echo from popen", "r");
  char line[64] = {};
  if (!f || !std::fgets(line, sizeof line, f)) return 1;
  line[std::strcspn(line, "\n")] = 0;
  out("popen: status %d\n", WEXITSTATUS(pclose(f)));
  out("SIGCHLD seen: %d\n", sigchld_seen > 0 ? 1 : 0);
  return 0;
}
