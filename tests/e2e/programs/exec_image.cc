// exec: the program replaces itself, from the main thread or from another
// thread (the kernel kills the others and the caller takes the leader's
// tid), with execve or execveat, after an exec that fails (ENOENT). The new
// image runs threads of its own, reads time and randomness, and ends with
// a status of its own.
//   exec_image main|thread|execveat|script SHELL_SCRIPT
#include <fcntl.h>
#include <pthread.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

extern char** environ;

namespace {

char self[4096];

void* worker(void*) {
  std::printf("new image: a thread ran\n");
  return nullptr;
}

int new_image(int argc, char** argv) {
  unsigned char r[8];
  bool random_ok = getrandom(r, sizeof r, 0) == sizeof r;
  bool time_ok = std::time(nullptr) > 0;
  bool same_pid = argc > 2 && std::atoi(argv[2]) == getpid();
  std::printf("new image: %s, argc %d, same pid %s, random %s, time %s\n", argv[1], argc,
              same_pid ? "yes" : "no", random_ok ? "ok" : "failed", time_ok ? "ok" : "failed");
  pthread_t t;
  pthread_create(&t, nullptr, worker, nullptr);
  pthread_join(t, nullptr);
  std::fflush(stdout);
  return 7;
}

void exec_self(const char* mode) {
  char arg1[64], arg2[32];
  std::snprintf(arg1, sizeof arg1, "after-%s", mode);
  std::snprintf(arg2, sizeof arg2, "%d", getpid());
  char* args[] = {self, arg1, arg2, nullptr};
  if (std::strcmp(mode, "execveat") == 0) {
    int dir = open("/", O_PATH | O_DIRECTORY);
    syscall(SYS_execveat, dir, self + 1, args, environ, 0);  // relative to /
  } else {
    execve(self, args, environ);
  }
  std::printf("exec failed: %s\n", std::strerror(errno));
  std::exit(1);
}

void* exec_from_thread(void*) {
  exec_self("thread");
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strncmp(argv[1], "after-", 6) == 0) return new_image(argc, argv);
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 2;
  self[n] = 0;
  const char* mode = argc > 1 ? argv[1] : "main";

  char* missing[] = {const_cast<char*>("/nonexistent/program"), nullptr};
  int rc = execve(missing[0], missing, environ);
  std::printf("old image: exec of a missing file returned %d (%s)\n", rc, std::strerror(errno));
  std::fflush(stdout);

  if (std::strcmp(mode, "script") == 0) {
    char* args[] = {argv[2], const_cast<char*>("from the script"), nullptr};
    execve(argv[2], args, environ);
    std::printf("exec failed: %s\n", std::strerror(errno));
    return 1;
  }
  if (std::strcmp(mode, "thread") == 0) {
    pthread_t t;
    pthread_create(&t, nullptr, exec_from_thread, nullptr);
    pthread_join(t, nullptr);  // never returns: the exec ends this thread
    return 3;
  }
  exec_self(mode);
  return 4;
}
