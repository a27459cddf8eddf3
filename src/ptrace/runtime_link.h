// The tracer's side of the runtime ABI (runtime/abi.h): reading a traced
// thread's ThreadBlock and writing its control fields through its memory.
#pragma once

#include <fmt/core.h>

#include <algorithm>
#include <cstddef>
#include <vector>

#include "base/errors.h"
#include "ptrace/task.h"
#include "runtime/abi.h"
#include "trace/map_event_batch.h"

namespace backstep {

class ThreadBlockView {
 public:
  ThreadBlockView(const AddressSpace& mem, uint64_t addr) : mem_(mem), addr_(addr) {}

  uint64_t ticks() const { return field<uint64_t>(offsetof(abi::ThreadBlock, ticks)); }
  uint64_t ring_head() const { return field<uint64_t>(offsetof(abi::ThreadBlock, ring_head)); }
  abi::TrapReason trap_reason() const {
    return static_cast<abi::TrapReason>(field<uint32_t>(offsetof(abi::ThreadBlock, trap_reason)));
  }
  void clear_trap_reason() const {
    mem_.write_value<uint32_t>(addr_ + offsetof(abi::ThreadBlock, trap_reason), 0);
  }
  uint64_t ring_addr() const { return field<uint64_t>(offsetof(abi::ThreadBlock, ring_addr)); }
  uint32_t ring_capacity() const {
    return field<uint32_t>(offsetof(abi::ThreadBlock, ring_capacity));
  }
  // Writes the fields the tracer owns, in one write.
  void set_limits(uint64_t tick_limit, uint64_t event_limit) const {
    struct {
      uint64_t tick_limit;
      uint64_t event_limit;
      uint32_t traced;
    } __attribute__((packed)) limits{tick_limit, event_limit, 1};
    mem_.write_or_throw(addr_ + offsetof(abi::ThreadBlock, tick_limit), &limits, sizeof limits);
  }
  // Replay's software watchpoint (abi::ThreadBlock::watch_*): the run's
  // real tick limit goes to watch_limit and tick_limit stays one tick ahead.
  void set_watch(uint64_t addr, uint32_t len, uint64_t value, uint64_t tick_limit) const {
    uint64_t ticks_now = ticks();
    struct {
      uint64_t addr;
      uint64_t value;
      uint64_t limit;
      uint32_t len;
    } __attribute__((packed)) w{addr, value, tick_limit, len};
    mem_.write_or_throw(addr_ + offsetof(abi::ThreadBlock, watch_addr), &w, sizeof w);
    mem_.write_value<uint64_t>(addr_ + offsetof(abi::ThreadBlock, tick_limit),
                               std::min(tick_limit, ticks_now + 1));
  }
  void clear_watch() const {
    mem_.write_value<uint32_t>(addr_ + offsetof(abi::ThreadBlock, watch_len), 0);
  }
  uint64_t tick_limit() const { return field<uint64_t>(offsetof(abi::ThreadBlock, tick_limit)); }
  uint64_t event_limit() const { return field<uint64_t>(offsetof(abi::ThreadBlock, event_limit)); }
  uint64_t watch_limit() const { return field<uint64_t>(offsetof(abi::ThreadBlock, watch_limit)); }
  uint32_t watch_len() const { return field<uint32_t>(offsetof(abi::ThreadBlock, watch_len)); }

  // The whole block in one read: the recorder's stops need several of its
  // fields, and each read is a syscall.
  abi::ThreadBlock snapshot() const {
    abi::ThreadBlock b{};
    mem_.read_or_throw(addr_, &b, sizeof b);
    return b;
  }

  // The events published since `from` up to `head` (at most a ring's worth,
  // the newest), into `out`, whose capacity is reused. `block` is a
  // snapshot() taken at this stop.
  void read_events(const abi::ThreadBlock& block, uint64_t from, uint64_t head,
                   trace::MapEventBuffer& out) const {
    out.clear();
    uint64_t ring = block.ring_addr;
    uint64_t capacity = block.ring_capacity;
    if (head <= from || ring == 0 || capacity == 0 || (capacity & (capacity - 1)) != 0) return;
    if (head - from > capacity) from = head - capacity;
    out.resize(head - from);
    for (uint64_t seq = from; seq < head;) {
      uint64_t slot = seq & (capacity - 1);
      uint64_t run = std::min<uint64_t>(head - seq, capacity - slot);
      if (!mem_.read_bulk(ring + slot * sizeof(abi::MapEvent), &out[seq - from],
                          run * sizeof(abi::MapEvent))) {
        throw Error(
            fmt::format("cannot read the map-event ring at {:#x} in process {}", ring, mem_.pid()));
      }
      seq += run;
    }
  }

 private:
  template <class T>
  T field(size_t off) const {
    return mem_.read_value<T>(addr_ + off);
  }
  const AddressSpace& mem_;
  uint64_t addr_;
};

}  // namespace backstep
