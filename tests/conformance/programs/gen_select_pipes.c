/* conformance-class: 0
 * select() and pselect(): a zero timeout on nothing ready, readiness of
 * a pipe's both ends, the timeout being updated on return, and a blocking
 * select woken by a thread that writes; a 1 MB transfer through a pipe
 * between threads, and messages through a SOCK_SEQPACKET socketpair that
 * keep their boundaries. */
#define _GNU_SOURCE /* before any system header */
#include <pthread.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/socket.h>

#include "conf.h"

#define BIG (1024 * 1024)
static int p[2], q[2], sp[2];

static void* writer(void* arg) {
  (void)arg;
  static char buf[BIG];
  for (int i = 0; i < BIG; i++) buf[i] = (char)(i * 13);
  for (size_t off = 0; off < BIG;) off += write(q[1], buf + off, BIG - off);
  close(q[1]);
  write(p[1], "!", 1);
  for (int i = 1; i <= 5; i++) {
    char msg[16];
    memset(msg, 'a' + i, i);
    send(sp[1], msg, i, 0);
  }
  return NULL;
}

int main(void) {
  pipe(p);
  pipe(q);
  socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp);
  fd_set r, w;
  FD_ZERO(&r);
  FD_SET(p[0], &r);
  struct timeval tv = {0, 0};
  CHECK(select(p[0] + 1, &r, NULL, NULL, &tv) == 0, "nothing to read: 0");
  FD_ZERO(&w);
  FD_SET(p[1], &w);
  CHECK(select(p[1] + 1, NULL, &w, NULL, &tv) == 1 && FD_ISSET(p[1], &w), "write end writable");
  FD_ZERO(&r);
  FD_SET(p[0], &r);
  tv.tv_usec = 10000;
  CHECK(select(p[0] + 1, &r, NULL, NULL, &tv) == 0 && tv.tv_sec == 0 && tv.tv_usec == 0,
        "10 ms timeout expires, timeval updated to 0");

  pthread_t t;
  pthread_create(&t, NULL, writer, NULL);
  static char got[BIG];
  size_t n = 0;
  ssize_t k;
  while ((k = read(q[0], got + n, BIG - n)) > 0) n += k;
  int ok = n == BIG;
  for (int i = 0; ok && i < BIG; i++) ok = got[i] == (char)(i * 13);
  CHECK(ok, "1 MB through a pipe intact");
  FD_ZERO(&r);
  FD_SET(p[0], &r);
  struct timespec ts = {5, 0};
  sigset_t none;
  sigemptyset(&none);
  CHECK(pselect(p[0] + 1, &r, NULL, NULL, &ts, &none) == 1 && FD_ISSET(p[0], &r),
        "pselect saw the thread's byte");
  pthread_join(t, NULL);
  ok = 1;
  for (int i = 1; i <= 5; i++) {
    char msg[16];
    ssize_t m = recv(sp[0], msg, sizeof msg, 0);
    ok &= m == i && msg[0] == 'a' + i;
  }
  CHECK(ok, "five seqpacket messages kept their boundaries");
  return conf_done();
}
