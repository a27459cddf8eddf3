/* libbackstep_preload.so: the syscall buffer's in-process half.
 *
 * `backstep record` preloads it into every program. Under backstep it makes
 * the common syscalls without a ptrace stop: it performs them through one
 * instruction its seccomp filter lets through (BKSB_UNTRACED_PAGE) and logs
 * each into a per-thread buffer the recorder copies into the trace at the
 * thread's next stop. In replay the same code finds the records the
 * replayer wrote back into the buffer and answers the calls from them,
 * checking that each is the call that was recorded.
 *
 * Calls reach it two ways: glibc's syscall() is interposed here (hook.S),
 * and the tracer patches `mov $nr,%eax; syscall` sites in the program's
 * libraries into jumps to slots that call bksb_hook (recorder/
 * syscall_buffer.cc). Without backstep (the registration fails with ENOSYS)
 * it stays out of the way: every call goes to the kernel as usual.
 *
 * A buffered call must never block: the recorder runs one thread at a time
 * and would not know that this one waits. So reads and writes of pipes,
 * sockets and other non-files are made with RWF_NOWAIT / MSG_DONTWAIT, poll
 * and epoll_wait with a zero timeout, futex waits with a zero timeout; when
 * that says "would block", the call is made again, traced, as without the
 * buffer (the recorder then lets other threads run while it waits).
 *
 * Everything here runs without the program's stack (hook.S) and calls
 * nothing of libc that could make a syscall.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "syscallbuf_abi.h"

#define BKSB_TRACED ((long)0x8000000000000000ull)
/* What the tracer makes an untraced call return when a signal it raised
 * (SIGPIPE) must come from a traced call instead: see BKSB_ABORTED_RESULT. */
#define BKSB_ABORTED ((long)BKSB_ABORTED_RESULT)
#define HIDDEN __attribute__((visibility("hidden")))

/* Offsets used by hook.S (TLS_*). */
struct bksb_tls {
  int32_t state; /* 0: not set up yet in this thread, 1: buffering, -1: off */
  int32_t depth; /* inside bksb_hook's buffered path */
  uint64_t saved_rsp;
  uint64_t stack_top;
  uint64_t saved_nr;
  uint64_t clean_rsp;
  struct bksb_header* hdr;
};
_Static_assert(offsetof(struct bksb_tls, stack_top) == 16, "hook.S TLS_STACK_TOP");
_Static_assert(offsetof(struct bksb_tls, clean_rsp) == 32, "hook.S TLS_CLEAN_RSP");

HIDDEN __thread struct bksb_tls bksb_tls __attribute__((tls_model("initial-exec")));

struct bksb_call {
  long nr;
  long a[6];
};

extern char bksb_slots[] HIDDEN;
void bksb_hook(void) HIDDEN;
long bksb_untraced(long nr, long a0, long a1, long a2, long a3, long a4, long a5) HIDDEN;
long bksb_clean_traced(long nr, const long* args) HIDDEN;
long bksb_handle(struct bksb_call* c) HIDDEN;
void bksb_thread_init(void) HIDDEN;

/* Whether the process buffers at all: the tracer answered the first
 * registration and the filter is in place. */
static int g_enabled;

/* Written by the recorder (syscallbuf_abi.h): writes to these files are
 * traced, so that the recorder records what they change in the mappings. */
static struct bksb_mapped_files g_mapped_files;

