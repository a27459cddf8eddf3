// Building and parsing record payloads.
//
// The container carries payloads as opaque bytes; the recorder and replayer
// agree on their contents. These two helpers give that agreement one
// encoding: little-endian fixed-width integers, and byte strings prefixed by
// their u32 length. They are header-only because they sit on the recording
// hot path and every call should inline to a bounds check and a mov.
//
// RecordParser never reads outside its span: asking for more than is left
// throws TraceError("record too short ..."), which is how a payload written
// by a different (or buggy) recorder surfaces instead of as UB.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "trace/byte_order.h"
#include "trace/error.h"

namespace backstep::trace {

class RecordBuilder {
 public:
  RecordBuilder() = default;
  explicit RecordBuilder(size_t reserve) { bytes_.reserve(reserve); }

  RecordBuilder& u8(uint8_t v) { return put(v); }
  RecordBuilder& u16(uint16_t v) { return put(v); }
  RecordBuilder& u32(uint32_t v) { return put(v); }
  RecordBuilder& u64(uint64_t v) { return put(v); }
  RecordBuilder& i64(int64_t v) { return put(v); }

  // u32 length, then the bytes. Throws TraceError above 4 GiB - 1 bytes (the
  // container caps records far below that anyway).
  RecordBuilder& bytes(std::span<const std::byte> b) {
    put_length(b.size());
    bytes_.insert(bytes_.end(), b.begin(), b.end());
    return *this;
  }
  RecordBuilder& str(std::string_view s) { return bytes(std::as_bytes(std::span(s))); }

  std::span<const std::byte> view() const noexcept { return bytes_; }
  size_t size() const noexcept { return bytes_.size(); }
  // Keeps the capacity, so one builder can be reused for every record.
  void clear() noexcept { bytes_.clear(); }
  std::vector<std::byte> take() noexcept { return std::move(bytes_); }

 private:
  template <typename T>
  RecordBuilder& put(T v) {
    const size_t at = bytes_.size();
    bytes_.resize(at + sizeof(T));
    store_le(bytes_.data() + at, v);
    return *this;
  }
  void put_length(size_t n) {
    if (n > UINT32_MAX) [[unlikely]]
      throw_field_too_long(n);
    put(static_cast<uint32_t>(n));
  }
  [[noreturn, gnu::cold]] static void throw_field_too_long(size_t n);

  std::vector<std::byte> bytes_;
};

class RecordParser {
 public:
  explicit RecordParser(std::span<const std::byte> payload) noexcept : data_(payload) {}

  uint8_t u8() { return get<uint8_t>(); }
  uint16_t u16() { return get<uint16_t>(); }
  uint32_t u32() { return get<uint32_t>(); }
  uint64_t u64() { return get<uint64_t>(); }
  int64_t i64() { return get<int64_t>(); }

  // A length-prefixed field, as a view into the payload (valid as long as the
  // payload is).
  std::span<const std::byte> bytes() {
    const uint32_t n = u32();
    need(n);
    auto out = data_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  std::string_view str() {
    auto b = bytes();
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }

  size_t position() const noexcept { return pos_; }
  size_t remaining() const noexcept { return data_.size() - pos_; }
  bool at_end() const noexcept { return pos_ == data_.size(); }

  // For parsers that want trailing garbage to be an error rather than
  // silently ignored.
  void expect_end() const {
    if (!at_end()) [[unlikely]]
      throw_too_long();
  }

 private:
  // The message is built out of line so the inlined fast path stays a
  // compare and a branch.
  void need(size_t n) const {
    if (n > remaining()) [[unlikely]]
      throw_too_short(n);
  }
  [[noreturn, gnu::cold]] void throw_too_short(size_t n) const;
  [[noreturn, gnu::cold]] void throw_too_long() const;
  template <typename T>
  T get() {
    need(sizeof(T));
    const T v = load_le<T>(data_.data() + pos_);
    pos_ += sizeof(T);
    return v;
  }

  std::span<const std::byte> data_;
  size_t pos_ = 0;
};

}  // namespace backstep::trace
