/* conformance-class: 0
 * TCP over loopback between two threads: bind to an ephemeral port
 * (never printed), listen, connect, accept4, 256 KB echoed back with
 * send/recv, shutdown seen as EOF, getsockname/getpeername agree;
 * a UDP datagram with recvfrom too. */
#define _GNU_SOURCE /* before any system header */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include "conf.h"

#define SIZE (256 * 1024)
static int lsock;

static void* server(void* arg) {
  (void)arg;
  int c = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
  char buf[8192];
  ssize_t n;
  while ((n = recv(c, buf, sizeof buf, 0)) > 0)
    for (ssize_t o = 0; o < n;) o += send(c, buf + o, n - o, 0);
  close(c);
  return NULL;
}

int main(void) {
  lsock = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(bind(lsock, (struct sockaddr*)&a, sizeof a) == 0, "bind");
  listen(lsock, 4);
  socklen_t len = sizeof a;
  getsockname(lsock, (struct sockaddr*)&a, &len);
  pthread_t t;
  pthread_create(&t, NULL, server, NULL);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(connect(s, (struct sockaddr*)&a, sizeof a) == 0, "connect");
  struct sockaddr_in peer;
  len = sizeof peer;
  getpeername(s, (struct sockaddr*)&peer, &len);
  CHECK(peer.sin_port == a.sin_port, "getpeername is the listener's port");
  static char out[SIZE], in[SIZE];
  for (int i = 0; i < SIZE; i++) out[i] = (char)(i * 31 + 7);
  size_t sent = 0, got = 0;
  while (got < SIZE) {
    if (sent < SIZE) {
      ssize_t w = send(s, out + sent, SIZE - sent < 4096 ? SIZE - sent : 4096, 0);
      if (w > 0) sent += w;
    }
    while (got < sent) {
      ssize_t r = recv(s, in + got, sent - got, 0);
      if (r <= 0) break;
      got += r;
    }
  }
  CHECK(memcmp(in, out, SIZE) == 0, "256 KB echoed intact");
  shutdown(s, SHUT_WR);
  char b;
  CHECK(recv(s, &b, 1, 0) == 0, "EOF after shutdown");
  pthread_join(t, NULL);
  close(s);

  int u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in ua = {.sin_family = AF_INET, .sin_port = 0};
  ua.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(u1, (struct sockaddr*)&ua, sizeof ua);
  len = sizeof ua;
  getsockname(u1, (struct sockaddr*)&ua, &len);
  sendto(u2, "datagram", 8, 0, (struct sockaddr*)&ua, sizeof ua);
  char dg[16] = {0};
  struct sockaddr_in from;
  len = sizeof from;
  ssize_t n = recvfrom(u1, dg, sizeof dg, 0, (struct sockaddr*)&from, &len);
  CHECK(n == 8 && strcmp(dg, "datagram") == 0 && from.sin_addr.s_addr == htonl(INADDR_LOOPBACK),
        "UDP datagram with its sender");
  return conf_done();
}
