#include "trace/record.h"

#include <fmt/format.h>

namespace backstep::trace {

void RecordBuilder::throw_field_too_long(size_t n) {
  throw TraceError(
      fmt::format("record field too long: {} bytes (the limit is {})", n, uint32_t{UINT32_MAX}));
}

void RecordParser::throw_too_short(size_t n) const {
  throw TraceError(fmt::format("record too short: need {} bytes at offset {}, record has {}", n,
                               pos_, data_.size()));
}

void RecordParser::throw_too_long() const {
  throw TraceError(fmt::format("record too long: {} unread bytes at offset {} of {}", remaining(),
                               pos_, data_.size()));
}

}  // namespace backstep::trace
