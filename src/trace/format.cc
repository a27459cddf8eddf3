#include "trace/format.h"

#include <xxhash.h>

namespace backstep::trace::format {

uint64_t checksum(std::span<const std::byte> bytes) noexcept {
  return XXH3_64bits(bytes.data(), bytes.size());
}

}  // namespace backstep::trace::format
