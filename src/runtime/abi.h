// The binary interface between the in-process runtime (linked into an
// instrumented target) and a tracer (backstep's recorder and replayer).
//
// Everything here is plain data with a fixed layout: the tracer reads and
// writes these structures in the target's memory through ptrace, so the
// layout is part of the trace format's contract. Bump kAbiVersion on any
// change.
#pragma once

#include <cstddef>
#include <cstdint>

namespace backstep::abi {

inline constexpr uint32_t kAbiVersion = 2;
inline constexpr uint64_t kThreadBlockMagic = 0x3130504554534b42ull;  // "BKSTEP01"

// A syscall number no kernel implements. The runtime issues it once per
// thread to register its ThreadBlock: natively it fails with ENOSYS (the
// runtime then knows no tracer listens); under backstep the tracer sees the
// syscall-entry stop, learns the block's address from rdi, writes the limits
// and makes the call return 0. The runtime sets tick_limit and event_limit
// to UINT64_MAX before the call, so an untraced thread never traps.
inline constexpr long kRegisterSyscall = 0x6b7374;  // 'kst'

// The ELF section holding the tick counter's code (__sanitizer_cov_trace_pc
// and its slow path). Instrumented code calls it at every function entry and
// loop header (src/instrument) or at every basic block (trace-pc).
inline constexpr char kTickSection[] = "backstep_ticks";

// Why the runtime executed its int3 (ThreadBlock::trap_reason).
enum class TrapReason : uint32_t {
  kNone = 0,
  kTickLimit = 1,  // ticks reached tick_limit (a timeslice or a replay target)
  kMapEvent = 2,   // ring_head reached event_limit (ring full, or a chosen event)
  kWatch = 3,      // replay only: the watched bytes changed since the last tick
};

// The operation a map event happened in.
enum class MapOp : uint8_t {
  kNone = 0,
  kLookup = 1,
  kAssign = 2,
  kDelete = 3,
  kClear = 4,
  kIterate = 5,
  kClone = 6,
  kPutAll = 7,  // only as MapEvent::outer_op: the assigns of a PutAll
};

// Map-flag transitions and growth steps, in the order Go's runtime makes them.
enum class MapEventKind : uint8_t {
  kIterStart = 1,   // iterator bits set, first step about to run
  kIterStep = 2,    // an iterator step checked hashWriting (clear)
  kWriteBegin = 3,  // hashWriting set (XOR) by assign/delete/clear
  kWriteEnd = 4,    // hashWriting cleared at the end of that operation
  kGrowStart = 5,   // arg0 = old B, arg1 = new B, arg2 = 1 if same-size
  kEvacuate = 6,    // arg1 = old bucket index evacuated; the event's nevacuate field is the
                    // mark after advancing; arg2 = 1 if old entries were kept for iterators
  kGrowFinish = 7,  // oldbuckets released
  kFatal = 8,       // a fatal check failed; arg0 = FatalKind, arg1 = GoMapFatalSite
                    // (1 on entry / iterator step, 2 at the end of a write, 3 clone per entry)
};

enum class FatalKind : uint8_t {
  kNone = 0,
  kConcurrentWrites = 1,        // "concurrent map writes"
  kConcurrentReadWrite = 2,     // "concurrent map read and map write"
  kConcurrentIterateWrite = 3,  // "concurrent map iteration and map write"
  kConcurrentCloneWrite = 4,    // "concurrent map clone and map write"
};

// The fixed text Go prints for each fatal check.
inline const char* fatal_message(FatalKind kind) {
  switch (kind) {
    case FatalKind::kConcurrentWrites:
      return "concurrent map writes";
    case FatalKind::kConcurrentReadWrite:
      return "concurrent map read and map write";
    case FatalKind::kConcurrentIterateWrite:
      return "concurrent map iteration and map write";
    case FatalKind::kConcurrentCloneWrite:
      return "concurrent map clone and map write";
    case FatalKind::kNone:
      break;
  }
  return "unknown map fatal";
}

// Map flag bits, as in Go's runtime/map.go.
inline constexpr uint8_t kFlagIterator = 1;
inline constexpr uint8_t kFlagOldIterator = 2;
inline constexpr uint8_t kFlagHashWriting = 4;
inline constexpr uint8_t kFlagSameSizeGrow = 8;

// One map event: 64 bytes, one cache line.
struct MapEvent {
  uint64_t seq;          // per-thread sequence number, from 0
  uint64_t ticks;        // the thread's tick count when the event was made
  uint64_t map;          // address of the map header
  uint64_t site;         // code address of the transition
  uint64_t count;        // live entries
  uint64_t nevacuate;    // evacuation mark
  uint32_t tid;          // kernel thread id
  uint8_t kind;          // MapEventKind
  uint8_t op;            // MapOp in which it happened
  uint8_t outer_op;      // MapOp of the caller (kPutAll for PutAll's assigns)
  uint8_t flags_before;  // map flags before the transition
  uint8_t flags_after;   // map flags after it
  uint8_t B;             // log2 of the bucket count (after the transition)
  uint8_t arg0;          // kind-specific, see MapEventKind
  uint8_t arg2;
  uint32_t arg1;
};
static_assert(sizeof(MapEvent) == 64);

// Events a thread's ring holds: 1 MiB of address space, mapped when the
// thread registers; only the pages written are ever committed.
inline constexpr uint32_t kRingCapacity = 16384;  // power of two

// The per-thread block, in the target's TLS. The runtime counts ticks and
// fills the ring; the tracer reads them and writes the limits.
struct ThreadBlock {
  uint64_t magic;          // kThreadBlockMagic once registered
  uint32_t version;        // kAbiVersion
  uint32_t tid;            // kernel thread id of the owner
  uint64_t ticks;          // function entries and loop iterations of instrumented code
  uint64_t tick_limit;     // tracer-written: trap when ticks reaches it
  uint64_t event_limit;    // tracer-written: trap when ring_head reaches it
  uint32_t traced;         // 1 when a tracer answered the registration
  uint32_t trap_reason;    // TrapReason of the last trap
  uint64_t ring_head;      // events ever published by this thread
  uint64_t ring_addr;      // address of MapEvent[ring_capacity], 0 if none
  uint32_t ring_capacity;  // kRingCapacity
  uint32_t reserved;
  // Replay's software watchpoint (this machine kind's debug registers never
  // fire). While watch_len is non-zero the tracer keeps tick_limit one tick
  // ahead, so that every tick takes the slow path, which compares the
  // watch_len bytes at watch_addr with watch_value, traps with kWatch when
  // they differ (storing the new value), and traps with kTickLimit only when
  // ticks reach watch_limit, the limit the run really has.
  uint64_t watch_addr;
  uint64_t watch_value;
  uint64_t watch_limit;
  uint32_t watch_len;  // 0 (off) to 8
  uint32_t reserved2;
};
static_assert(offsetof(ThreadBlock, ticks) == 16);
static_assert(offsetof(ThreadBlock, tick_limit) == 24);
static_assert(offsetof(ThreadBlock, event_limit) == offsetof(ThreadBlock, tick_limit) + 8);
static_assert(offsetof(ThreadBlock, traced) == offsetof(ThreadBlock, event_limit) + 8);
static_assert(offsetof(ThreadBlock, watch_addr) == 72);
static_assert(sizeof(ThreadBlock) == 104);

// The instrumented map's header, first member of every GoMap, laid out like
// Go's hmap so that a tracer can decode any map from its address alone.
struct MapHeader {
  uint64_t count;          // live entries
  uint8_t flags;           // kFlag* bits
  uint8_t B;               // log2 of the bucket count
  uint16_t noverflow;      // approximate number of overflow buckets
  uint32_t hash0;          // per-map hash seed
  uint64_t buckets;        // address of 2^B buckets
  uint64_t oldbuckets;     // previous bucket array while growing, else 0
  uint64_t nevacuate;      // old buckets below this are evacuated
  uint64_t extra;          // implementation-private (overflow bookkeeping)
  uint32_t key_size;       // sizeof(K): lets a tracer walk buckets
  uint32_t value_size;     // sizeof(V)
  uint32_t bucket_size;    // sizeof(bucket); the overflow pointer is at bucket_size - 8
  uint32_t key_offset;     // offset of keys[0] in a bucket (tophash at 0)
  uint32_t value_offset;   // offset of values[0] in a bucket
  int32_t live_iterators;  // iterators not yet destroyed (debug aid; Go has none)
  uint64_t magic;          // kMapHeaderMagic while the map is alive
};
inline constexpr uint64_t kMapHeaderMagic = 0x50414d4f47534b42ull;  // "BKSGOMAP"

}  // namespace backstep::abi
