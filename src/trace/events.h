// The recording's vocabulary: what the recorder writes into a trace's
// `events` stream and the replayer reads back, one record per fact.
//
// A recording is the global sequence of the threads' *stops* (syscall
// entries and exits, tick traps, map-event traps, signals, clones, exits),
// each saying how the thread was resumed to reach it and what the thread
// looked like there. Replaying is resuming the same thread the same way and
// checking that it stops at the same place: that is what makes divergence
// detectable at every event.
#pragma once

#include <sys/user.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory_resource>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "runtime/abi.h"
#include "trace/map_event_batch.h"
#include "trace/record.h"

namespace backstep::trace {

// Version of the event vocabulary (the container has its own version).
// 3: Stop records of kind kInterrupt, Switch records of reason kInterrupt
//    (a thread preempted by the wall clock; see recorder/preemption.cc);
//    FileMap records name the file object they map (its identity, so that
//    replay can make mappings of one file alias), and FileChange records
//    carry what syscalls changed in a mapped file; process trees and exec:
//    stops of kinds fork, vfork and exec, the Process record, Exec records
//    in mid-trace (with the file executed); the syscall buffer:
//    SyscallBuffer and CodeWrite records.
// 2: MapEvents records hold their events compactly (trace/map_event_batch.h).
// 1: MapEvents records hold 64-byte abi::MapEvents; still read.
inline constexpr uint32_t kEventsVersion = 3;
inline constexpr uint32_t kOldestEventsVersion = 1;

enum class RecordType : uint16_t {
  kHeader = 1,
  kExec = 2,
  kStop = 3,
  kMapEvent = 4,
  kSwitch = 5,
  kFileMap = 6,
  kEnd = 7,
  kPatch = 8,
  kFileChange = 9,
  kProcess = 10,
  kSyscallBuffer = 11,
  kCodeWrite = 12,
};

struct Header {
  uint32_t events_version = kEventsVersion;
  std::string exe;
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  std::string cwd;
  std::string cpu_model;
  std::string scheduler;  // "fair" or "chaos"
  uint64_t seed = 0;
  uint64_t timeslice = 0;
  bool pid_namespace = false;
  uint64_t start_unix_ns = 0;
  std::string exe_sha;  // content hash of the executable
  // `backstep pack` replaced the environment's values (names and lengths
  // kept, see share/bundle.h). A trailing byte of the record written only
  // when set: other traces read as false.
  bool env_redacted = false;
};

// A process's new image: the first one (always the second record), and
// one after every exec stop (StopKind::kExec) in mid-trace.
struct Exec {
  int32_t tid = 0;  // the thread running the new image (the process's leader)
  user_regs_struct regs{};
  std::vector<std::byte> auxv;  // as the program saw it (vDSO hidden)
  std::array<std::byte, 16> at_random{};
  // In mid-trace only (empty in the first): the file as the program named
  // it to execve/execveat (a path, or "" with AT_EMPTY_PATH), the file the
  // kernel ran (differs for a script: its interpreter), and the name of the
  // copy of the named file under files/ (replay runs it when the original
  // is gone or changed).
  std::string path;
  std::string exe;
  std::string content;
  int32_t former_tid = 0;  // the thread that called exec, when not the leader
};

// A new process (fork, vfork, clone without CLONE_THREAD), right after the
// event stop of the thread that made it.
struct ProcessStart {
  int32_t pid = 0;     // as the program sees it (its leader's tid)
  int32_t parent = 0;  // the process that made it
  int32_t tid = 0;     // the thread that made it
  uint64_t flags = 0;  // clone flags (fork: SIGCHLD; vfork: CLONE_VM | CLONE_VFORK | SIGCHLD)
};

enum class StopKind : uint8_t {
  kSyscallEntry = 1,
  kSyscallExit = 2,
  kTrap = 3,    // the runtime's int3: ThreadBlock::trap_reason says why
  kSignal = 4,  // a signal-delivery stop, delivered on the next resume
  kRdtsc = 5,   // rdtsc/rdtscp trapped (PR_TSC_SIGSEGV) and emulated
  kClone = 6,   // PTRACE_EVENT_CLONE: `value` is the new thread's tid
  kExit = 7,    // PTRACE_EVENT_EXIT: `value` is the wait status
  // The recorder interrupted the thread (it ran a wall-clock timeslice
  // without a stop while others could run). Replay finds the instant again
  // by its signature: `regs` (all of them), `ticks`, `value` (a digest of
  // the vector registers, see ptrace/interrupt_signature.h) and `writes`,
  // which here are memory the thread must hold at the instant (compared,
  // never written). `result`: microseconds the thread had run (bounds the
  // search). Events version 3.
  kInterrupt = 8,
  kFork = 9,    // PTRACE_EVENT_FORK: `value` is the new process's pid
  kVfork = 10,  // PTRACE_EVENT_VFORK: `value` is the new process's pid
  kExec = 11,   // PTRACE_EVENT_EXEC: `value` is the thread's tid from now on
};

// Where a memory write recorded with a syscall lands.
struct MemWrite {
  uint64_t addr = 0;
  std::vector<std::byte> data;
};

// How the recorder let the thread run to reach a stop; replay repeats it.
struct Resumption {
  uint8_t how = 0;         // Resume
  int32_t signal = 0;      // signal delivered by the resume, 0 if none
  bool has_block = false;  // the thread registered a ThreadBlock
  uint64_t tick_limit = 0;
  uint64_t event_limit = 0;
};

struct Stop {
  int32_t tid = 0;
  StopKind kind{};
  Resumption resumed;
  uint64_t ticks = 0;  // the thread's tick counter at the stop (0 without a block)
  user_regs_struct regs{};
  // kSyscallEntry/kSyscallExit: the syscall number; kSignal: the signal;
  // kClone, kFork, kVfork: the child's tid; kExit: the wait status;
  // kExec: the thread's tid after exec (the leader's); kTrap: trap reason;
  // kRdtsc: the emulated counter value; kInterrupt: the vector registers' digest.
  int64_t value = 0;
  // kSyscallExit: the result; kSignal: si_code; kInterrupt: microseconds run.
  int64_t result = 0;
  // kSyscallExit: memory the syscall wrote; kInterrupt: memory the thread
  // holds at the instant (part of its signature).
  std::vector<MemWrite> writes;
  // kSignal, for a signal from outside the program (a timer, another
  // process): its siginfo_t as the kernel queued it, which replay gives the
  // handler again. Empty otherwise, and in traces made before it was kept.
  std::vector<std::byte> siginfo;
};

// The map events a thread published since its previous stop, drained from
// its ring at this point of the recording, oldest first.
struct MapEvents {
  MapEventBatch events;
};

enum class SwitchReason : uint8_t {
  kStart = 0,
  kBlocked = 1,    // the thread entered a syscall that may block
  kTimeslice = 2,  // its timeslice (in ticks) ran out
  kMapEvent = 3,   // chaos: a switch at a map-flag transition
  kExited = 4,
  kChaos = 5,      // chaos: a switch at another scheduling point
  kYield = 6,      // sched_yield
  kInterrupt = 7,  // a wall-clock timeslice ran out (a kInterrupt stop)
};

struct Switch {
  int32_t from = 0;
  int32_t to = 0;
  SwitchReason reason{};
  uint64_t ticks = 0;  // the tick count of `from` at the switch
};

// A file mapped by mmap: replay maps the trace's copy at the same address.
struct FileMap {
  int32_t tid = 0;
  uint64_t addr = 0;
  uint64_t length = 0;
  int32_t prot = 0;
  int32_t flags = 0;
  uint64_t offset = 0;
  std::string path;     // the original path ("/memfd:x (deleted)" and the like)
  std::string content;  // name of the copy under files/ in the trace: the file at map time
  uint64_t file_size = 0;
  // Events version 3 (0 in older traces). The file object mapped: one
  // number per file for as long as the program has it mapped somewhere
  // (recorder/mapped_files.h), so that mappings with the same object alias
  // in replay. Its identity when recorded, and how the program's fd was
  // opened (O_RDONLY, O_WRONLY or O_RDWR), which decides what protections
  // a shared mapping may get later.
  uint32_t object = 0;
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint8_t access = 0;
};

// What a syscall changed in a mapped file object (write, pwrite,
// ftruncate, ...): the bytes now at `offset`, and the file's size
// afterwards. A mapping of the file (shared, or private where it has not
// written) shows the change. Precedes the syscall-exit Stop of `tid`.
struct FileChange {
  int32_t tid = 0;
  uint32_t object = 0;
  uint64_t offset = 0;
  std::vector<std::byte> data;
  uint64_t size = 0;
};

// rdtsc/rdtscp instructions the tracer replaced with int3 (see
// ptrace/rdtsc_patcher.h), right after the stop before this record.
struct Patch {
  struct Site {
    uint64_t addr = 0;
    uint8_t length = 0;
  };
  std::vector<Site> sites;
};

struct End {
  bool exited = false;        // exit(code) vs killed by signal
  int32_t code = 0;           // exit code or signal number
  std::string fatal_message;  // the map's fatal error, if any
  int32_t fatal_tid = 0;
  bool interrupted = false;  // the recording was stopped (Ctrl-C), not the program
};

// The syscalls a thread made through the syscall buffer (src/preload) since
// its previous stop, drained at the following stop: bksb_record entries of
// preload/syscallbuf_abi.h, back to back, as the program's library wrote them.
struct SyscallBuffer {
  int32_t tid = 0;
  // A loaded trace keeps these in its BulkArena (trace/bulk_arena.h).
  std::pmr::vector<std::byte> records;
};

// `to` := `from`, with one memcpy: libstdc++ constructs the elements of a
// vector with any allocator but std::allocator one at a time, so assign()
// or the range constructor copy a byte per iteration (about 2.5 GB/s here:
// a third of recording a 200 MB copy's CPU went there).
inline void assign_bytes(std::pmr::vector<std::byte>& to, std::span<const std::byte> from) {
  to.resize(from.size());  // its zeros are a memset
  if (!from.empty()) std::memcpy(to.data(), from.data(), from.size());
}

// Code the tracer wrote into the program after the stop before this record:
// syscall sites patched into jumps to the buffer's slots, and the slots.
// When `rip` is set, thread `tid` (at that stop, coming back from the
// patched syscall) goes on from there, the same instruction in the slot.
struct CodeWrite {
  std::vector<MemWrite> writes;
  int32_t tid = 0;
  uint64_t rip = 0;
};

using Event = std::variant<Header, Exec, Stop, MapEvents, Switch, FileMap, End, Patch, FileChange,
                           ProcessStart, SyscallBuffer, CodeWrite>;

RecordType record_type(const Event& e);
void encode(const Event& e, RecordBuilder& out);
// The same for a MapEvents record, without copying it into an Event.
void encode(const MapEvents& m, RecordBuilder& out);
// Throws TraceError on a malformed payload. `events_version` is the trace's
// (its Header's): the layout of MapEvents records depends on it.
// `bulk`: where the bytes of SyscallBuffer records go.
Event decode(uint16_t type, std::span<const std::byte> payload,
             uint32_t events_version = kEventsVersion,
             std::pmr::memory_resource* bulk = std::pmr::get_default_resource());

const char* stop_kind_name(StopKind k);
const char* switch_reason_name(SwitchReason r);
const char* map_event_kind_name(uint8_t kind);
const char* map_op_name(uint8_t op);

}  // namespace backstep::trace
