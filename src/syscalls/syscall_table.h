// What the recorder and replayer need to know about each Linux x86-64
// syscall: its name, whether replay executes or emulates it, which memory of
// the caller it writes, and whether it can block waiting for someone else.
//
// Only the native x86-64 ABI is described. Numbers carrying the x32 bit
// (__X32_SYSCALL_BIT) and 32-bit `int 0x80` calls (whose numbers mean other
// syscalls) are the caller's to detect; here they are simply "unknown".
//
// Result convention: `result` is the raw rax at syscall-exit, so failures are
// -errno, and the kernel-internal restart codes (-ERESTARTSYS = -512,
// -ERESTARTNOINTR, -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK = -516) can be
// seen by a ptrace tracer; they count as "interrupted" like -EINTR.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace backstep::sys {

// A syscall as at syscall-entry: orig_rax, then rdi, rsi, rdx, r10, r8, r9.
struct SyscallArgs {
  long nr;
  uint64_t arg[6];
};

struct MemRegion {
  uint64_t addr;
  uint64_t len;
  friend bool operator==(const MemRegion&, const MemRegion&) = default;
};

// Reads tracee memory (for outputs described by in-memory structures:
// readv's iovecs, recvmsg's msghdr, accept's *addrlen, ...). Returns false if
// the memory is unreadable. It is called at syscall-exit, so it sees what the
// kernel left there (e.g. the updated msg_controllen, *addrlen).
using ReadMemory = std::function<bool(uint64_t addr, void* out, size_t len)>;

// "read", "futex", ...; "unknown" for numbers not in the table (callers print
// the number themselves). Syscalls newer than the build's <sys/syscall.h>
// are unknown too.
std::string_view syscall_name(long nr);

enum class ReplayAction {
  kEmulate,  // not executed in replay: the recorded result and memory writes are applied
  kExecute,  // executed for real in replay (shapes threads/address space/in-process
             // state), result checked against the recording
};

struct SyscallInfo {
  std::string_view name;  // as syscall_name
  // The per-number action. prctl is kEmulate here but PR_SET_NAME is
  // executed: use replay_action(call) when the arguments are at hand.
  ReplayAction replay;
  // True iff syscall_outputs describes every call of this number completely
  // (i.e. outputs_known(call) is true for all argument values). False for
  // syscalls whose writes are not modelled, and for request-multiplexers
  // (ioctl, prctl, fcntl, ptrace, ...) where only some requests are known:
  // ask outputs_known(call) for those.
  bool known_outputs;
};

// Unknown numbers: {"unknown", kEmulate, false}.
SyscallInfo syscall_info(long nr);

// The per-call action: syscall_info(nr).replay, except prctl(PR_SET_NAME)
// which is kExecute.
ReplayAction replay_action(const SyscallArgs& call);

// Whether syscall_outputs describes this particular call's memory writes
// completely (decided from the arguments alone, e.g. the ioctl request).
bool outputs_known(const SyscallArgs& call);

// The memory a completed syscall wrote in the caller's address space, given
// its entry args and its raw result. Lengths are clamped by the result where
// the kernel does (read: result bytes, spread over iovecs in order). No
// zero-length regions are returned. Nothing is returned for a failed call
// unless the kernel writes on that failure (e.g. nanosleep's rem when
// interrupted, poll's revents when interrupted, waitid's siginfo).
//
// A region may be a little wider than what the kernel strictly stored (e.g.
// a whole msghdr, the kernel's (nfds+63)/64*8-byte fd_set clamp not being
// visible); such extra bytes were readable and unchanged by the call, so
// re-applying them in replay is a no-op. Where the kernel wrote
// min(caller's buffer, actual size) but only the actual size is visible at
// exit (socket addresses), the length is min(actual, sizeof(sockaddr_storage)).
//
// Order: the order in which the regions are listed in syscall_table.cc,
// deterministic for a given call (tests rely on it).
std::vector<MemRegion> syscall_outputs(const SyscallArgs& call, int64_t result,
                                       const ReadMemory& read_memory);

// Same, appending to `out`, and returning whether the description is
// complete: false if outputs_known(call) is false, or if read_memory failed on
// a structure the description depends on (the regions found so far are
// still appended).
bool describe_outputs(const SyscallArgs& call, int64_t result, const ReadMemory& read_memory,
                      std::vector<MemRegion>& out);

// How the fd in arg0 of a takes_blocking_fd() syscall is classified by the
// caller (e.g. from fstat in the tracee's fd table). kUnknown is treated as
// possibly blocking.
enum class FdKind { kUnknown, kRegularFile, kOther };

// Whether the call can block for an unbounded time waiting for another thread
// or process, so a serializing recorder must let other threads run while it
// is in the kernel. Conservative: unknown futex ops, ioctl requests and fd
// kinds say true. Cheap argument-only refinements are applied (WNOHANG,
// MSG_DONTWAIT, LOCK_NB, IPC_NOWAIT, poll/epoll_wait timeout 0); anything
// needing memory (ppoll's timespec, clone3's flags) stays conservative.
// `fd_kind` is only consulted when takes_blocking_fd(call.nr).
bool may_block(const SyscallArgs& call, FdKind fd_kind);

// Syscalls whose may_block answer depends on the kind of the fd in arg0
// (read/write families, send*, sendfile, ioctl).
bool takes_blocking_fd(long nr);

}  // namespace backstep::sys
