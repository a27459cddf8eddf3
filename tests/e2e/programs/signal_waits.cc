// Signals one thread sends that wake another: sigsuspend ping-pong with
// pthread_kill, sigwaitinfo of real-time signals queued with values,
// sigtimedwait timing out, a signalfd read, and pause (the main thread
// waits, through /proc, until the worker sleeps in it).
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
static pthread_t main_thread, worker;
static volatile sig_atomic_t usr1, usr2;
static char worker_proc[128];  // /proc/thread-self of the worker, as /proc names it
static volatile int worker_known;
// Whether thread tid sleeps in syscall nr (from /proc).
static int in_syscall(const char* task, int nr) {
  char path[160], buf[64] = {0};
  snprintf(path, sizeof path, "/proc/%s/syscall", task);
  FILE* f = fopen(path, "r");
  if (!f) return 0;
  int got = fgets(buf, sizeof buf, f) != NULL;
  fclose(f);
  return got && atoi(buf) == nr;
}
static void on_usr1(int s) {
  (void)s;
  usr1 = usr1 + 1;
}
static void on_usr2(int s) {
  (void)s;
  usr2 = usr2 + 1;
}
static void* ponger(void* a) {
  (void)a;
  sigset_t m;
  pthread_sigmask(SIG_BLOCK, NULL, &m);
  sigdelset(&m, SIGUSR1);
  for (int i = 0; i < 5; i++) {
    sigsuspend(&m);  // woken by main's SIGUSR1
    pthread_kill(main_thread, SIGUSR2);
  }
  // sigwaitinfo for a real-time signal queued by main with values.
  sigset_t rt;
  sigemptyset(&rt);
  sigaddset(&rt, SIGRTMIN + 1);
  int sum = 0;
  for (int i = 0; i < 3; i++) {
    siginfo_t si;
    int s = sigwaitinfo(&rt, &si);
    sum = sum * 10 + si.si_value.sival_int;
    if (s != SIGRTMIN + 1) return reinterpret_cast<void*>(1);
  }
  printf("worker sigwaitinfo values %d\n", sum);
  // sigtimedwait that times out, then one that gets a signal.
  struct timespec tmo = {0, 1000000};
  siginfo_t si;
  int s = sigtimedwait(&rt, &si, &tmo);
  printf("worker sigtimedwait %d %s\n", s, s < 0 ? strerror(errno) : "");
  // signalfd
  int fd = signalfd(-1, &rt, 0);
  pthread_kill(main_thread, SIGUSR2);
  struct signalfd_siginfo ssi;
  ssize_t n = read(fd, &ssi, sizeof ssi);
  printf("worker signalfd %zd signo-rtmin %d value %d\n", n,
         static_cast<int>(ssi.ssi_signo) - SIGRTMIN, ssi.ssi_int);
  // pause, woken by SIGUSR1
  sigset_t u1;
  sigemptyset(&u1);
  sigaddset(&u1, SIGUSR1);
  ssize_t len = readlink("/proc/thread-self", worker_proc, sizeof worker_proc - 1);
  if (len <= 0) return reinterpret_cast<void*>(2);
  worker_known = 1;
  pthread_sigmask(SIG_UNBLOCK, &u1, NULL);
  pthread_kill(main_thread, SIGUSR2);
  pause();
  printf("worker pause woke, usr1 %d\n", static_cast<int>(usr1));
  return 0;
}
int main(void) {
  main_thread = pthread_self();
  signal(SIGUSR1, on_usr1);
  signal(SIGUSR2, on_usr2);
  sigset_t b;
  sigemptyset(&b);
  sigaddset(&b, SIGUSR1);
  sigaddset(&b, SIGUSR2);
  sigaddset(&b, SIGRTMIN + 1);
  pthread_sigmask(SIG_BLOCK, &b, NULL);
  pthread_create(&worker, NULL, ponger, NULL);
  sigset_t m;
  pthread_sigmask(SIG_BLOCK, NULL, &m);
  sigdelset(&m, SIGUSR2);
  for (int i = 0; i < 5; i++) {
    pthread_kill(worker, SIGUSR1);
    sigsuspend(&m);  // woken by the worker's SIGUSR2
  }
  printf("main ping-pong usr2 %d\n", static_cast<int>(usr2));
  for (int i = 1; i <= 3; i++) {
    union sigval v = {.sival_int = i};
    sigqueue(getpid(), SIGRTMIN + 1, v);
  }
  sigsuspend(&m);  // the worker's signalfd is ready
  union sigval v = {.sival_int = 9};
  sigqueue(getpid(), SIGRTMIN + 1, v);
  sigsuspend(&m);  // the worker is about to pause
  while (!worker_known || !in_syscall(worker_proc, SYS_pause)) sched_yield();
  pthread_kill(worker, SIGUSR1);
  pthread_join(worker, NULL);
  printf("main done usr2 %d\n", static_cast<int>(usr2));
  return 0;
}
