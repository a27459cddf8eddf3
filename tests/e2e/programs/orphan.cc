// A child still running when its parent exits: the child waits for the end
// of a pipe the parent holds (EOF when the parent is gone), then writes and
// exits. The recording ends when the last process of the tree has ended.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

int main() {
  int fds[2];
  if (pipe(fds) != 0) return 1;
  pid_t child = fork();
  if (child == 0) {
    close(fds[1]);
    char c;
    ssize_t n = read(fds[0], &c, 1);  // EOF once the parent has exited
    char line[64];
    int len = std::snprintf(line, sizeof line, "orphan: parent gone (read %d)\n", static_cast<int>(n));
    if (write(1, line, static_cast<size_t>(len)) != len) _exit(9);
    _exit(0);
  }
  close(fds[0]);
  const char msg[] = "parent: exiting first\n";
  if (write(1, msg, sizeof msg - 1) != sizeof msg - 1) return 1;
  return 12;
}
