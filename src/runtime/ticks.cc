// The software progress counter. With -fsanitize-coverage=trace-pc the
// compiler calls __sanitizer_cov_trace_pc() at every basic block of an
// instrumented target; counting them per thread gives "ticks": exact and
// deterministic positions that replay can find again, standing in for the
// retired-branch counter rr takes from a PMU this machine kind lacks.
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "runtime/runtime.h"
#include "runtime/thread_state.h"

namespace backstep::rt {
namespace {

// initial-exec: the block is in the executable's static TLS, one
// %fs-relative access away, and never allocated lazily.
thread_local abi::ThreadBlock tls_block __attribute__((tls_model("initial-exec")));

// The tick code lives in its own section so that a tracer can tell "inside
// the tick counter" from program code (abi::kTickSection): a replay position
// counted in ticks is taken where the counter hands control back.
__attribute__((noinline, noclone, section("backstep_ticks"))) void tick_slow_path(
    abi::ThreadBlock& b) {
  if (b.magic != abi::kThreadBlockMagic) {
    register_thread(b);
    if (b.ticks < b.tick_limit) return;
  }
  trap_to_tracer(b, abi::TrapReason::kTickLimit);
}

}  // namespace

abi::ThreadBlock& this_thread_block() {
  abi::ThreadBlock& b = tls_block;
  if (__builtin_expect(b.magic != abi::kThreadBlockMagic, 0)) register_thread(b);
  return b;
}

void register_thread(abi::ThreadBlock& b) {
  b.version = abi::kAbiVersion;
  b.tid = static_cast<uint32_t>(::syscall(SYS_gettid));
  // The ring lives outside TLS: it is large, and a thread's pages are only
  // committed as it publishes. It is never unmapped, so that a tracer can
  // drain it up to the thread's very last event.
  void* ring = ::mmap(nullptr, sizeof(abi::MapEvent) * abi::kRingCapacity,
                      PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  b.ring_addr = ring == MAP_FAILED ? 0 : reinterpret_cast<uint64_t>(ring);
  b.ring_capacity = abi::kRingCapacity;
  // Natively nothing stops this thread; a tracer overwrites the limits while
  // the registration syscall is stopped.
  b.tick_limit = UINT64_MAX;
  b.event_limit = UINT64_MAX;
  b.magic = abi::kThreadBlockMagic;
  int saved_errno = errno;
  long r = ::syscall(abi::kRegisterSyscall, &b, sizeof b);
  errno = saved_errno;
  b.traced = (r == 0) ? 1 : 0;
  tls_events_idle = b.traced ? 0 : 1;
}

}  // namespace backstep::rt

extern "C" __attribute__((section("backstep_ticks"))) void __sanitizer_cov_trace_pc() {
  backstep::abi::ThreadBlock& b = backstep::rt::tls_block;
  if (__builtin_expect(++b.ticks >= b.tick_limit, 0)) backstep::rt::tick_slow_path(b);
}
