// The tracer's side of the runtime ABI (runtime/abi.h): reading a traced
// thread's ThreadBlock and writing its control fields through its memory.
#pragma once

#include <cstddef>
#include <vector>

#include "ptrace/task.h"
#include "runtime/abi.h"

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
  // Writes the fields the tracer owns.
  void set_control(uint64_t tick_limit, uint32_t trap_on_event, uint64_t ring_drained) const {
    struct {
      uint64_t tick_limit;
      uint32_t traced;
      uint32_t trap_on_event;
    } control{tick_limit, 1, trap_on_event};
    static_assert(offsetof(abi::ThreadBlock, traced) == offsetof(abi::ThreadBlock, tick_limit) + 8);
    static_assert(offsetof(abi::ThreadBlock, trap_on_event) ==
                  offsetof(abi::ThreadBlock, tick_limit) + 12);
    mem_.write_or_throw(addr_ + offsetof(abi::ThreadBlock, tick_limit), &control, sizeof control);
    mem_.write_value<uint64_t>(addr_ + offsetof(abi::ThreadBlock, ring_drained), ring_drained);
  }
  // The events published since `from` (at most a ring's worth).
  std::vector<abi::MapEvent> events_since(uint64_t from, uint64_t head) const {
    std::vector<abi::MapEvent> out;
    if (head <= from) return out;
    if (head - from > abi::kRingCapacity) from = head - abi::kRingCapacity;
    out.resize(head - from);
    for (uint64_t seq = from; seq < head;) {
      uint64_t slot = seq & (abi::kRingCapacity - 1);
      uint64_t run = std::min<uint64_t>(head - seq, abi::kRingCapacity - slot);
      mem_.read_or_throw(addr_ + offsetof(abi::ThreadBlock, ring) + slot * sizeof(abi::MapEvent),
                         &out[seq - from], run * sizeof(abi::MapEvent));
      seq += run;
    }
    return out;
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
