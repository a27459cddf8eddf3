// Reading the records of a trace::SyscallBuffer (the bksb_record layout of
// preload/syscallbuf_abi.h): the syscalls a thread made through the buffer.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "preload/syscallbuf_abi.h"
#include "trace/record.h"

namespace backstep::trace {

struct BufferedCall {
  struct Region {
    uint64_t addr = 0;
    uint32_t flags = 0;  // bksb_region_flags
    std::span<const std::byte> data;
  };
  long nr = 0;
  uint16_t flags = 0;  // bksb_record_flags
  int64_t result = 0;
  uint64_t args[6] = {};
  std::vector<Region> regions;
};

// The calls in `records`, in order. Throws TraceError when the bytes are not
// a sequence of whole records.
inline std::vector<BufferedCall> parse_buffered_calls(std::span<const std::byte> records) {
  std::vector<BufferedCall> out;
  size_t at = 0;
  while (at < records.size()) {
    bksb_record r{};
    if (records.size() - at < sizeof r) throw TraceError("malformed syscall buffer record");
    std::memcpy(&r, records.data() + at, sizeof r);
    if (r.size < sizeof r || r.size % 8 != 0 || r.size > records.size() - at) {
      throw TraceError("malformed syscall buffer record");
    }
    BufferedCall c;
    c.nr = r.nr;
    c.flags = r.flags;
    c.result = r.result;
    std::memcpy(c.args, r.args, sizeof c.args);
    size_t p = at + sizeof r;
    const size_t end = at + r.size;
    while (p < end) {
      bksb_region g{};
      if (end - p < sizeof g) throw TraceError("malformed syscall buffer region");
      std::memcpy(&g, records.data() + p, sizeof g);
      size_t padded = (static_cast<size_t>(g.len) + 7) & ~size_t{7};
      if (padded > end - p - sizeof g) throw TraceError("malformed syscall buffer region");
      c.regions.push_back({g.addr, g.flags, records.subspan(p + sizeof g, g.len)});
      p += sizeof g + padded;
    }
    out.push_back(std::move(c));
    at = end;
  }
  return out;
}

}  // namespace backstep::trace
