// What the fuzzers share: a scratch directory per fuzzer process, and the
// little-endian framing of the inputs that are sequences of records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <system_error>

#include "base/scratch_dir.h"

namespace backstep::fuzz {

// A private directory under /tmp for the process's files, removed at exit:
// the code under test reads paths, not memory.
inline const std::filesystem::path& scratch() {
  static const ScratchDir dir("backstep-fuzz");
  return dir.path();
}

// Empties `dir` (a directory under scratch()), creating it if needed.
inline std::filesystem::path fresh_dir(const std::string& name) {
  std::filesystem::path dir = scratch() / name;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir);
  return dir;
}

// Reads the input front to back; short reads give zeros and empty spans.
class InputReader {
 public:
  InputReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return at_ >= size_; }
  template <class T>
  T get() {
    T v{};
    size_t n = std::min(sizeof v, size_ - at_);
    std::memcpy(&v, data_ + at_, n);
    at_ += n;
    return v;
  }
  std::span<const std::byte> bytes(size_t n) {
    n = std::min(n, size_ - at_);
    std::span<const std::byte> out(reinterpret_cast<const std::byte*>(data_ + at_), n);
    at_ += n;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

}  // namespace backstep::fuzz
