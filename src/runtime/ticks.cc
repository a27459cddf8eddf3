// The software progress counter: "ticks", exact and deterministic positions
// that replay can find again, standing in for the retired-branch counter rr
// takes from a PMU this machine kind lacks. Instrumented code calls
// __sanitizer_cov_trace_pc() at every function entry and loop header (the
// gcc plugin in src/instrument) or at every basic block
// (-fsanitize-coverage=trace-pc, other compilers); this file counts the
// calls per thread and stops the thread at the tick a tracer asked for.
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "runtime/runtime.h"
#include "runtime/thread_state.h"

// initial-exec: the block is in the executable's static TLS, one
// %fs-relative access away, and never allocated lazily. C linkage: the tick
// counter below is written in assembly and names it.
extern "C" {
__attribute__((
    tls_model("initial-exec"))) thread_local backstep::abi::ThreadBlock backstep_tls_block;
// The slow path runs on a stack of its own (see the assembly below): what it
// pushes must not land on the program's stack, where a program that reads
// stale stack slots (libc's syscall() loads its sixth argument from one)
// would see whether a tracer stopped it there.
__attribute__((tls_model("initial-exec"))) alignas(
    64) thread_local unsigned char backstep_tls_slow_stack[16384];
// The vector registers are saved on that stack too (see below): an XSAVE area
// for the x87, SSE, AVX and AVX-512 states (2,688 bytes at most), 64-aligned.
__attribute__((tls_model("initial-exec"))) thread_local uint64_t backstep_tls_slow_rsp;
}

namespace {

// rt::trap_to_tracer, for the slow path below: a function compiled with
// other target options is not inlined into it, and this trap must happen
// inside the tick section, which a tracer recognizes.
[[gnu::always_inline, gnu::target("general-regs-only")]] inline void trap_in_tick_section(
    backstep::abi::ThreadBlock& b, backstep::abi::TrapReason reason) {
  b.trap_reason = static_cast<uint32_t>(reason);
  asm volatile("int3" ::: "memory");
}

}  // namespace

// Reached when ticks reached tick_limit: registers the thread on its first
// tick, else stops it for the tracer. Called from the assembly below with
// every general register saved. Compiled to use no vector register: once
// the thread is registered this is all that runs (a value watch runs it at
// every tick), and the program's vector state must survive it unsaved;
// registration calls libc and runs with that state saved.
extern "C"
    __attribute__((noinline, used, section("backstep_ticks"), target("general-regs-only"))) void
    backstep_tick_slow_path() {
  using namespace backstep;
  abi::ThreadBlock& b = backstep_tls_block;
  if (b.magic != abi::kThreadBlockMagic) {
    rt::register_thread(b);
    if (b.ticks < b.tick_limit) return;
  }
  if (b.watch_len != 0) {
    // Byte by byte and without libc: everything here must stay inside the
    // tick section, which a tracer steps out of to reach program code.
    uint64_t now = 0;
    const volatile uint8_t* p = reinterpret_cast<const volatile uint8_t*>(b.watch_addr);
    for (uint32_t i = 0; i < b.watch_len && i < 8; ++i)
      now |= static_cast<uint64_t>(p[i]) << (8 * i);
    if (now != b.watch_value) {
      b.watch_value = now;
      trap_in_tick_section(b, abi::TrapReason::kWatch);
    }
    if (b.ticks < b.watch_limit) {
      b.tick_limit = b.ticks + 1;
      return;
    }
    b.tick_limit = b.watch_limit;
  }
  trap_in_tick_section(b, abi::TrapReason::kTickLimit);
}

