// Internal helpers shared by the trace sources: error text for errno values
// and full-length read/write loops. Not part of the public API.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace backstep::trace::detail {

// strerror() text, without strerror()'s thread-safety problem.
std::string errno_text(int err);

// Writes all `size` bytes, retrying short writes and EINTR. Returns 0 or the
// errno of the failure.
int write_all(int fd, const std::byte* data, size_t size) noexcept;

// Reads up to `size` bytes at `offset`, retrying short reads and EINTR until
// end of file. Returns the byte count (< size only at end of file) or -errno.
ssize_t pread_full(int fd, std::byte* data, size_t size, uint64_t offset) noexcept;

}  // namespace backstep::trace::detail
