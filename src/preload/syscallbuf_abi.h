/* The binary contract between the syscall buffer's in-process library
 * (src/preload, LD_PRELOADed into every recorded program) and the tracer
 * (recorder/syscall_buffer.cc, replayer/replay_syscall_buffer.cc).
 *
 * Plain C with fixed layouts: the library is C, the tracer C++, and the
 * records below are copied verbatim into traces (trace::SyscallBuffer), so
 * this layout is part of the trace format. Bump BKSB_VERSION on any change.
 *
 * How it works (docs/ARCHITECTURE.md, "The syscall buffer"): the library
 * performs common syscalls itself through one syscall instruction that its
 * seccomp filter lets through without a ptrace stop, and logs each one
 * (number, arguments, result, the memory it wrote) into a per-thread buffer.
 * The recorder copies the buffer into the trace at the thread's next stop;
 * replay writes those records back into the buffer before the thread runs
 * toward that stop, and the library answers the calls from them.
 */
#ifndef BACKSTEP_PRELOAD_SYSCALLBUF_ABI_H_
#define BACKSTEP_PRELOAD_SYSCALLBUF_ABI_H_

#include <stdint.h>

#define BKSB_VERSION 2
#define BKSB_MAGIC 0x3142535350544b42ull /* "BKTPSSB1" */

/* Syscall numbers no kernel implements. Natively they fail with ENOSYS, so
 * a library loaded without backstep stays out of the way. */
#define BKSB_REGISTER_SYSCALL 0x6b7375L   /* rdi = header: the tracer answers 0 */
#define BKSB_DIVERGENCE_SYSCALL 0x6b7376L /* replay: the header's report says what differs */

/* A page at a fixed address holding `syscall; ret`: the one instruction the
 * seccomp filter lets through untraced. Fixed, so that a filter inherited
 * across exec still names the right instruction. */
#define BKSB_UNTRACED_PAGE 0x70000000ull
/* seccomp_data.instruction_pointer: the address after the instruction. */
#define BKSB_UNTRACED_IP (BKSB_UNTRACED_PAGE + 2)

/* A signal stop at BKSB_UNTRACED_IP comes from a buffered call (SIGPIPE
 * of a write to a pipe nobody reads). The recorder drops the signal and
 * makes the call return this; the library then makes the call again,
 * traced, and the kernel raises the signal where replay sees it too. */
#define BKSB_ABORTED_RESULT 0x8000000000000001ull

/* Per-thread sizes. */
#define BKSB_BUFFER_BYTES (1u << 20) /* header + records */
#define BKSB_STACK_BYTES (64u << 10) /* the library's own stack, below the buffer */

/* Patch slots (see "Patched syscall sites"): a site `mov $nr,%eax; syscall`
 * in the program's libraries becomes `jmp slot; syscall`, the slot being
 * `lea -128(%rsp),%rsp; mov $nr,%eax; call hook; lea 128(%rsp),%rsp;
 * jmp site+7`. The slot area is part of the library's text. */
#define BKSB_SLOT_BYTES 32
#define BKSB_SLOT_COUNT 2048

enum bksb_mode {
  BKSB_MODE_OFF = 0,    /* every call goes traced (set around vfork) */
  BKSB_MODE_RECORD = 1, /* perform and log */
  BKSB_MODE_REPLAY = 2, /* answer from the records the replayer wrote */
};

enum bksb_flags {
  BKSB_FLAG_NO_GETRANDOM = 1, /* --chaos: the recorder answers getrandom from the seed */
};

/* At the start of each thread's buffer; the records follow it. */
struct bksb_header {
  uint64_t magic;
  uint32_t version;
  uint32_t capacity; /* bytes for records after this header */
  uint32_t mode;     /* tracer-written: enum bksb_mode */
  uint32_t flags;    /* tracer-written: enum bksb_flags */
  /* Record: bytes of complete records (library), bytes of them already in
   * the trace (tracer). Replay: bytes of records written by the replayer
   * (used), bytes of them answered (drained, library). */
  uint32_t used;
  uint32_t drained;
  uint32_t busy;  /* library: inside a buffered call */
  uint32_t tid;   /* library: the thread's id (for the tracer's checks) */
  uint64_t slots; /* address of the patch slot area (BKSB_SLOT_COUNT slots) */
  uint64_t hook;  /* address of the slots' hook */
  /* Replay divergence report, written by the library before it makes
   * BKSB_DIVERGENCE_SYSCALL: the call it made and what was recorded. */
  int64_t div_nr;
  int64_t div_recorded_nr;
  int32_t div_arg; /* -1: no record left of a call that needs one; else the argument */
  uint32_t reserved;
  uint64_t div_value;
  uint64_t div_recorded_value;
  uint64_t files; /* address of the process's struct bksb_mapped_files */
  uint64_t reserved2[3];
};

/* The files some mapping of the program maps (the recorder's file objects,
 * recorder/mapped_files.h), by device and inode; one table per process, in
 * the library's data, written by the recorder whenever the set changes.
 * A buffered write would change such a file without the recorder seeing it
 * (no FileChange record: the replayed mappings would not show the write),
 * so the library makes write-family calls on these files traced. With
 * `overflow` set the table is incomplete: every write to a regular file
 * is traced. */
#define BKSB_MAPPED_FILES_MAX 126
struct bksb_file_id {
  uint64_t dev;
  uint64_t ino;
};
struct bksb_mapped_files {
  uint32_t count;
  uint32_t overflow;
  struct bksb_file_id ids[BKSB_MAPPED_FILES_MAX];
};

/* One buffered syscall. `size` covers the record and its regions, a
 * multiple of 8. */
struct bksb_record {
  uint32_t size;
  uint16_t nr;
  uint16_t flags; /* enum bksb_record_flags */
  int64_t result;
  uint64_t args[6];
};

enum bksb_record_flags {
  /* Replay runs it for real too (madvise: it changes memory). */
  BKSB_REC_EXECUTE = 1,
  /* A write that went part of the way without blocking: the library
   * writes the rest with traced calls, in replay as when recording. */
  BKSB_REC_PARTIAL = 2,
};

/* Memory the call wrote, after its record: the bytes follow, padded to 8. */
struct bksb_region {
  uint64_t addr;
  uint32_t len;
  uint32_t flags; /* enum bksb_region_flags */
};

enum bksb_region_flags {
  /* Not written by the call: what a write to fd 1 or 2 printed, which a
   * replay prints again (replay does not apply it). */
  BKSB_REGION_ECHO = 1,
};

#ifdef __cplusplus
static_assert(sizeof(struct bksb_header) == 128, "bksb_header layout");
static_assert(sizeof(struct bksb_record) == 64, "bksb_record layout");
static_assert(sizeof(struct bksb_region) == 16, "bksb_region layout");
static_assert(sizeof(struct bksb_mapped_files) == 2024, "bksb_mapped_files layout");
#else
_Static_assert(sizeof(struct bksb_header) == 128, "bksb_header layout");
_Static_assert(sizeof(struct bksb_record) == 64, "bksb_record layout");
_Static_assert(sizeof(struct bksb_region) == 16, "bksb_region layout");
_Static_assert(sizeof(struct bksb_mapped_files) == 2024, "bksb_mapped_files layout");
#endif

#endif /* BACKSTEP_PRELOAD_SYSCALLBUF_ABI_H_ */
