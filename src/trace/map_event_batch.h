// A batch of map events, held compactly: the form they take in a trace's
// MapEvents records (events version 2, docs/trace-format.md).
//
// A map-heavy program publishes millions of 64-byte abi::MapEvents, and
// consecutive events of one thread differ in a few fields (the tick count,
// the kind, a count that moves by one). Storing each event as the changes
// from the events before it takes 2 to 4 bytes instead of 64, which is what
// zstd then sees when recording and what a loaded trace keeps in memory.
// Each batch is self-contained: decoding starts afresh at its first event,
// so any batch can be read without the ones before it.
//
// The encoding is lossless for any 64 bytes (the recorder records whatever
// the program left in its ring). Events are decoded on the fly while
// iterating; from_encoded() checks a whole batch once, so that iterating a
// batch never fails.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <vector>

#include "base/default_init_allocator.h"
#include "runtime/abi.h"

namespace backstep::trace {

// Raw events as read from a thread's ring; resize() leaves them unwritten
// (the read that follows fills them).
using MapEventBuffer = std::vector<abi::MapEvent, DefaultInitAllocator<abi::MapEvent>>;

namespace detail {

// What an event is predicted from: the event before it, and per kind the
// fields that depend on where and why it was made.
struct MapEventContext {
  static constexpr int kKindSlots = 16;  // kinds 1-15 have a slot; others share slot 0
  struct KindMemory {
    uint64_t site = 0;
    uint32_t arg1 = 0;
    uint8_t small[7] = {};  // op, outer_op, flags_before, flags_after, B, arg0, arg2
  };
  abi::MapEvent last{};
  uint64_t next_seq = 0;
  KindMemory kinds[kKindSlots];

  static int slot(uint8_t kind) { return kind < kKindSlots ? kind : 0; }
};

// Decodes one batch's events in order. next() throws TraceError when the
// bytes are not a valid encoding; it never reads outside [pos, end).
class MapEventDecoder {
 public:
  MapEventDecoder() = default;
  MapEventDecoder(const std::byte* pos, const std::byte* end) : pos_(pos), end_(end) {}
  void next();
  const abi::MapEvent& current() const { return context_.last; }
  const std::byte* position() const { return pos_; }

 private:
  const std::byte* pos_ = nullptr;
  const std::byte* end_ = nullptr;
  MapEventContext context_;
};

}  // namespace detail

class MapEventBatch {
 public:
  // An input iterator: *it refers to the iterator's own decoded event, valid
  // until the iterator moves (copy the event to keep it).
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = abi::MapEvent;
    using difference_type = std::ptrdiff_t;
    using pointer = const abi::MapEvent*;
    using reference = const abi::MapEvent&;

    Iterator() = default;
    reference operator*() const { return decoder_.current(); }
    pointer operator->() const { return &decoder_.current(); }
    Iterator& operator++() {
      if (--left_ > 0) decoder_.next();
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++*this;
      return before;
    }
    // Iterators of one batch are equal when as many events are left.
    bool operator==(const Iterator& other) const { return left_ == other.left_; }

   private:
    friend class MapEventBatch;
    Iterator(const std::byte* pos, const std::byte* end, uint32_t count)
        : decoder_(pos, end), left_(count) {
      if (left_ > 0) decoder_.next();
    }
    detail::MapEventDecoder decoder_;
    uint32_t left_ = 0;
  };
  using const_iterator = Iterator;

  MapEventBatch() = default;
  explicit MapEventBatch(std::span<const abi::MapEvent> events) {
    assign(events);
    bytes_.shrink_to_fit();
  }
  // Replaces the contents, keeping the buffer's capacity (the recorder
  // reuses one batch for every drain).
  void assign(std::span<const abi::MapEvent> events);
  // A batch from its encoded form (a MapEvents record's payload), checked
  // in full. Throws TraceError when `bytes` do not hold exactly `count`
  // events.
  static MapEventBatch from_encoded(uint32_t count, std::span<const std::byte> bytes);

  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  Iterator begin() const { return {bytes_.data(), bytes_.data() + bytes_.size(), count_}; }
  Iterator end() const { return {}; }
  // front() decodes one event, back() the whole batch.
  abi::MapEvent front() const { return *begin(); }
  abi::MapEvent back() const;
  std::vector<abi::MapEvent> to_vector() const { return {begin(), end()}; }

  std::span<const std::byte> encoded() const { return bytes_; }
  bool operator==(const MapEventBatch&) const = default;

 private:
  // Default-initialized growth: assign() sizes for the worst case, writes,
  // then trims, without zero-filling the room first.
  std::vector<std::byte, DefaultInitAllocator<std::byte>> bytes_;
  uint32_t count_ = 0;
};

}  // namespace backstep::trace
