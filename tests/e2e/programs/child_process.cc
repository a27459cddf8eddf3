// Child processes: fork + pipe + waitpid, system() and popen() (both
// posix_spawn, a CLONE_VM|CLONE_VFORK clone, then exec of /bin/sh). The
// children are recorded with the parent and replayed with it.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

int main() {
  std::fflush(stdout);
  int fds[2];
  if (pipe(fds) != 0) return 1;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    const char msg[] = "hello from the child";
    ssize_t n = write(fds[1], msg, sizeof msg - 1);
    _exit(n == sizeof msg - 1 ? 5 : 1);
  }
  close(fds[1]);
  char buf[64] = {};
  ssize_t n = read(fds[0], buf, sizeof buf - 1);
  int st = 0;
  pid_t waited = waitpid(pid, &st, 0);
  std::printf("fork: read %zd '%s', waited %s, status %d\n", n, buf,
              waited == pid ? "for it" : "for another", WEXITSTATUS(st));

  int r = std::system("exit 3");
  std::printf("system: status %d\n", WEXITSTATUS(r));

  FILE* f = popen("echo from popen", "r");
  char line[64] = {};
  if (!f || !std::fgets(line, sizeof line, f)) return 1;
  line[std::strcspn(line, "\n")] = 0;
  std::printf("popen: '%s', status %d\n", line, WEXITSTATUS(pclose(f)));
  return 0;
}
