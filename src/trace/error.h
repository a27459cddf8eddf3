// The one exception type of the trace container.
//
// Every failure that crosses the trace API (a file that is not a trace, an
// unsupported version, a checksum mismatch, an I/O error, a record that is
// too short for what its parser asked) is a TraceError whose what() is a
// single line naming the file and, where it matters, the byte offset, so the
// CLI can print it as is.
#pragma once

#include <stdexcept>
#include <string>

namespace backstep::trace {

class TraceError : public std::runtime_error {
 public:
  explicit TraceError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace backstep::trace