/* A traced syscall from C (set-up paths, which record and replay run alike). */
static long traced(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
  register long r10 __asm__("r10") = a3;
  register long r8 __asm__("r8") = a4;
  register long r9 __asm__("r9") = a5;
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "0"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

/* The library's own memcpy and memset (hidden: the program's calls still go
 * to libc's). libc's use vector registers, and which of them end up holding
 * what depends on the direction and alignment of the copy, which differ
 * between record (into the buffer) and replay (out of it): the program would
 * come back from a buffered call with other vector registers in replay. The
 * compiler's own calls (struct copies) land here too. */
HIDDEN void* memcpy(void* dst, const void* src, size_t n) {
  void* d = dst;
  __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
  return dst;
}

HIDDEN void* memset(void* dst, int c, size_t n) {
  void* d = dst;
  __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
  return dst;
}

static inline long U(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
  return bksb_untraced(nr, a0, a1, a2, a3, a4, a5);
}

/* ---- Set-up ---- */

static int register_thread(struct bksb_header* h) {
  memset(h, 0, sizeof *h);
  h->magic = BKSB_MAGIC;
  h->version = BKSB_VERSION;
  h->capacity = BKSB_BUFFER_BYTES - sizeof *h;
  h->slots = (uint64_t)(uintptr_t)bksb_slots;
  h->hook = (uint64_t)(uintptr_t)bksb_hook;
  h->files = (uint64_t)(uintptr_t)&g_mapped_files;
  return traced(BKSB_REGISTER_SYSCALL, (long)h, BKSB_VERSION, 0, 0, 0, 0) == 0;
}

void bksb_thread_init(void) {
  struct bksb_tls* t = &bksb_tls;
  t->state = -1;
  if (!g_enabled) return;
  long m = traced(SYS_mmap, 0, BKSB_STACK_BYTES + BKSB_BUFFER_BYTES, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if ((unsigned long)m > -4096ul) return;
  struct bksb_header* h = (struct bksb_header*)(m + BKSB_STACK_BYTES);
  if (!register_thread(h)) {
    traced(SYS_munmap, m, BKSB_STACK_BYTES + BKSB_BUFFER_BYTES, 0, 0, 0, 0);
    return;
  }
  t->hdr = h;
  t->stack_top = (uint64_t)(uintptr_t)h;
  t->state = 1;
}

static int install_filter(void) {
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)BKSB_UNTRACED_IP, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer) + 4),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(BKSB_UNTRACED_IP >> 32), 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
  };
  struct sock_fprog prog = {sizeof filter / sizeof filter[0], filter};
  long r = traced(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)&prog, 0, 0, 0);
  if (r == -EACCES) {
    /* Without CAP_SYS_ADMIN a filter needs no_new_privs (set-user-ID
     * programs this one executes then run without their privileges). */
    if (traced(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0) != 0) return 0;
    r = traced(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)&prog, 0, 0, 0);
  }
  return r == 0;
}

/* A forked child starts over: its buffer is registered again (a tracer
 * that records the child answers; otherwise every call goes traced). */
static void after_fork_in_child(void) {
  bksb_tls.state = 0;
  bksb_tls.depth = 0;
  bksb_tls.hdr = 0;
}

