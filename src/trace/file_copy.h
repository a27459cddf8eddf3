// The copies a trace keeps of the files its program mapped (files/NAME),
// checked against their names before use.
//
// A copy is named by the XXH3-128 of its content (trace_writer.h), so a copy
// whose bytes were damaged after recording (a flipped bit on disk, a bad
// transfer, an edit) is detectable: replay would otherwise map it and run
// code the program never ran, and `pack` would ship it.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

namespace backstep::trace {

// Checks that `copy` (a file under a trace's files/ directory) hashes to its
// own name; `original` is the path the program knew it by, for the error.
// Throws TraceError, one line naming both, if the name is not a content hash
// or the content does not match it. A missing copy passes: whoever opens it
// reports that in their own terms. Each copy is hashed once per process (the
// result is cached by path, inode, size and mtime), so checking at every use
// costs a stat.
// `original` is asked only when there is an error to write.
void verify_file_copy(const std::filesystem::path& copy,
                      const std::function<std::string()>& original);
inline void verify_file_copy(const std::filesystem::path& copy, const std::string& original) {
  verify_file_copy(copy, [&] { return original; });
}

}  // namespace backstep::trace
