// Little-endian loads and stores of fixed-width integers at unaligned
// addresses. The trace format is little-endian on disk; backstep only runs
// on x86-64, so these are plain memcpy (one mov after optimization) and the
// static_assert keeps a port from silently writing big-endian traces.
#pragma once

#include <bit>
#include <cstddef>
#include <cstring>
#include <type_traits>

namespace backstep::trace {

static_assert(std::endian::native == std::endian::little,
              "the trace format is little-endian; add byte swaps for this target");

template <typename T>
requires std::is_integral_v<T>
inline void store_le(std::byte* dst, T value) noexcept { std::memcpy(dst, &value, sizeof value); }

template <typename T>
requires std::is_integral_v<T>
inline T load_le(const std::byte* src) noexcept {
  T value;
  std::memcpy(&value, src, sizeof value);
  return value;
}

}  // namespace backstep::trace
