// A process-wide signal that wakes one thread and is taken by another. A
// child process sends SIGUSR1 to the program while the main thread sleeps
// in pthread_join with SIGUSR1 unblocked: the kernel wakes the main thread
// (its futex wait returns -ERESTARTSYS), but the worker, which had it
// blocked and sees it pending, unblocks it and takes it first. The main
// thread then finds nothing to deliver and the kernel restarts its wait.
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

namespace {

volatile sig_atomic_t taken_by_worker = 0;
pthread_t worker_thread;

void on_usr1(int) { taken_by_worker = pthread_equal(pthread_self(), worker_thread) ? 1 : 2; }

void* worker(void*) {
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pid_t parent = getpid();
  pid_t child = fork();
  if (child == 0) {
    kill(parent, SIGUSR1);
    _exit(0);
  }
  // Pending once the child has sent it. Recorded, the main thread sleeps
  // meanwhile (it is not let back while the worker can run); run natively,
  // it may take the signal itself, which ends the loop too.
  while (!taken_by_worker) {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGUSR1)) break;
    sched_yield();
  }
  pthread_sigmask(SIG_UNBLOCK, &usr1, nullptr);
  waitpid(child, nullptr, 0);
  return nullptr;
}

}  // namespace

int main() {
  struct sigaction sa {};
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, nullptr);
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  // The worker starts with SIGUSR1 blocked; the main thread unblocks it.
  pthread_sigmask(SIG_BLOCK, &usr1, nullptr);
  pthread_create(&worker_thread, nullptr, worker, nullptr);
  pthread_sigmask(SIG_UNBLOCK, &usr1, nullptr);
  int r = pthread_join(worker_thread, nullptr);
  std::printf("join %d, signal taken by %s\n", r,
              taken_by_worker == 1   ? "the worker"
              : taken_by_worker == 2 ? "the main thread"
                                     : "nobody");
  return 0;
}
