// The small runtime linked into every program that uses the instrumented
// map: map-event publication, fatal errors, the random source, and (in
// ticks.cc) the software progress counter.
//
// It is compiled without coverage instrumentation so that its own code never
// counts ticks or recurses into the tick callback.
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/abi.h"

namespace backstep::rt {

// The calling thread's block, registered with a tracer on first use.
abi::ThreadBlock& this_thread_block();

// True when a tracer answered this thread's registration.
bool traced();

// What the map passes for each transition; the runtime adds seq, ticks, tid
// and the site (the return address of the call).
struct MapEventFields {
  const void* map = nullptr;
  abi::MapEventKind kind{};
  abi::MapOp op = abi::MapOp::kNone;
  uint8_t flags_before = 0;
  uint8_t flags_after = 0;
  uint8_t B = 0;
  uint64_t count = 0;
  uint64_t nevacuate = 0;
  uint8_t arg0 = 0;
  uint32_t arg1 = 0;
  uint8_t arg2 = 0;
};

// Whether map events are wanted at all: not when this thread is registered,
// no tracer answered, and no test observer is set. The map asks before it
// builds an event, so that idle hooks cost two loads and a branch.
extern thread_local uint8_t tls_events_idle __attribute__((tls_model("initial-exec")));
extern std::atomic<bool> g_observer_active;
inline bool map_events_idle() {
  return tls_events_idle != 0 && !g_observer_active.load(std::memory_order_relaxed);
}

// Publishes one event into the thread's ring (and traps to the tracer when it
// asked for it). Not inlined: the return address is the event's site.
[[gnu::noinline]] void publish_map_event(const MapEventFields& fields);

// The fixed text Go prints for each fatal check.
const char* fatal_message(abi::FatalKind kind);

// Publishes a kFatal event, prints "fatal error: <message>" and this thread's
// stack to stderr, and aborts with SIGABRT. Cannot be caught.
[[noreturn, gnu::noinline]] void map_fatal(const MapEventFields& fields, abi::FatalKind kind);

// Marks the calling thread as inside an outer operation (PutAll) so that the
// events of the operations it makes carry it as outer_op.
class ScopedOuterOp {
 public:
  explicit ScopedOuterOp(abi::MapOp op);
  ~ScopedOuterOp();
  ScopedOuterOp(const ScopedOuterOp&) = delete;
  ScopedOuterOp& operator=(const ScopedOuterOp&) = delete;

 private:
  abi::MapOp saved_;
};

// A fast per-thread pseudo-random source (wyrand), seeded once per thread
// from the getrandom syscall, which a recorder captures and a replayer
// restores. Never reads the time stamp counter.
uint64_t random_u64();

// Test support: called synchronously after every published event on the
// publishing thread. Lets a test run a second map operation at the exact
// moment the first one holds hashWriting, with no threads and no timing.
using MapEventObserver = void (*)(const abi::MapEvent& event, void* context);
void set_map_event_observer(MapEventObserver observer, void* context);

}  // namespace backstep::rt
