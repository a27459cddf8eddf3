/* conformance-class: 0
 * eventfd and epoll: an eventfd counter summed across writes, semaphore
 * mode handing out ones; epoll over a pipe, an eventfd and a socket, level
 * and edge triggered, with a thread posting events while the main thread
 * waits in epoll_wait with a long timeout. */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "conf.h"

static int efd, pfd[2], sv[2];

static void* poster(void* arg) {
  (void)arg;
  for (int i = 0; i < 5; i++) {
    uint64_t one = 1;
    write(efd, &one, sizeof one);
    write(pfd[1], "p", 1);
    write(sv[1], "s", 1);
  }
  return NULL;
}

int main(void) {
  int c = eventfd(0, 0);
  uint64_t v = 3;
  write(c, &v, sizeof v);
  v = 4;
  write(c, &v, sizeof v);
  read(c, &v, sizeof v);
  CHECK(v == 7, "eventfd sums writes (%llu)", (unsigned long long)v);
  int sem = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
  int ones = 0;
  while (read(sem, &v, sizeof v) == sizeof v && v == 1) ones++;
  CHECK(ones == 3 && errno == EAGAIN, "semaphore mode: three ones then EAGAIN");

  efd = eventfd(0, EFD_NONBLOCK);
  pipe(pfd);
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 1};
  epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
  ev.data.u32 = 2;
  epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &ev);
  ev.events = EPOLLIN | EPOLLET;
  ev.data.u32 = 3;
  epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev);
  struct epoll_event out[8];
  CHECK(epoll_wait(ep, out, 8, 0) == 0, "nothing ready yet");

  pthread_t t;
  pthread_create(&t, NULL, poster, NULL);
  pthread_join(t, NULL);
  int n = epoll_wait(ep, out, 8, 5000);
  int mask = 0;
  for (int i = 0; i < n; i++) mask |= 1 << out[i].data.u32;
  CHECK(n == 3 && mask == 0xe, "all three ready after the thread (n=%d)", n);
  /* Level triggered: still ready. Edge triggered: not again until new data. */
  n = epoll_wait(ep, out, 8, 0);
  mask = 0;
  for (int i = 0; i < n; i++) mask |= 1 << out[i].data.u32;
  CHECK(mask == 0x6, "level-triggered ones again, the edge-triggered one not (%#x)", mask);
  read(efd, &v, sizeof v);
  CHECK(v == 5, "eventfd counted five posts");
  char buf[16];
  CHECK(read(pfd[0], buf, sizeof buf) == 5, "pipe had five bytes");
  CHECK(epoll_wait(ep, out, 8, 0) == 0, "drained: nothing ready");

  /* A wait that blocks until a thread posts. */
  pthread_create(&t, NULL, poster, NULL);
  n = epoll_wait(ep, out, 8, 5000);
  pthread_join(t, NULL);
  CHECK(n >= 1, "blocking epoll_wait woke up");
  return conf_done();
}
