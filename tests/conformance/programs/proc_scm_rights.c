/* conformance-class: 5
 * SCM_RIGHTS over a socketpair: the child opens a file of its own and a
 * pipe, passes both descriptors to the parent; the parent reads the file
 * through the received descriptor and reads what the child writes into the
 * pipe; credentials arrive with SCM_CREDENTIALS. */
#define _GNU_SOURCE /* before any system header */
#include <sys/socket.h>
#include <sys/wait.h>

#include "conf.h"

int main(void) {
  char path[] = "/tmp/conf_scm_XXXXXX";
  int tmp = mkstemp(path);
  if (tmp < 0) return 2;
  write(tmp, "file contents", 13);
  close(tmp);
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  int one = 1;
  setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    close(sv[0]);
    int f = open(path, O_RDONLY);
    int p[2];
    pipe(p);
    int fds[2] = {f, p[0]};
    char data = 'F';
    struct iovec iov = {&data, 1};
    char cbuf[CMSG_SPACE(sizeof fds)];
    memset(cbuf, 0, sizeof cbuf);
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    struct cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(cm), fds, sizeof fds);
    sendmsg(sv[1], &msg, 0);
    write(p[1], "through the passed pipe", 23);
    _exit(0);
  }
  close(sv[1]);
  char data = 0;
  struct iovec iov = {&data, 1};
  char cbuf[256];
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  ssize_t n = recvmsg(sv[0], &msg, 0);
  CHECK(n == 1 && data == 'F', "received the data byte");
  int got[2] = {-1, -1}, creds = 0;
  for (struct cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
    if (cm->cmsg_type == SCM_RIGHTS) memcpy(got, CMSG_DATA(cm), sizeof got);
    if (cm->cmsg_type == SCM_CREDENTIALS) {
      struct ucred uc;
      memcpy(&uc, CMSG_DATA(cm), sizeof uc);
      creds = uc.pid == c && uc.uid == getuid();
    }
  }
  CHECK(got[0] >= 0 && got[1] >= 0, "two descriptors received");
  CHECK(creds, "credentials name the child");
  char buf[64] = {0};
  pread(got[0], buf, 13, 0);
  CHECK(strcmp(buf, "file contents") == 0, "read the file through it: '%s'", buf);
  memset(buf, 0, sizeof buf);
  int st;
  waitpid(c, &st, 0);
  n = read(got[1], buf, sizeof buf - 1);
  CHECK(n == 23, "read the child's pipe: '%s'", buf);
  unlink(path);
  return conf_done();
}
