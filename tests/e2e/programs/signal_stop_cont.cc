// A child process stops the program with SIGSTOP and continues it with
// SIGCONT, which the program handles. (Recorded, the program is not really
// held stopped meanwhile: the tracer lets it go on; see README's limits.)
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

namespace {

volatile sig_atomic_t conts = 0;

void on_cont(int) { conts = conts + 1; }

}  // namespace

int main() {
  signal(SIGCONT, on_cont);
  pid_t parent = getpid();
  pid_t child = fork();
  if (child == 0) {
    usleep(2000);
    kill(parent, SIGSTOP);
    usleep(20000);
    kill(parent, SIGCONT);
    _exit(0);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
  }
  std::printf("signal_stop_cont: conts %d\n", static_cast<int>(conts));
  return 0;
}
