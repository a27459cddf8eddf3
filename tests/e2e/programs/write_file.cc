// write_file: changes the file system: creates (and writes) argv[1], and
// removes argv[2] if given. Replay must do neither.
//
// Usage: write_file CREATE_PATH [REMOVE_PATH]
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: write_file CREATE_PATH [REMOVE_PATH]\n");
    return 2;
  }
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::perror("open");
    return 1;
  }
  const char text[] = "written by write_file\n";
  if (write(fd, text, strlen(text)) != static_cast<ssize_t>(strlen(text))) return 1;
  close(fd);
  if (argc > 2 && unlink(argv[2]) != 0) {
    std::perror("unlink");
    return 1;
  }
  std::printf("write_file: wrote %s\n", argv[1]);
  return 0;
}
