// Errors that cross a subsystem boundary. Each carries a one-line message
// meant for the user: the CLI prints "backstep: <what()>" and exits non-zero.
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace backstep {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An operating-system call failed; the message names the call and errno.
class SystemError : public Error {
 public:
  SystemError(const std::string& what, int err)
      : Error(what + ": " + std::strerror(err)), errno_(err) {}
  int error_number() const { return errno_; }

 private:
  int errno_;
};

[[noreturn]] inline void throw_errno(const std::string& what) { throw SystemError(what, errno); }

}  // namespace backstep
