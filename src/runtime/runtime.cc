#include "runtime/runtime.h"

#include <execinfo.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "runtime/thread_state.h"

namespace backstep::rt {

thread_local uint8_t tls_events_idle = 0;
std::atomic<bool> g_observer_active{false};

namespace {

thread_local abi::MapOp tls_outer_op = abi::MapOp::kNone;
thread_local uint64_t tls_random_state = 0;
thread_local bool tls_random_seeded = false;

std::atomic<MapEventObserver> g_observer{nullptr};
std::atomic<void*> g_observer_context{nullptr};

void publish(const MapEventFields& f, uint64_t site) {
  abi::ThreadBlock& b = this_thread_block();
  auto* ring = reinterpret_cast<abi::MapEvent*>(b.ring_addr);
  if (__builtin_expect(ring == nullptr, 0)) return;  // no memory for a ring
  abi::MapEvent& e = ring[b.ring_head & (b.ring_capacity - 1)];
  e.seq = b.ring_head;
  e.ticks = b.ticks;
  e.map = reinterpret_cast<uint64_t>(f.map);
  e.site = site;
  e.count = f.count;
  e.nevacuate = f.nevacuate;
  e.tid = b.tid;
  e.kind = static_cast<uint8_t>(f.kind);
  e.op = static_cast<uint8_t>(f.op);
  e.outer_op = static_cast<uint8_t>(tls_outer_op);
  e.flags_before = f.flags_before;
  e.flags_after = f.flags_after;
  e.B = f.B;
  e.arg0 = f.arg0;
  e.arg1 = f.arg1;
  e.arg2 = f.arg2;
  b.ring_head++;
  // A tracer sets the limit to drain the ring before it wraps, or to stop
  // the thread right after a chosen transition (a scheduling point).
  if (__builtin_expect(b.ring_head >= b.event_limit, 0)) {
    trap_to_tracer(b, abi::TrapReason::kMapEvent);
  }
  if (MapEventObserver observer = g_observer.load(std::memory_order_acquire)) {
    observer(e, g_observer_context.load(std::memory_order_relaxed));
  }
}

}  // namespace

bool traced() { return this_thread_block().traced != 0; }

void publish_map_event(const MapEventFields& fields) {
  publish(fields, reinterpret_cast<uint64_t>(__builtin_return_address(0)));
}

const char* fatal_message(abi::FatalKind kind) { return abi::fatal_message(kind); }

void map_fatal(const MapEventFields& fields, abi::FatalKind kind) {
  MapEventFields f = fields;
  f.kind = abi::MapEventKind::kFatal;
  f.arg0 = static_cast<uint8_t>(kind);
  publish(f, reinterpret_cast<uint64_t>(__builtin_return_address(0)));

  // Like Go's throw with GOTRACEBACK=crash: the message, this thread's
  // stack, then SIGABRT so that tracers, debuggers and core dumps see it.
  char line[160];
  int n = std::snprintf(line, sizeof line, "fatal error: %s\n\nthread %d [running]:\n",
                        abi::fatal_message(kind), static_cast<int>(this_thread_block().tid));
  if (n > 0) {
    [[maybe_unused]] ssize_t ignored = ::write(STDERR_FILENO, line, static_cast<size_t>(n));
  }
  void* frames[64];
  int depth = ::backtrace(frames, 64);
  ::backtrace_symbols_fd(frames, depth, STDERR_FILENO);

  // abort() would run SIGABRT handlers a program installed and could be
  // survived by one that longjmps; Go's throw cannot be caught. Restore the
  // default action and unblock SIGABRT first, then raise it.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGABRT, &dfl, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGABRT);
  ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  std::abort();
}

ScopedOuterOp::ScopedOuterOp(abi::MapOp op) : saved_(tls_outer_op) { tls_outer_op = op; }
ScopedOuterOp::~ScopedOuterOp() { tls_outer_op = saved_; }

uint64_t random_u64() {
  if (!tls_random_seeded) {
    uint64_t seed = 0;
    // getrandom(2) directly: a syscall the recorder captures (glibc's
    // wrapper is also a plain syscall in 2.36, but be explicit).
    long got = ::syscall(SYS_getrandom, &seed, sizeof seed, 0);
    if (got != static_cast<long>(sizeof seed))
      seed = 0x9e3779b97f4a7c15ull ^ this_thread_block().tid;
    tls_random_state = seed;
    tls_random_seeded = true;
  }
  // wyrand
  tls_random_state += 0xa0761d6478bd642full;
  __uint128_t m =
      static_cast<__uint128_t>(tls_random_state) * (tls_random_state ^ 0xe7037ed1a0b428dbull);
  return static_cast<uint64_t>(m >> 64) ^ static_cast<uint64_t>(m);
}

void set_map_event_observer(MapEventObserver observer, void* context) {
  g_observer_context.store(context, std::memory_order_relaxed);
  g_observer.store(observer, std::memory_order_release);
  g_observer_active.store(observer != nullptr, std::memory_order_relaxed);
}

}  // namespace backstep::rt