__attribute__((constructor)) static void bksb_init(void) {
  g_enabled = 1;
  bksb_thread_init();
  if (bksb_tls.state != 1) {
    g_enabled = 0; /* no tracer answers: natively, or buffering is off */
    return;
  }
  long page = traced(SYS_mmap, BKSB_UNTRACED_PAGE, 4096, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  int ok = page == (long)BKSB_UNTRACED_PAGE;
  if (ok) {
    static const unsigned char code[] = {0x0f, 0x05, 0xc3}; /* syscall; ret */
    memcpy((void*)(uintptr_t)page, code, sizeof code);
    ok = traced(SYS_mprotect, page, 4096, PROT_READ | PROT_EXEC, 0, 0, 0) == 0 && install_filter();
  } else if ((unsigned long)page <= -4096ul) {
    traced(SYS_munmap, page, 4096, 0, 0, 0, 0);
  }
  if (!ok) {
    g_enabled = 0;
    bksb_tls.state = -1;
    return;
  }
  /* From here on the tracer resumes this thread (and those it makes) with
   * PTRACE_CONT: only traced syscalls stop. */
  traced(BKSB_REGISTER_SYSCALL, (long)bksb_tls.hdr, BKSB_VERSION, 1, 0, 0, 0);
  pthread_atfork(0, 0, after_fork_in_child);
}

/* ---- Buffered calls ---- */

/* FD_MAPPED: a regular file some mapping of the program maps. */
enum fd_kind { FD_FILE, FD_OTHER, FD_MAPPED };

static int is_mapped_file(const struct stat* st) {
  const volatile struct bksb_mapped_files* m = &g_mapped_files;
  if (m->overflow) return 1;
  uint32_t n = m->count < BKSB_MAPPED_FILES_MAX ? m->count : BKSB_MAPPED_FILES_MAX;
  for (uint32_t i = 0; i < n; ++i) {
    if (m->ids[i].dev == (uint64_t)st->st_dev && m->ids[i].ino == (uint64_t)st->st_ino) return 1;
  }
  return 0;
}

/* The fstat of the fd the call being recorded uses: a write asks both
 * whether it goes where stdout does and what kind of file it writes, and
 * on this machine kind every syscall costs as much as the rest of the
 * buffered call. Forgotten at the start of every call (record_call); no
 * other code of the program runs in between (asynchronous signals are
 * held until the next traced stop). */
static __thread struct {
  long fd;
  long result;
  struct stat st;
} g_call_fstat __attribute__((tls_model("initial-exec"))) = {-1, 0, {0}};

static long call_fstat(long fd, struct stat* st) {
  if (g_call_fstat.fd != fd) {
    g_call_fstat.result = U(SYS_fstat, fd, (long)&g_call_fstat.st, 0, 0, 0, 0);
    g_call_fstat.fd = fd;
  }
  *st = g_call_fstat.st;
  return g_call_fstat.result;
}

/* Regular files and directories never block; anything else may. */
static enum fd_kind fd_kind(long fd) {
  struct stat st;
  if (call_fstat(fd, &st) != 0) return FD_FILE; /* fails alike */
  switch (st.st_mode & S_IFMT) {
    case S_IFREG:
      return is_mapped_file(&st) ? FD_MAPPED : FD_FILE;
    case S_IFDIR:
    case S_IFBLK:
      return FD_FILE;
    default:
      return FD_OTHER;
  }
}

/* Whether an open of `path` (relative to dirfd) returns at once: it names
 * a regular file or a directory, or nothing (it fails, or O_CREAT makes a
 * regular file). Opening a FIFO waits for the other end, a device may wait
 * too: those opens are traced, so that the recorder lets another thread
 * run meanwhile. (A file replaced by a FIFO between the two calls is not
 * covered.) O_TRUNC changes the file, which may be mapped: traced too. */
static int opens_at_once(long dirfd, long path, long flags) {
  if (flags & O_TRUNC) return 0;
  struct stat st;
  long r = U(SYS_newfstatat, dirfd, path, (long)&st, 0, 0, 0);
  if (r == -ENOENT) return 1;
  if (r != 0) return 0;
  return S_ISREG(st.st_mode) || S_ISDIR(st.st_mode);
}

/* Whether fd writes where stdout or stderr does (the same file): replay
 * prints what such writes wrote, so the record keeps the bytes. */
static int writes_to_terminal(long fd) {
  if (fd == 1 || fd == 2) return 1;
  struct stat st, out;
  if (call_fstat(fd, &st) != 0) return 0;
  for (long std_fd = 1; std_fd <= 2; ++std_fd) {
    if (U(SYS_fstat, std_fd, (long)&out, 0, 0, 0, 0) == 0 && out.st_dev == st.st_dev &&
        out.st_ino == st.st_ino) {
      return 1;
    }
  }
  return 0;
}

struct out {
  char* p;
  char* end;
};

static void region(struct out* o, uint64_t addr, uint64_t len, uint32_t flags) {
  if (len == 0 || addr == 0) return;
  struct bksb_region* r = (struct bksb_region*)o->p;
  r->addr = addr;
  r->len = (uint32_t)len;
  r->flags = flags;
  memcpy(r + 1, (const void*)(uintptr_t)addr, len);
  o->p += sizeof *r + ((len + 7) & ~7ull);
}

/* Worst-case bytes of regions a call may add (argument values only: the
 * program's memory is not read before the kernel has vouched for it). */
static uint64_t out_bound(const struct bksb_call* c, int echo) {
  const long* a = c->a;
  switch (c->nr) {
    case SYS_read:
    case SYS_pread64:
    case SYS_getdents64:
      return (uint64_t)a[2] + 24;
    case SYS_getrandom:
      return (uint64_t)a[1] + 24;
    case SYS_recvfrom:
      return (uint64_t)a[2] + 24 + 128 + 24 + 8 + 24;
    case SYS_readlink:
    case SYS_getcwd:
      return (uint64_t)(c->nr == SYS_getcwd ? a[1] : a[2]) + 24;
    case SYS_readlinkat:
      return (uint64_t)a[3] + 24;
    case SYS_write:
    case SYS_pwrite64:
      return echo ? (uint64_t)a[2] + 24 : 0;
    case SYS_clock_gettime:
    case SYS_gettimeofday:
    case SYS_time:
      return 2 * (16 + 24);
    case SYS_stat:
    case SYS_lstat:
    case SYS_fstat:
    case SYS_newfstatat:
      return sizeof(struct stat) + 24;
    case SYS_statx:
      return 256 + 24;
    case SYS_poll:
      return (uint64_t)a[1] * 8 + 24;
    case SYS_ioctl:
      return 36 + 24;
    case SYS_epoll_wait:
      return (uint64_t)a[2] * 12 + 24;
    default:
      return 0;
  }
}

/* Whether the call may go through the buffer at all (from its arguments). */
static int bufferable(const struct bksb_header* h, const struct bksb_call* c) {
  const long* a = c->a;
  switch (c->nr) {
    case SYS_read:
    case SYS_write:
    case SYS_pread64:
    case SYS_pwrite64:
    case SYS_writev:
    case SYS_recvfrom:
    case SYS_sendto:
    case SYS_clock_gettime:
    case SYS_gettimeofday:
    case SYS_time:
    case SYS_getpid:
    case SYS_gettid:
    case SYS_getppid:
    case SYS_getuid:
    case SYS_geteuid:
    case SYS_getgid:
    case SYS_getegid:
    case SYS_getpgrp:
    case SYS_poll:
    case SYS_epoll_wait:
    case SYS_lseek:
    case SYS_stat:
    case SYS_lstat:
    case SYS_fstat:
    case SYS_newfstatat:
    case SYS_statx:
    case SYS_open:
    case SYS_openat:
    case SYS_close:
    case SYS_access:
    case SYS_faccessat:
    case SYS_faccessat2:
    case SYS_readlink:
    case SYS_readlinkat:
    case SYS_getcwd:
    case SYS_getdents64:
    case SYS_madvise:
      break;
    case SYS_getrandom:
      if (h->flags & BKSB_FLAG_NO_GETRANDOM) return 0;
      break;
    case SYS_fcntl:
      if (a[1] != F_GETFD && a[1] != F_SETFD && a[1] != F_GETFL) return 0;
      break;
    case SYS_ioctl:
      if (a[1] != TCGETS) return 0; /* isatty(), tcgetattr() */
      break;
    case SYS_futex:
      switch (a[1] & FUTEX_CMD_MASK) {
        case FUTEX_WAKE:
        case FUTEX_WAKE_BITSET:
        case FUTEX_WAIT:
        case FUTEX_WAIT_BITSET:
          break;
        default:
          return 0;
      }
      break;
    default:
      return 0;
  }
  if (c->nr == SYS_writev && writes_to_terminal(c->a[0])) return 0; /* echo needs the bytes */
  return 1;
}

/* The rest of a write that went part of the way without blocking, written
 * with traced calls (which may block, as the program's own would). */
static long finish_write(const struct bksb_call* c, long done) {
  if (c->nr == SYS_writev) {
    const struct iovec* iov = (const struct iovec*)c->a[1];
    long skip = done;
    for (long i = 0; i < c->a[2]; ++i) {
      long len = (long)iov[i].iov_len;
      long off = skip < len ? skip : len;
      skip -= off;
      while (off < len) {
        long args[6] = {c->a[0], (long)iov[i].iov_base + off, len - off, 0, 0, 0};
        long r = bksb_clean_traced(SYS_write, args);
        if (r <= 0) return done;
        off += r;
        done += r;
      }
    }
    return done;
  }
  long total = c->a[2];
  while (done < total) {
    long args[6] = {c->a[0], c->a[1] + done, total - done, c->a[3], c->a[4], c->a[5]};
    long r = bksb_clean_traced(c->nr, args);
    if (r <= 0) break;
    done += r;
  }
  return done;
}

/* Performs the call without blocking. BKSB_TRACED when it would block. */
static long perform(const struct bksb_header* h, const struct bksb_call* c, uint16_t* flags) {
  const long* a = c->a;
  (void)h;
  switch (c->nr) {
    case SYS_read:
    case SYS_write: {
      enum fd_kind kind = fd_kind(a[0]);
      if (kind == FD_FILE || (kind == FD_MAPPED && c->nr == SYS_read)) {
        return U(c->nr, a[0], a[1], a[2], 0, 0, 0);
      }
      if (kind == FD_MAPPED) return BKSB_TRACED;
      struct iovec v = {(void*)a[1], (size_t)a[2]};
      long nr = c->nr == SYS_read ? SYS_preadv2 : SYS_pwritev2;
      long r = U(nr, a[0], (long)&v, 1, -1, 0, RWF_NOWAIT);
      if (r == -EAGAIN || r == -EOPNOTSUPP) return BKSB_TRACED;
      if (c->nr == SYS_write && r > 0 && r < a[2]) *flags |= BKSB_REC_PARTIAL;
      return r;
    }
    case SYS_writev: {
      enum fd_kind kind = fd_kind(a[0]);
      if (kind == FD_FILE) return U(c->nr, a[0], a[1], a[2], 0, 0, 0);
      if (kind == FD_MAPPED) return BKSB_TRACED;
      long r = U(SYS_pwritev2, a[0], a[1], a[2], -1, 0, RWF_NOWAIT);
      if (r == -EAGAIN || r == -EOPNOTSUPP) return BKSB_TRACED;
      if (r > 0) {
        const struct iovec* iov = (const struct iovec*)a[1];
        long total = 0;
        for (long i = 0; i < a[2]; ++i) total += (long)iov[i].iov_len;
        if (r < total) *flags |= BKSB_REC_PARTIAL;
      }
      return r;
    }
    case SYS_pread64:
    case SYS_pwrite64: {
      enum fd_kind kind = fd_kind(a[0]);
      if (kind == FD_FILE || (kind == FD_MAPPED && c->nr == SYS_pread64)) {
        return U(c->nr, a[0], a[1], a[2], a[3], 0, 0);
      }
      return BKSB_TRACED;
    }
    case SYS_open:
      if (!opens_at_once(AT_FDCWD, a[0], a[1])) return BKSB_TRACED;
      return U(c->nr, a[0], a[1], a[2], 0, 0, 0);
    case SYS_openat:
      if (!opens_at_once(a[0], a[1], a[2])) return BKSB_TRACED;
      return U(c->nr, a[0], a[1], a[2], a[3], 0, 0);
    case SYS_close:
      /* Only files: closing a socket with SO_LINGER waits for its data to
       * go out (and a close of anything else is rare enough to stop for). */
      if (fd_kind(a[0]) == FD_OTHER) return BKSB_TRACED;
      return U(c->nr, a[0], 0, 0, 0, 0, 0);
    case SYS_recvfrom:
    case SYS_sendto: {
      long r = U(c->nr, a[0], a[1], a[2], a[3] | MSG_DONTWAIT, a[4], a[5]);
      if (r == -EAGAIN && !(a[3] & MSG_DONTWAIT)) return BKSB_TRACED;
      if (c->nr == SYS_sendto && r > 0 && r < a[2] && !(a[3] & MSG_DONTWAIT)) {
        *flags |= BKSB_REC_PARTIAL;
      }
      return r;
    }
    case SYS_poll: {
      long r = U(SYS_poll, a[0], a[1], 0, 0, 0, 0);
      if (r == 0 && (int)a[2] != 0) return BKSB_TRACED;
      return r;
    }
    case SYS_epoll_wait: {
      long r = U(SYS_epoll_wait, a[0], a[1], a[2], 0, 0, 0);
      if (r == 0 && (int)a[3] != 0) return BKSB_TRACED;
      return r;
    }
    case SYS_futex: {
      int op = (int)a[1] & FUTEX_CMD_MASK;
      if (op == FUTEX_WAKE || op == FUTEX_WAKE_BITSET) {
        return U(SYS_futex, a[0], a[1], a[2], a[3], a[4], a[5]);
      }
      /* A wait returns at once only when the word differs: ask the kernel
       * with a timeout that has passed (relative 0, or absolute 0). */
      struct timespec zero = {0, 0};
      long r = U(SYS_futex, a[0], a[1], a[2], (long)&zero, a[4], a[5]);
      if (r == -ETIMEDOUT) {
        const struct timespec* want = (const struct timespec*)a[3];
        if (want && op == FUTEX_WAIT && want->tv_sec == 0 && want->tv_nsec == 0) return r;
        return BKSB_TRACED; /* it would wait */
      }
      return r;
    }
    case SYS_madvise:
      *flags |= BKSB_REC_EXECUTE;
      return U(c->nr, a[0], a[1], a[2], 0, 0, 0);
    default:
      return U(c->nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  }
}

/* The memory a completed call wrote (and what a write printed). */
static void outputs(const struct bksb_call* c, long r, int echo, struct out* o) {
  const long* a = c->a;
  if (r < 0) return;
  switch (c->nr) {
    case SYS_read:
    case SYS_pread64:
    case SYS_getdents64:
      region(o, (uint64_t)a[1], (uint64_t)r, 0);
      break;
    case SYS_getrandom:
      region(o, (uint64_t)a[0], (uint64_t)r, 0);
      break;
    case SYS_readlink:
      region(o, (uint64_t)a[1], (uint64_t)r, 0);
      break;
    case SYS_readlinkat:
      region(o, (uint64_t)a[2], (uint64_t)r, 0);
      break;
    case SYS_getcwd:
      region(o, (uint64_t)a[0], (uint64_t)r, 0);
      break;
    case SYS_recvfrom:
      region(o, (uint64_t)a[1], (uint64_t)r, 0);
      if (a[4] && a[5]) {
        uint32_t len = *(const uint32_t*)a[5];
        region(o, (uint64_t)a[5], 4, 0);
        region(o, (uint64_t)a[4], len < 128 ? len : 128, 0);
      }
      break;
    case SYS_write:
    case SYS_pwrite64:
      if (echo) region(o, (uint64_t)a[1], (uint64_t)r, BKSB_REGION_ECHO);
      break;
    case SYS_clock_gettime:
      region(o, (uint64_t)a[1], sizeof(struct timespec), 0);
      break;
    case SYS_gettimeofday:
      region(o, (uint64_t)a[0], 16, 0);
      region(o, (uint64_t)a[1], 8, 0);
      break;
    case SYS_time:
      region(o, (uint64_t)a[0], 8, 0);
      break;
    case SYS_stat:
    case SYS_lstat:
    case SYS_fstat:
      region(o, (uint64_t)a[1], sizeof(struct stat), 0);
      break;
    case SYS_newfstatat:
      region(o, (uint64_t)a[2], sizeof(struct stat), 0);
      break;
    case SYS_statx:
      region(o, (uint64_t)a[4], 256, 0);
      break;
    case SYS_poll:
      region(o, (uint64_t)a[0], (uint64_t)a[1] * 8, 0);
      break;
    case SYS_epoll_wait:
      region(o, (uint64_t)a[1], (uint64_t)r * 12, 0);
      break;
    case SYS_ioctl:
      region(o, (uint64_t)a[2], 36, 0); /* the kernel's struct termios */
      break;
    default:
      break;
  }
}

/* How many arguments of each call replay compares with the recording. */
static int arg_count(long nr) {
  switch (nr) {
    case SYS_getpid:
    case SYS_gettid:
    case SYS_getppid:
    case SYS_getuid:
    case SYS_geteuid:
    case SYS_getgid:
    case SYS_getegid:
    case SYS_getpgrp:
      return 0;
    case SYS_close:
    case SYS_time:
      return 1;
    case SYS_clock_gettime:
    case SYS_gettimeofday:
    case SYS_stat:
    case SYS_lstat:
    case SYS_fstat:
    case SYS_access:
    case SYS_getcwd:
      return 2;
    case SYS_read:
    case SYS_write:
    case SYS_writev:
    case SYS_lseek:
    case SYS_open:
    case SYS_poll:
    case SYS_readlink:
    case SYS_getdents64:
    case SYS_madvise:
    case SYS_getrandom:
    case SYS_fcntl:
    case SYS_ioctl:
      return 3;
    case SYS_pread64:
    case SYS_pwrite64:
    case SYS_openat:
    case SYS_newfstatat:
    case SYS_epoll_wait:
    case SYS_faccessat:
    case SYS_faccessat2:
    case SYS_readlinkat:
      return 4;
    case SYS_statx:
      return 5;
    case SYS_futex: {
      return 3; /* uaddr, op, val; the rest depends on the op */
    }
    default:
      return 6;
  }
}

static long record_call(struct bksb_header* h, const struct bksb_call* c) {
  g_call_fstat.fd = -1;
  if (!bufferable(h, c)) return BKSB_TRACED;
  const int echo = (c->nr == SYS_write || c->nr == SYS_pwrite64) && writes_to_terminal(c->a[0]);
  uint64_t need = sizeof(struct bksb_record) + out_bound(c, echo);
  if (need > h->capacity / 2 || need > h->capacity - h->used) return BKSB_TRACED;
  h->busy = 1;
  struct bksb_record* rec = (struct bksb_record*)((char*)(h + 1) + h->used);
  uint16_t flags = 0;
  long r = perform(h, c, &flags);
  if (r == BKSB_TRACED || r == BKSB_ABORTED) {
    h->busy = 0;
    return BKSB_TRACED;
  }
  rec->nr = (uint16_t)c->nr;
  rec->flags = flags;
  rec->result = r;
  for (int i = 0; i < 6; ++i) rec->args[i] = (uint64_t)c->a[i];
  struct out o = {(char*)(rec + 1), (char*)(h + 1) + h->capacity};
  outputs(c, r, echo, &o);
  rec->size = (uint32_t)(o.p - (char*)rec);
  h->used += rec->size; /* committed: the tracer may copy it from now on */
  if (flags & BKSB_REC_PARTIAL) r = finish_write(c, r);
  h->busy = 0;
  return r;
}

__attribute__((noreturn)) static void diverge(struct bksb_header* h, const struct bksb_call* c,
                                              const struct bksb_record* rec, int arg, uint64_t got,
                                              uint64_t want) {
  h->div_nr = c->nr;
  h->div_recorded_nr = rec ? rec->nr : -1;
  h->div_arg = arg;
  h->div_value = got;
  h->div_recorded_value = want;
  long args[6] = {0, 0, 0, 0, 0, 0};
  for (;;) bksb_clean_traced(BKSB_DIVERGENCE_SYSCALL, args); /* the replay ends there */
}

static long replay_call(struct bksb_header* h, const struct bksb_call* c) {
  if (h->drained >= h->used) return BKSB_TRACED; /* traced when recording too */
  struct bksb_record* rec = (struct bksb_record*)((char*)(h + 1) + h->drained);
  if (rec->nr != c->nr) diverge(h, c, rec, -1, 0, 0);
  for (int i = 0, n = arg_count(c->nr); i < n; ++i) {
    if (rec->args[i] != (uint64_t)c->a[i]) diverge(h, c, rec, i, (uint64_t)c->a[i], rec->args[i]);
  }
  h->drained += rec->size;
  h->busy = 1;
  long r = rec->result;
  if (rec->flags & BKSB_REC_EXECUTE) {
    long got = U(c->nr, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5]);
    if (got != r) diverge(h, c, rec, 6, (uint64_t)got, (uint64_t)r);
  }
  const char* p = (const char*)(rec + 1);
  const char* end = (const char*)rec + rec->size;
  while (p < end) {
    const struct bksb_region* g = (const struct bksb_region*)p;
    if (!(g->flags & BKSB_REGION_ECHO)) memcpy((void*)(uintptr_t)g->addr, g + 1, g->len);
    p += sizeof *g + ((g->len + 7) & ~7u);
  }
  if (rec->flags & BKSB_REC_PARTIAL) r = finish_write(c, r);
  h->busy = 0;
  return r;
}

long bksb_handle(struct bksb_call* c) {
  struct bksb_header* h = bksb_tls.hdr;
  switch (h->mode) {
    case BKSB_MODE_RECORD:
      return record_call(h, c);
    case BKSB_MODE_REPLAY:
      return replay_call(h, c);
    default:
      return BKSB_TRACED;
  }
}
