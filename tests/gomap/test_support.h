// Helpers shared by the GoMap tests: event capture through the runtime's
// test observer, a tracer-style walk of the raw buckets through the header,
// and an element type that checks its own lifetime.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "gomap/go_map.h"
#include "runtime/abi.h"
#include "runtime/runtime.h"

namespace backstep::gomap_test {

using abi::MapEvent;
using abi::MapEventKind;
using abi::MapOp;

inline MapEventKind kind_of(const MapEvent& e) { return static_cast<MapEventKind>(e.kind); }
inline MapOp op_of(const MapEvent& e) { return static_cast<MapOp>(e.op); }

inline const char* kind_name(MapEventKind k) {
  switch (k) {
    case MapEventKind::kIterStart: return "IterStart";
    case MapEventKind::kIterStep: return "IterStep";
    case MapEventKind::kWriteBegin: return "WriteBegin";
    case MapEventKind::kWriteEnd: return "WriteEnd";
    case MapEventKind::kGrowStart: return "GrowStart";
    case MapEventKind::kEvacuate: return "Evacuate";
    case MapEventKind::kGrowFinish: return "GrowFinish";
    case MapEventKind::kFatal: return "Fatal";
  }
  return "?";
}

inline std::string describe(const MapEvent& e) {
  return std::string(kind_name(kind_of(e))) + "(op=" + std::to_string(e.op) +
         " fb=" + std::to_string(e.flags_before) + " fa=" + std::to_string(e.flags_after) +
         " B=" + std::to_string(e.B) + " count=" + std::to_string(e.count) +
         " nev=" + std::to_string(e.nevacuate) + " a0=" + std::to_string(e.arg0) +
         " a1=" + std::to_string(e.arg1) + " a2=" + std::to_string(e.arg2) + ")";
}

// Records every event published while it is alive (the observer is
// process-wide: use only on a single thread).
class EventRecorder {
 public:
  EventRecorder() { rt::set_map_event_observer(&EventRecorder::observe, this); }
  ~EventRecorder() { rt::set_map_event_observer(nullptr, nullptr); }
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  const std::vector<MapEvent>& events() const { return events_; }
  std::vector<MapEvent> for_map(const void* map) const {
    std::vector<MapEvent> out;
    for (const MapEvent& e : events_) {
      if (e.map == reinterpret_cast<uint64_t>(map)) out.push_back(e);
    }
    return out;
  }
  size_t count(MapEventKind kind) const {
    size_t n = 0;
    for (const MapEvent& e : events_) n += kind_of(e) == kind;
    return n;
  }
  void clear() { events_.clear(); }

  // Called after recording each event (may run map operations).
  std::function<void(const MapEvent&)> then;

 private:
  static void observe(const MapEvent& e, void* ctx) {
    auto* self = static_cast<EventRecorder*>(ctx);
    self->events_.push_back(e);
    if (self->then) self->then(e);
  }
  std::vector<MapEvent> events_;
};

// Counts events by kind without storing them (for long randomized runs).
class EventCounter {
 public:
  EventCounter() { rt::set_map_event_observer(&EventCounter::observe, this); }
  ~EventCounter() { rt::set_map_event_observer(nullptr, nullptr); }
  EventCounter(const EventCounter&) = delete;
  EventCounter& operator=(const EventCounter&) = delete;

  uint64_t by_kind[16] = {};
  uint64_t same_size_grows = 0;
  uint64_t doubling_grows = 0;
  uint64_t evacuations_kept_for_iterators = 0;

 private:
  static void observe(const MapEvent& e, void* ctx) {
    auto* self = static_cast<EventCounter*>(ctx);
    self->by_kind[e.kind & 15]++;
    if (kind_of(e) == MapEventKind::kGrowStart) {
      (e.arg2 != 0 ? self->same_size_grows : self->doubling_grows)++;
    }
    if (kind_of(e) == MapEventKind::kEvacuate && e.arg2 != 0) self->evacuations_kept_for_iterators++;
  }
};

// A tracer's view of the buckets, from the header alone: tophash at offset
// 0 of each bucket, the overflow pointer in its last 8 bytes.
struct RawBuckets {
  explicit RawBuckets(const abi::MapHeader& h) : header(h) {}

  const uint8_t* bucket(uint64_t array, size_t index) const {
    return reinterpret_cast<const uint8_t*>(array + index * header.bucket_size);
  }
  const uint8_t* overflow(const uint8_t* b) const {
    uint64_t p;
    std::memcpy(&p, b + header.bucket_size - sizeof(uint64_t), sizeof p);
    return reinterpret_cast<const uint8_t*>(p);
  }
  // Visits every bucket of the chain of `index` in `array`.
  template <class F>
  void chain(uint64_t array, size_t index, F&& f) const {
    for (const uint8_t* b = bucket(array, index); b != nullptr; b = overflow(b)) f(b);
  }

  const abi::MapHeader& header;
};

// Checks its own lifetime: every object is constructed once and destroyed
// once, never used after destruction. `live` counts objects alive.
struct Tracked {
  static inline long live = 0;
  static inline long errors = 0;
  static constexpr uint64_t kAlive = 0x0a11'7e00'0a11'7e00ull;

  Tracked() : Tracked(0) {}
  explicit Tracked(long v) : value(v), magic(kAlive) { ++live; }
  Tracked(const Tracked& o) : value(o.value), magic(kAlive) {
    check(o);
    ++live;
  }
  Tracked(Tracked&& o) noexcept : value(o.value), magic(kAlive) {
    check(o);
    ++live;
  }
  Tracked& operator=(const Tracked& o) {
    check(*this);
    check(o);
    value = o.value;
    return *this;
  }
  Tracked& operator=(Tracked&& o) noexcept {
    check(*this);
    check(o);
    value = o.value;
    return *this;
  }
  ~Tracked() {
    check(*this);
    magic = 0xdeadull;
    --live;
  }
  static void check(const Tracked& t) {
    if (t.magic != kAlive) ++errors;
  }
  bool operator==(const Tracked& o) const {
    check(*this);
    check(o);
    return value == o.value;
  }

  long value;
  uint64_t magic;
};

struct TrackedHash {
  size_t operator()(const Tracked& t) const {
    Tracked::check(t);
    return std::hash<long>{}(t.value);
  }
};

}  // namespace backstep::gomap_test