// __sanitizer_cov_trace_pc, called at every tick of instrumented code.
// Hand-written so that both of its paths leave every register and the
// flags exactly alike: the fast path changes only the counter (and the flags,
// through its compare), and the slow path saves what it uses and redoes the
// same compare before returning. A replay that stopped a thread at a tick
// (the slow path, taken because the tracer lowered the limit) is then in
// exactly the state a run that did not stop there has at the same point:
// positions counted in ticks are exact. The gcc plugin's call site declares
// no clobbers at all, so the slow path also keeps the vector state: the C
// code it calls uses none, except on the thread's first tick (registration
// calls libc), which saves it (XSAVE of components 0-7; AMX tiles, never
// enabled for a process unasked, are left out). The code lives in its own
// section (abi::kTickSection) so that a tracer can tell it from program code.
// Offsets: magic at 0, ticks at 16, tick_limit at 24 (static_asserts in
// abi.h and below).
static_assert(offsetof(backstep::abi::ThreadBlock, magic) == 0);
static_assert(backstep::abi::kThreadBlockMagic == 0x3130504554534b42ull);
asm(R"(
  .pushsection backstep_ticks,"ax",@progbits
  .globl __sanitizer_cov_trace_pc
  .type __sanitizer_cov_trace_pc,@function
  .p2align 4
__sanitizer_cov_trace_pc:
  addq $1, %fs:backstep_tls_block@tpoff+16
  pushq %rax
  movq %fs:backstep_tls_block@tpoff+16, %rax
  cmpq %fs:backstep_tls_block@tpoff+24, %rax
  popq %rax
  jae 1f
  ret
1:
  movq %rsp, %fs:backstep_tls_slow_rsp@tpoff
  movq %fs:0, %rsp
  leaq backstep_tls_slow_stack@tpoff+16384(%rsp), %rsp
  pushq %rax
  pushq %rcx
  pushq %rdx
  pushq %rsi
  pushq %rdi
  pushq %r8
  pushq %r9
  pushq %r10
  pushq %r11
  pushq %rbx
  movq %rsp, %rbx
  movabsq $0x3130504554534b42, %rax
  cmpq %rax, %fs:backstep_tls_block@tpoff
  jne 2f
  call backstep_tick_slow_path
  jmp 3f
2:
  subq $4096, %rsp
  andq $-64, %rsp
  xorl %eax, %eax
  movq %rax, 512(%rsp)
  movq %rax, 520(%rsp)
  movq %rax, 528(%rsp)
  movq %rax, 536(%rsp)
  movq %rax, 544(%rsp)
  movq %rax, 552(%rsp)
  movq %rax, 560(%rsp)
  movq %rax, 568(%rsp)
  movl $0xff, %eax
  xorl %edx, %edx
  xsave64 (%rsp)
  call backstep_tick_slow_path
  movl $0xff, %eax
  xorl %edx, %edx
  xrstor64 (%rsp)
3:
  movq %rbx, %rsp
  popq %rbx
  popq %r11
  popq %r10
  popq %r9
  popq %r8
  popq %rdi
  popq %rsi
  popq %rdx
  popq %rcx
  movq %fs:backstep_tls_block@tpoff+16, %rax
  cmpq %fs:backstep_tls_block@tpoff+24, %rax
  popq %rax
  movq %fs:backstep_tls_slow_rsp@tpoff, %rsp
  ret
  .size __sanitizer_cov_trace_pc, .-__sanitizer_cov_trace_pc
  .popsection
)");

namespace backstep::rt {

abi::ThreadBlock& this_thread_block() {
  abi::ThreadBlock& b = backstep_tls_block;
  if (__builtin_expect(b.magic != abi::kThreadBlockMagic, 0)) register_thread(b);
  return b;
}

void register_thread(abi::ThreadBlock& b) {
  b.version = abi::kAbiVersion;
  b.tid = static_cast<uint32_t>(::syscall(SYS_gettid));
  // The ring lives outside TLS: it is large, and a thread's pages are only
  // committed as it publishes. It is never unmapped, so that a tracer can
  // drain it up to the thread's very last event.
  void* ring = ::mmap(nullptr, sizeof(abi::MapEvent) * abi::kRingCapacity, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
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
