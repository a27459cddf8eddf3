// A file copy in fixed-size blocks with read(2) and write(2) (figure 9 of
// bench/run_benchmarks.sh): the syscall buffer's bulk path, where every
// read's data is recorded.
// Usage: copy_workload SRC DST [BLOCK_BYTES]
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: copy_workload SRC DST [BLOCK_BYTES]\n");
    return 2;
  }
  size_t block = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 65536;
  int in = open(argv[1], O_RDONLY);
  int out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (in < 0 || out < 0) {
    std::perror("open");
    return 1;
  }
  std::vector<char> buf(block);
  unsigned long long total = 0;
  for (;;) {
    ssize_t n = read(in, buf.data(), buf.size());
    if (n < 0) return 1;
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = write(out, buf.data() + done, static_cast<size_t>(n - done));
      if (w <= 0) return 1;
      done += w;
    }
    total += static_cast<unsigned long long>(n);
  }
  close(in);
  close(out);
  std::printf("copied %llu bytes\n", total);
  return 0;
}
