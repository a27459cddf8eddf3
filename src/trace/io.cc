#include "trace/io.h"

#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace backstep::trace::detail {

std::string errno_text(int err) { return std::system_category().message(err); }

int write_all(int fd, const std::byte* data, size_t size) noexcept {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    // A regular file returns 0 only for a zero-length request; treat it as
    // "no space" rather than spinning.
    if (n == 0) return ENOSPC;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return 0;
}

ssize_t pread_full(int fd, std::byte* data, size_t size, uint64_t offset) noexcept {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, data + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) break;  // end of file
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

}  // namespace backstep::trace::detail
