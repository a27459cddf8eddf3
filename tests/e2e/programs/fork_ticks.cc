// Instrumented (ticks): a parent and a child, each with a thread, compute
// with function calls and loops (ticks) and talk through a pipe; the
// scheduler switches among all threads of both processes at tick limits.
//   fork_ticks [N]
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace {

__attribute__((noinline)) unsigned long step(unsigned long x) { return x * 6364136223846793005ul + 1442695040888963407ul; }

unsigned long compute(unsigned long seed, int n) {
  unsigned long x = seed;
  for (int i = 0; i < n; ++i) x = step(x);
  return x;
}

struct Job {
  unsigned long seed;
  int n;
  unsigned long result;
};

void* run(void* p) {
  auto* j = static_cast<Job*>(p);
  j->result = compute(j->seed, j->n);
  return nullptr;
}

unsigned long work(unsigned long seed, int n) {
  Job a{seed, n, 0}, b{seed + 1, n, 0};
  pthread_t t;
  pthread_create(&t, nullptr, run, &a);
  run(&b);
  pthread_join(t, nullptr);
  return a.result ^ b.result;
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 200000;
  int fds[2];
  if (pipe(fds) != 0) return 1;
  pid_t child = fork();
  if (child == 0) {
    unsigned long r = work(7, n);
    if (write(fds[1], &r, sizeof r) != sizeof r) _exit(9);
    std::printf("child: %lx\n", r);
    std::fflush(stdout);
    _exit(0);
  }
  unsigned long mine = work(3, n);
  unsigned long theirs = 0;
  if (read(fds[0], &theirs, sizeof theirs) != sizeof theirs) return 1;
  int st = 0;
  waitpid(child, &st, 0);
  std::printf("parent: %lx, child sent %lx, child status %d\n", mine, theirs, WEXITSTATUS(st));
  return 0;
}
