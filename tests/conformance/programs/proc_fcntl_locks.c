/* conformance-class: 5
 * Record locks between processes: the parent holds a write lock on bytes
 * 0-9 of a file; the child's F_GETLK sees it (and names the parent's pid),
 * its F_SETLK fails with EAGAIN, its F_SETLKW blocks until the parent
 * unlocks. Also flock() between two open file descriptions. */
#define _GNU_SOURCE /* before any system header */
#include <sys/file.h>
#include <sys/wait.h>

#include "conf.h"

int main(void) {
  char path[] = "/tmp/conf_lock_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 2;
  ftruncate(fd, 100);
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
  CHECK(fcntl(fd, F_SETLK, &fl) == 0, "parent locked bytes 0-9");
  int sync_pipe[2];
  pipe(sync_pipe);
  pid_t parent = getpid();
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    int f = open(path, O_RDWR);
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 1};
    int code = 0;
    if (fcntl(f, F_GETLK, &q) != 0 || q.l_type != F_WRLCK || q.l_pid != parent) code |= 1;
    q.l_type = F_WRLCK;
    if (fcntl(f, F_SETLK, &q) != -1 || (errno != EAGAIN && errno != EACCES)) code |= 2;
    struct flock other = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 5};
    if (fcntl(f, F_SETLK, &other) != 0) code |= 4;
    conf_proc_t me = conf_this_process(); /* tell the parent where to look */
    write(sync_pipe[1], &me, sizeof me);
    q.l_type = F_WRLCK;
    if (fcntl(f, F_SETLKW, &q) != 0) code |= 8; /* blocks until the parent unlocks */
    _exit(code);
  }
  conf_proc_t child;
  read(sync_pipe[0], &child, sizeof child);
  conf_wait_sleeping(&child); /* child is in F_SETLKW */
  fl.l_type = F_UNLCK;
  fcntl(fd, F_SETLK, &fl);
  int st;
  waitpid(c, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child saw the lock, then got it (code %d)",
        WEXITSTATUS(st));

  int f1 = open(path, O_RDWR), f2 = open(path, O_RDWR);
  CHECK(flock(f1, LOCK_EX | LOCK_NB) == 0, "flock on the first description");
  CHECK(flock(f2, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK, "second is refused");
  flock(f1, LOCK_UN);
  CHECK(flock(f2, LOCK_EX | LOCK_NB) == 0, "after unlock it succeeds");
  unlink(path);
  return conf_done();
}
