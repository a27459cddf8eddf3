// The syscall knowledge table. See syscall_table.h for the contract.
//
// Sizes come from the system's UAPI/glibc structs; where glibc and the kernel
// could differ (termios, sigaction, ...) the kernel layout is used, and the
// sizes the x86-64 kernel ABI fixes are static_asserted below.
#include "syscalls/syscall_table.h"

// clang-format off
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <mqueue.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <time.h>

#include <asm/ldt.h>
#include <asm/prctl.h>
#include <asm/termbits.h>  // the kernel's struct termios (glibc's <termios.h> differs)
#include <linux/aio_abi.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/futex.h>
#include <linux/sched.h>   // struct clone_args
#include <linux/seccomp.h>
#include <linux/sockios.h>
#include <linux/types.h>
// clang-format on

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>

namespace backstep::sys {
namespace {

// ---------------------------------------------------------------------------
// ABI sizes this file relies on (x86-64 kernel layouts).
static_assert(sizeof(struct stat) == 144);
static_assert(sizeof(struct statfs) == 120);
static_assert(sizeof(struct statx) == 256);
static_assert(sizeof(struct rusage) == 144);
static_assert(sizeof(struct utsname) == 6 * 65);
static_assert(sizeof(struct sysinfo) == 112);
static_assert(sizeof(struct tms) == 32);
static_assert(sizeof(struct timespec) == 16);
static_assert(sizeof(struct timeval) == 16);
static_assert(sizeof(struct itimerval) == 32);
static_assert(sizeof(struct itimerspec) == 32);
static_assert(sizeof(struct rlimit) == 16);
static_assert(sizeof(struct iovec) == 16);
static_assert(sizeof(struct msghdr) == 56);
static_assert(sizeof(struct mmsghdr) == 64);
static_assert(sizeof(struct epoll_event) == 12);  // packed on x86-64
static_assert(sizeof(struct pollfd) == 8);
static_assert(sizeof(struct sockaddr_storage) == 128);
static_assert(sizeof(stack_t) == 24);
static_assert(sizeof(siginfo_t) == 128);
static_assert(sizeof(struct timex) == 208);
static_assert(sizeof(struct termios) == 36);  // kernel struct, from <asm/termbits.h>
static_assert(sizeof(struct winsize) == 8);
static_assert(sizeof(struct flock) == 32);
static_assert(sizeof(struct io_event) == 32);
static_assert(sizeof(struct mq_attr) == 64);
static_assert(sizeof(struct user_desc) == 16);
static_assert(sizeof(struct __user_cap_data_struct) == 12);
static_assert(sizeof(struct user_regs_struct) == 216);
static_assert(sizeof(struct user_fpregs_struct) == 512);
static_assert(sizeof(struct ifreq) == 40);
static_assert(sizeof(__kernel_timer_t) == 4);

// Kernel-internal errnos a ptrace tracer can observe at syscall-exit
// (include/linux/errno.h; not exported to userspace headers).
constexpr int64_t kERestartSys = 512;
constexpr int64_t kERestartNoIntr = 513;
constexpr int64_t kERestartNoHand = 514;
constexpr int64_t kERestartRestartBlock = 516;

// The kernel's struct sigaction (arch/x86/include/uapi/asm/signal.h):
// handler, flags, restorer, then sigsetsize bytes of mask.
constexpr uint64_t kKernelSigactionHeader = 3 * sizeof(uint64_t);

// syslog(2) actions (include/linux/syslog.h; not in userspace headers).
constexpr uint64_t kSyslogActionRead = 2;
constexpr uint64_t kSyslogActionReadAll = 3;
constexpr uint64_t kSyslogActionReadClear = 4;
constexpr uint64_t kSyslogActionSizeBuffer = 10;

// name_to_handle_at(2): AT_HANDLE_MNT_ID_UNIQUE (Linux 6.12) makes mount_id
// a u64. Older kernels reject the bit with EINVAL, so on success it means 8.
constexpr uint64_t kAtHandleMntIdUnique = 0x001;

// modify_ldt(2) functions: read, write (old), read default, write.
bool modify_ldt_known(uint64_t func) { return func == 0 || func == 1 || func == 2 || func == 0x11; }

// x86-64 base page size (mincore's vector has one byte per page).
constexpr uint64_t kPageSize = 4096;
// The kernel refuses iovec arrays longer than this (UIO_MAXIOV).
constexpr uint64_t kMaxIov = 1024;

bool failed(int64_t result) { return result < 0 && result >= -4095; }
bool succeeded(int64_t result) { return !failed(result); }
bool interrupted(int64_t result) {
  return result == -EINTR || result == -kERestartSys || result == -kERestartNoIntr ||
         result == -kERestartNoHand || result == -kERestartRestartBlock;
}
uint64_t ures(int64_t result) { return result > 0 ? static_cast<uint64_t>(result) : 0; }

// ---------------------------------------------------------------------------
// Names.

struct NameEntry {
  long nr;
  std::string_view name;
};

#define BS_SYS(n) \
  NameEntry { SYS_##n, #n }
constexpr NameEntry kNames[] = {
    BS_SYS(read),
    BS_SYS(write),
    BS_SYS(open),
    BS_SYS(close),
    BS_SYS(stat),
    BS_SYS(fstat),
    BS_SYS(lstat),
    BS_SYS(poll),
    BS_SYS(lseek),
    BS_SYS(mmap),
    BS_SYS(mprotect),
    BS_SYS(munmap),
    BS_SYS(brk),
    BS_SYS(rt_sigaction),
    BS_SYS(rt_sigprocmask),
    BS_SYS(rt_sigreturn),
    BS_SYS(ioctl),
    BS_SYS(pread64),
    BS_SYS(pwrite64),
    BS_SYS(readv),
    BS_SYS(writev),
    BS_SYS(access),
    BS_SYS(pipe),
    BS_SYS(select),
    BS_SYS(sched_yield),
    BS_SYS(mremap),
    BS_SYS(msync),
    BS_SYS(mincore),
    BS_SYS(madvise),
    BS_SYS(shmget),
    BS_SYS(shmat),
    BS_SYS(shmctl),
    BS_SYS(dup),
    BS_SYS(dup2),
    BS_SYS(pause),
    BS_SYS(nanosleep),
    BS_SYS(getitimer),
    BS_SYS(alarm),
    BS_SYS(setitimer),
    BS_SYS(getpid),
    BS_SYS(sendfile),
    BS_SYS(socket),
    BS_SYS(connect),
    BS_SYS(accept),
    BS_SYS(sendto),
    BS_SYS(recvfrom),
    BS_SYS(sendmsg),
    BS_SYS(recvmsg),
    BS_SYS(shutdown),
    BS_SYS(bind),
    BS_SYS(listen),
    BS_SYS(getsockname),
    BS_SYS(getpeername),
    BS_SYS(socketpair),
    BS_SYS(setsockopt),
    BS_SYS(getsockopt),
    BS_SYS(clone),
    BS_SYS(fork),
    BS_SYS(vfork),
    BS_SYS(execve),
    BS_SYS(exit),
    BS_SYS(wait4),
    BS_SYS(kill),
    BS_SYS(uname),
    BS_SYS(semget),
    BS_SYS(semop),
    BS_SYS(semctl),
    BS_SYS(shmdt),
    BS_SYS(msgget),
    BS_SYS(msgsnd),
    BS_SYS(msgrcv),
    BS_SYS(msgctl),
    BS_SYS(fcntl),
    BS_SYS(flock),
    BS_SYS(fsync),
    BS_SYS(fdatasync),
    BS_SYS(truncate),
    BS_SYS(ftruncate),
    BS_SYS(getdents),
    BS_SYS(getcwd),
    BS_SYS(chdir),
    BS_SYS(fchdir),
    BS_SYS(rename),
    BS_SYS(mkdir),
    BS_SYS(rmdir),
    BS_SYS(creat),
    BS_SYS(link),
    BS_SYS(unlink),
    BS_SYS(symlink),
    BS_SYS(readlink),
    BS_SYS(chmod),
    BS_SYS(fchmod),
    BS_SYS(chown),
    BS_SYS(fchown),
    BS_SYS(lchown),
    BS_SYS(umask),
    BS_SYS(gettimeofday),
    BS_SYS(getrlimit),
    BS_SYS(getrusage),
    BS_SYS(sysinfo),
    BS_SYS(times),
    BS_SYS(ptrace),
    BS_SYS(getuid),
    BS_SYS(syslog),
    BS_SYS(getgid),
    BS_SYS(setuid),
    BS_SYS(setgid),
    BS_SYS(geteuid),
    BS_SYS(getegid),
    BS_SYS(setpgid),
    BS_SYS(getppid),
    BS_SYS(getpgrp),
    BS_SYS(setsid),
    BS_SYS(setreuid),
    BS_SYS(setregid),
    BS_SYS(getgroups),
    BS_SYS(setgroups),
    BS_SYS(setresuid),
    BS_SYS(getresuid),
    BS_SYS(setresgid),
    BS_SYS(getresgid),
    BS_SYS(getpgid),
    BS_SYS(setfsuid),
    BS_SYS(setfsgid),
    BS_SYS(getsid),
    BS_SYS(capget),
    BS_SYS(capset),
    BS_SYS(rt_sigpending),
    BS_SYS(rt_sigtimedwait),
    BS_SYS(rt_sigqueueinfo),
    BS_SYS(rt_sigsuspend),
    BS_SYS(sigaltstack),
    BS_SYS(utime),
    BS_SYS(mknod),
    BS_SYS(uselib),
    BS_SYS(personality),
    BS_SYS(ustat),
    BS_SYS(statfs),
    BS_SYS(fstatfs),
    BS_SYS(sysfs),
    BS_SYS(getpriority),
    BS_SYS(setpriority),
    BS_SYS(sched_setparam),
    BS_SYS(sched_getparam),
    BS_SYS(sched_setscheduler),
    BS_SYS(sched_getscheduler),
    BS_SYS(sched_get_priority_max),
    BS_SYS(sched_get_priority_min),
    BS_SYS(sched_rr_get_interval),
    BS_SYS(mlock),
    BS_SYS(munlock),
    BS_SYS(mlockall),
    BS_SYS(munlockall),
    BS_SYS(vhangup),
    BS_SYS(modify_ldt),
    BS_SYS(pivot_root),
    BS_SYS(_sysctl),
    BS_SYS(prctl),
    BS_SYS(arch_prctl),
    BS_SYS(adjtimex),
    BS_SYS(setrlimit),
    BS_SYS(chroot),
    BS_SYS(sync),
    BS_SYS(acct),
    BS_SYS(settimeofday),
    BS_SYS(mount),
    BS_SYS(umount2),
    BS_SYS(swapon),
    BS_SYS(swapoff),
    BS_SYS(reboot),
    BS_SYS(sethostname),
    BS_SYS(setdomainname),
    BS_SYS(iopl),
    BS_SYS(ioperm),
    BS_SYS(create_module),
    BS_SYS(init_module),
    BS_SYS(delete_module),
    BS_SYS(get_kernel_syms),
    BS_SYS(query_module),
    BS_SYS(quotactl),
    BS_SYS(nfsservctl),
    BS_SYS(getpmsg),
    BS_SYS(putpmsg),
    BS_SYS(afs_syscall),
    BS_SYS(tuxcall),
    BS_SYS(security),
    BS_SYS(gettid),
    BS_SYS(readahead),
    BS_SYS(setxattr),
    BS_SYS(lsetxattr),
    BS_SYS(fsetxattr),
    BS_SYS(getxattr),
    BS_SYS(lgetxattr),
    BS_SYS(fgetxattr),
    BS_SYS(listxattr),
    BS_SYS(llistxattr),
    BS_SYS(flistxattr),
    BS_SYS(removexattr),
    BS_SYS(lremovexattr),
    BS_SYS(fremovexattr),
    BS_SYS(tkill),
    BS_SYS(time),
    BS_SYS(futex),
    BS_SYS(sched_setaffinity),
    BS_SYS(sched_getaffinity),
    BS_SYS(set_thread_area),
    BS_SYS(io_setup),
    BS_SYS(io_destroy),
    BS_SYS(io_getevents),
    BS_SYS(io_submit),
    BS_SYS(io_cancel),
    BS_SYS(get_thread_area),
    BS_SYS(lookup_dcookie),
    BS_SYS(epoll_create),
    BS_SYS(epoll_ctl_old),
    BS_SYS(epoll_wait_old),
    BS_SYS(remap_file_pages),
    BS_SYS(getdents64),
    BS_SYS(set_tid_address),
    BS_SYS(restart_syscall),
    BS_SYS(semtimedop),
    BS_SYS(fadvise64),
    BS_SYS(timer_create),
    BS_SYS(timer_settime),
    BS_SYS(timer_gettime),
    BS_SYS(timer_getoverrun),
    BS_SYS(timer_delete),
    BS_SYS(clock_settime),
    BS_SYS(clock_gettime),
    BS_SYS(clock_getres),
    BS_SYS(clock_nanosleep),
    BS_SYS(exit_group),
    BS_SYS(epoll_wait),
    BS_SYS(epoll_ctl),
    BS_SYS(tgkill),
    BS_SYS(utimes),
    BS_SYS(vserver),
    BS_SYS(mbind),
    BS_SYS(set_mempolicy),
    BS_SYS(get_mempolicy),
    BS_SYS(mq_open),
    BS_SYS(mq_unlink),
    BS_SYS(mq_timedsend),
    BS_SYS(mq_timedreceive),
    BS_SYS(mq_notify),
    BS_SYS(mq_getsetattr),
    BS_SYS(kexec_load),
    BS_SYS(waitid),
    BS_SYS(add_key),
    BS_SYS(request_key),
    BS_SYS(keyctl),
    BS_SYS(ioprio_set),
    BS_SYS(ioprio_get),
    BS_SYS(inotify_init),
    BS_SYS(inotify_add_watch),
    BS_SYS(inotify_rm_watch),
    BS_SYS(migrate_pages),
    BS_SYS(openat),
    BS_SYS(mkdirat),
    BS_SYS(mknodat),
    BS_SYS(fchownat),
    BS_SYS(futimesat),
    BS_SYS(newfstatat),
    BS_SYS(unlinkat),
    BS_SYS(renameat),
    BS_SYS(linkat),
    BS_SYS(symlinkat),
    BS_SYS(readlinkat),
    BS_SYS(fchmodat),
    BS_SYS(faccessat),
    BS_SYS(pselect6),
    BS_SYS(ppoll),
    BS_SYS(unshare),
    BS_SYS(set_robust_list),
    BS_SYS(get_robust_list),
    BS_SYS(splice),
    BS_SYS(tee),
    BS_SYS(sync_file_range),
    BS_SYS(vmsplice),
    BS_SYS(move_pages),
    BS_SYS(utimensat),
    BS_SYS(epoll_pwait),
    BS_SYS(signalfd),
    BS_SYS(timerfd_create),
    BS_SYS(eventfd),
    BS_SYS(fallocate),
    BS_SYS(timerfd_settime),
    BS_SYS(timerfd_gettime),
    BS_SYS(accept4),
    BS_SYS(signalfd4),
    BS_SYS(eventfd2),
    BS_SYS(epoll_create1),
    BS_SYS(dup3),
    BS_SYS(pipe2),
    BS_SYS(inotify_init1),
    BS_SYS(preadv),
    BS_SYS(pwritev),
    BS_SYS(rt_tgsigqueueinfo),
    BS_SYS(perf_event_open),
    BS_SYS(recvmmsg),
    BS_SYS(fanotify_init),
    BS_SYS(fanotify_mark),
    BS_SYS(prlimit64),
    BS_SYS(name_to_handle_at),
    BS_SYS(open_by_handle_at),
    BS_SYS(clock_adjtime),
    BS_SYS(syncfs),
    BS_SYS(sendmmsg),
    BS_SYS(setns),
    BS_SYS(getcpu),
    BS_SYS(process_vm_readv),
    BS_SYS(process_vm_writev),
    BS_SYS(kcmp),
    BS_SYS(finit_module),
    BS_SYS(sched_setattr),
    BS_SYS(sched_getattr),
    BS_SYS(renameat2),
    BS_SYS(seccomp),
    BS_SYS(getrandom),
    BS_SYS(memfd_create),
    BS_SYS(kexec_file_load),
    BS_SYS(bpf),
    BS_SYS(execveat),
    BS_SYS(userfaultfd),
    BS_SYS(membarrier),
    BS_SYS(mlock2),
    BS_SYS(copy_file_range),
    BS_SYS(preadv2),
    BS_SYS(pwritev2),
    BS_SYS(pkey_mprotect),
    BS_SYS(pkey_alloc),
    BS_SYS(pkey_free),
    BS_SYS(statx),
    BS_SYS(io_pgetevents),
    BS_SYS(rseq),
    BS_SYS(pidfd_send_signal),
    BS_SYS(io_uring_setup),
    BS_SYS(io_uring_enter),
    BS_SYS(io_uring_register),
    BS_SYS(open_tree),
    BS_SYS(move_mount),
    BS_SYS(fsopen),
    BS_SYS(fsconfig),
    BS_SYS(fsmount),
    BS_SYS(fspick),
    BS_SYS(pidfd_open),
    BS_SYS(clone3),
    BS_SYS(close_range),
    BS_SYS(openat2),
    BS_SYS(pidfd_getfd),
    BS_SYS(faccessat2),
    BS_SYS(process_madvise),
    BS_SYS(epoll_pwait2),
    BS_SYS(mount_setattr),
    BS_SYS(quotactl_fd),
    BS_SYS(landlock_create_ruleset),
    BS_SYS(landlock_add_rule),
    BS_SYS(landlock_restrict_self),
    BS_SYS(memfd_secret),
    BS_SYS(process_mrelease),
    BS_SYS(futex_waitv),
    BS_SYS(set_mempolicy_home_node),
// Newer than Debian 12's headers (linux-libc-dev 6.1): present only when the
// build's <sys/syscall.h> knows them.
#ifdef SYS_cachestat
    BS_SYS(cachestat),
#endif
#ifdef SYS_fchmodat2
    BS_SYS(fchmodat2),
#endif
#ifdef SYS_map_shadow_stack
    BS_SYS(map_shadow_stack),
#endif
#ifdef SYS_futex_wake
    BS_SYS(futex_wake),
#endif
#ifdef SYS_futex_wait
    BS_SYS(futex_wait),
#endif
#ifdef SYS_futex_requeue
    BS_SYS(futex_requeue),
#endif
#ifdef SYS_statmount
    BS_SYS(statmount),
#endif
#ifdef SYS_listmount
    BS_SYS(listmount),
#endif
#ifdef SYS_lsm_get_self_attr
    BS_SYS(lsm_get_self_attr),
#endif
#ifdef SYS_lsm_set_self_attr
    BS_SYS(lsm_set_self_attr),
#endif
#ifdef SYS_lsm_list_modules
    BS_SYS(lsm_list_modules),
#endif
#ifdef SYS_mseal
    BS_SYS(mseal),
#endif
#ifdef SYS_setxattrat
    BS_SYS(setxattrat),
#endif
#ifdef SYS_getxattrat
    BS_SYS(getxattrat),
#endif
#ifdef SYS_listxattrat
    BS_SYS(listxattrat),
#endif
#ifdef SYS_removexattrat
    BS_SYS(removexattrat),
#endif
#ifdef SYS_open_tree_attr
    BS_SYS(open_tree_attr),
#endif
#ifdef SYS_uretprobe
    BS_SYS(uretprobe),
#endif
};
#undef BS_SYS

// ---------------------------------------------------------------------------
// Syscalls executed for real in replay. Everything else is emulated: its
// recorded result is returned and its recorded memory writes are applied.
//
// * Address-space shape (mmap, munmap, mprotect, pkey_mprotect, mremap, brk,
//   madvise, remap_file_pages, shmat, shmdt, mlock family, map_shadow_stack,
//   mseal): the replayed process must have the same mappings, protections
//   and (for madvise DONTNEED etc.) the same page contents as when recorded;
//   the mappings cannot be "applied" as memory writes. msync only writes
//   back to files, so it is emulated.
// * Threads and processes (clone, clone3, fork, vfork, exit, exit_group):
//   the replayer needs real tasks to run the recorded code; exit also
//   performs the robust-futex and clear_child_tid cleanup in memory.
// * Program image (execve, execveat): replaces the whole address space and
//   register state.
// * Per-thread kernel state the CPU or kernel acts on without further
//   syscalls: arch_prctl (FS/GS bases used by TLS accesses),
//   set_thread_area/modify_ldt (segment descriptors), pkey_alloc/pkey_free
//   (they rewrite PKRU), set_tid_address (cleared and woken on exit),
//   set_robust_list (walked on exit), rseq (the kernel updates the area on
//   preemption/migration and aborts critical sections).
// * Signal disposition and masks (rt_sigaction, rt_sigprocmask,
//   rt_sigreturn, sigaltstack): the replayer delivers recorded signals for
//   real, so the handlers, masks and alternate stack must be in place;
//   rt_sigreturn restores the registers and mask from the signal frame.
// * prctl(PR_SET_NAME): the thread's comm, seen by the replayer's thread
//   listing and /proc; per call (replay_action), all other prctls emulate.

constexpr long kExecuted[] = {
    SYS_mmap,
    SYS_munmap,
    SYS_mprotect,
    SYS_pkey_mprotect,
    SYS_mremap,
    SYS_brk,
    SYS_madvise,
    SYS_remap_file_pages,
    SYS_shmat,
    SYS_shmdt,
    SYS_mlock,
    SYS_munlock,
    SYS_mlock2,
    SYS_mlockall,
    SYS_munlockall,
#ifdef SYS_map_shadow_stack
    SYS_map_shadow_stack,
#endif
#ifdef SYS_mseal
    SYS_mseal,
#endif
    SYS_clone,
    SYS_clone3,
    SYS_fork,
    SYS_vfork,
    SYS_exit,
    SYS_exit_group,
    SYS_execve,
    SYS_execveat,
    SYS_arch_prctl,
    SYS_set_thread_area,
    SYS_modify_ldt,
    SYS_pkey_alloc,
    SYS_pkey_free,
    SYS_set_tid_address,
    SYS_set_robust_list,
    SYS_rseq,
    SYS_rt_sigaction,
    SYS_rt_sigprocmask,
    SYS_rt_sigreturn,
    SYS_sigaltstack,
    // The syscall buffer's library installs a seccomp filter, and replay
    // repeats the stops it makes.
    SYS_seccomp,
};

// Syscalls whose memory writes syscall_outputs does not (fully) describe for
// every call. Request multiplexers are here because only some requests are
// known; outputs_known(call) decides per call for those.
constexpr long kOutputsNotAlwaysKnown[] = {
    // Request multiplexers: known requests are described, others are not.
    SYS_ioctl,
    SYS_prctl,
    SYS_arch_prctl,
    SYS_fcntl,
    SYS_ptrace,
    SYS_syslog,
    SYS_seccomp,
    SYS_shmctl,
    SYS_semctl,
    SYS_msgctl,
    SYS_modify_ldt,
    // Asynchronous kernel writes into user memory (AIO ring and buffers,
    // io_uring rings and buffers).
    SYS_io_setup,
    SYS_io_destroy,
    SYS_io_submit,
    SYS_io_cancel,
    SYS_io_getevents,
    SYS_io_pgetevents,
    SYS_io_uring_setup,
    SYS_io_uring_enter,
    SYS_io_uring_register,
    // Not modelled.
    SYS_bpf,
    SYS_keyctl,
    SYS_quotactl,
    SYS_quotactl_fd,
    SYS_sysfs,
    SYS_ustat,
    SYS_lookup_dcookie,
    // Writes the caller's memory only when the target pid is the caller.
    SYS_process_vm_writev,
    // Continues an interrupted call (nanosleep, poll, futex wait...) whose
    // arguments are not in its own registers.
    SYS_restart_syscall,
#ifdef SYS_cachestat
    SYS_cachestat,
#endif
#ifdef SYS_statmount
    SYS_statmount,
#endif
#ifdef SYS_listmount
    SYS_listmount,
#endif
#ifdef SYS_lsm_get_self_attr
    SYS_lsm_get_self_attr,
#endif
#ifdef SYS_lsm_list_modules
    SYS_lsm_list_modules,
#endif
#ifdef SYS_getxattrat
    SYS_getxattrat,
#endif
#ifdef SYS_listxattrat
    SYS_listxattrat,
#endif
#ifdef SYS_uretprobe
    SYS_uretprobe,
#endif
};

constexpr SyscallInfo kUnknownInfo{"unknown", ReplayAction::kEmulate, false};

std::vector<SyscallInfo> build_table() {
  long max_nr = 0;
  for (const auto& e : kNames) max_nr = std::max(max_nr, e.nr);
  std::vector<SyscallInfo> table(static_cast<size_t>(max_nr) + 1, kUnknownInfo);
  for (const auto& e : kNames) {
    table[static_cast<size_t>(e.nr)] = SyscallInfo{e.name, ReplayAction::kEmulate, true};
  }
  for (long nr : kExecuted) table[static_cast<size_t>(nr)].replay = ReplayAction::kExecute;
  for (long nr : kOutputsNotAlwaysKnown) table[static_cast<size_t>(nr)].known_outputs = false;
  return table;
}

const std::vector<SyscallInfo>& table() {
  static const std::vector<SyscallInfo> t = build_table();
  return t;
}

// ---------------------------------------------------------------------------
// Per-request knowledge for the multiplexers.

// ioctl: bytes written through arg2 by a known request (0: known, writes
// nothing), or kUnknownRequest.
constexpr int64_t kUnknownRequest = -1;

int64_t ioctl_output_size(uint64_t arg1) {
  // The kernel takes the request as an unsigned int.
  const auto request = static_cast<unsigned int>(arg1);
  switch (request) {
    // Terminal state.
    case TCGETS:
      return sizeof(struct termios);
    case TCGETS2:
      return sizeof(struct termios2);
    case TCGETA:
      return sizeof(struct termio);
    case TIOCGLCKTRMIOS:
      return sizeof(struct termios);
    case TIOCGWINSZ:
      return sizeof(struct winsize);
    // int-sized results.
    case FIONREAD:  // == TIOCINQ == SIOCINQ
    case TIOCOUTQ:  // == SIOCOUTQ
    case TIOCGPGRP:
    case TIOCGSID:
    case TIOCGETD:
    case TIOCMGET:
    case TIOCGPTN:
    case TIOCGPKT:
    case TIOCGPTLCK:
    case TIOCGEXCL:
    case TIOCGSOFTCAR:
    case SIOCATMARK:
    case FS_IOC_GETFLAGS:    // declared with long, but the kernel stores an int
    case FS_IOC_GETVERSION:  // likewise
      return sizeof(int);
    case FIOQSIZE:
      return sizeof(int64_t);
    case BLKGETSIZE64:
      return sizeof(uint64_t);
    case SIOCGSTAMP_OLD:
      return sizeof(struct timeval);  // == SIOCGSTAMP on 64-bit
    case SIOCGSTAMPNS_OLD:
      return sizeof(struct timespec);  // == SIOCGSTAMPNS on 64-bit
    case SIOCGSTAMP_NEW:
    case SIOCGSTAMPNS_NEW:
      return 2 * sizeof(int64_t);
    // Interface queries copy the whole ifreq back.
    case SIOCGIFNAME:
    case SIOCGIFINDEX:
    case SIOCGIFFLAGS:
    case SIOCGIFADDR:
    case SIOCGIFDSTADDR:
    case SIOCGIFBRDADDR:
    case SIOCGIFNETMASK:
    case SIOCGIFMTU:
    case SIOCGIFHWADDR:
    case SIOCGIFMETRIC:
    case SIOCGIFTXQLEN:
    case SIOCGIFMAP:
      return sizeof(struct ifreq);
    // Known requests that write nothing in the caller's memory.
    case TCSETS:
    case TCSETSW:
    case TCSETSF:
    case TCSETS2:
    case TCSETSW2:
    case TCSETSF2:
    case TCSETA:
    case TCSETAW:
    case TCSETAF:
    case TCSBRK:
    case TCSBRKP:
    case TCXONC:
    case TCFLSH:
    case TIOCSWINSZ:
    case TIOCSPGRP:
    case TIOCSCTTY:
    case TIOCNOTTY:
    case TIOCSBRK:
    case TIOCCBRK:
    case TIOCEXCL:
    case TIOCNXCL:
    case TIOCSPTLCK:
    case TIOCPKT:
    case TIOCSETD:
    case TIOCMSET:
    case TIOCMBIS:
    case TIOCMBIC:
    case TIOCSTI:
    case TIOCCONS:
    case TIOCVHANGUP:
    case TIOCSLCKTRMIOS:
    case TIOCSSOFTCAR:
    case TIOCGPTPEER:
    case FIONBIO:
    case FIOASYNC:
    case FIOCLEX:
    case FIONCLEX:
    case FS_IOC_SETFLAGS:
      return 0;
    default:
      return kUnknownRequest;
  }
}

// ioctls that wait for output to drain or a modem line to change.
bool ioctl_blocks(uint64_t arg1) {
  switch (static_cast<unsigned int>(arg1)) {
    case TCSETSW:
    case TCSETSF:
    case TCSETSW2:
    case TCSETSF2:
    case TCSETAW:
    case TCSETAF:
    case TCSBRK:
    case TCSBRKP:
    case TIOCMIWAIT:
      return true;
    default:
      return false;
  }
}

bool prctl_known(uint64_t option) {
  switch (option) {
    case PR_SET_PDEATHSIG:
    case PR_GET_PDEATHSIG:
    case PR_GET_DUMPABLE:
    case PR_SET_DUMPABLE:
    case PR_GET_UNALIGN:
    case PR_SET_UNALIGN:
    case PR_GET_KEEPCAPS:
    case PR_SET_KEEPCAPS:
    case PR_GET_FPEMU:
    case PR_SET_FPEMU:
    case PR_GET_FPEXC:
    case PR_SET_FPEXC:
    case PR_GET_TIMING:
    case PR_SET_TIMING:
    case PR_SET_NAME:
    case PR_GET_NAME:
    case PR_GET_ENDIAN:
    case PR_SET_ENDIAN:
    case PR_GET_SECCOMP:
    case PR_SET_SECCOMP:
    case PR_CAPBSET_READ:
    case PR_CAPBSET_DROP:
    case PR_GET_TSC:
    case PR_SET_TSC:
    case PR_GET_SECUREBITS:
    case PR_SET_SECUREBITS:
    case PR_SET_TIMERSLACK:
    case PR_GET_TIMERSLACK:
    case PR_TASK_PERF_EVENTS_DISABLE:
    case PR_TASK_PERF_EVENTS_ENABLE:
    case PR_MCE_KILL:
    case PR_MCE_KILL_GET:
    case PR_SET_MM:
    case PR_SET_PTRACER:
    case PR_SET_CHILD_SUBREAPER:
    case PR_GET_CHILD_SUBREAPER:
    case PR_SET_NO_NEW_PRIVS:
    case PR_GET_NO_NEW_PRIVS:
    case PR_GET_TID_ADDRESS:
    case PR_SET_THP_DISABLE:
    case PR_GET_THP_DISABLE:
    case PR_MPX_ENABLE_MANAGEMENT:
    case PR_MPX_DISABLE_MANAGEMENT:
    case PR_SET_FP_MODE:
    case PR_GET_FP_MODE:
    case PR_CAP_AMBIENT:
    case PR_GET_SPECULATION_CTRL:
    case PR_SET_SPECULATION_CTRL:
    case PR_SET_IO_FLUSHER:
    case PR_GET_IO_FLUSHER:
    case PR_SET_SYSCALL_USER_DISPATCH:
    case PR_SCHED_CORE:
    case PR_SET_VMA:
      return true;
    default:
      return false;
  }
}

bool arch_prctl_known(uint64_t code) {
  switch (code) {
    case ARCH_SET_GS:
    case ARCH_SET_FS:
    case ARCH_GET_FS:
    case ARCH_GET_GS:
    case ARCH_GET_CPUID:
    case ARCH_SET_CPUID:
    case ARCH_GET_XCOMP_SUPP:
    case ARCH_GET_XCOMP_PERM:
    case ARCH_REQ_XCOMP_PERM:
    case ARCH_GET_XCOMP_GUEST_PERM:
    case ARCH_REQ_XCOMP_GUEST_PERM:
    case ARCH_MAP_VDSO_X32:
    case ARCH_MAP_VDSO_32:
    case ARCH_MAP_VDSO_64:
      return true;
    default:
      return false;
  }
}

bool fcntl_known(uint64_t cmd) {
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
    case F_GETFD:
    case F_SETFD:
    case F_GETFL:
    case F_SETFL:
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
    case F_GETOWN:
    case F_SETOWN:
    case F_GETOWN_EX:
    case F_SETOWN_EX:
    case F_GETSIG:
    case F_SETSIG:
    case F_GETLEASE:
    case F_SETLEASE:
    case F_NOTIFY:
    case F_GETPIPE_SZ:
    case F_SETPIPE_SZ:
    case F_ADD_SEALS:
    case F_GET_SEALS:
    case F_GET_RW_HINT:
    case F_SET_RW_HINT:
    case F_GET_FILE_RW_HINT:
    case F_SET_FILE_RW_HINT:
      return true;
    default:
      return false;
  }
}

bool ptrace_known(uint64_t request) {
  switch (request) {
    case PTRACE_TRACEME:
    case PTRACE_PEEKTEXT:
    case PTRACE_PEEKDATA:
    case PTRACE_PEEKUSER:
    case PTRACE_POKETEXT:
    case PTRACE_POKEDATA:
    case PTRACE_POKEUSER:
    case PTRACE_CONT:
    case PTRACE_KILL:
    case PTRACE_SINGLESTEP:
    case PTRACE_GETREGS:
    case PTRACE_SETREGS:
    case PTRACE_GETFPREGS:
    case PTRACE_SETFPREGS:
    case PTRACE_ATTACH:
    case PTRACE_DETACH:
    case PTRACE_SYSCALL:
    case PTRACE_SYSEMU:
    case PTRACE_SYSEMU_SINGLESTEP:
    case PTRACE_SINGLEBLOCK:
    case PTRACE_SETOPTIONS:
    case PTRACE_GETEVENTMSG:
    case PTRACE_GETSIGINFO:
    case PTRACE_SETSIGINFO:
    case PTRACE_GETREGSET:
    case PTRACE_SETREGSET:
    case PTRACE_SEIZE:
    case PTRACE_INTERRUPT:
    case PTRACE_LISTEN:
    case PTRACE_PEEKSIGINFO:
    case PTRACE_GETSIGMASK:
    case PTRACE_SETSIGMASK:
    case PTRACE_GET_SYSCALL_INFO:
      return true;
    default:
      return false;
  }
}

bool syslog_known(uint64_t type) { return type <= kSyslogActionSizeBuffer; }

bool ipc_ctl_known(long nr, uint64_t cmd) {
  switch (nr) {
    case SYS_shmctl:
      return cmd == IPC_RMID || cmd == IPC_SET || cmd == IPC_STAT || cmd == IPC_INFO ||
             cmd == SHM_INFO || cmd == SHM_STAT || cmd == SHM_STAT_ANY || cmd == SHM_LOCK ||
             cmd == SHM_UNLOCK;
    case SYS_msgctl:
      return cmd == IPC_RMID || cmd == IPC_SET || cmd == IPC_STAT || cmd == IPC_INFO ||
             cmd == MSG_INFO || cmd == MSG_STAT || cmd == MSG_STAT_ANY;
    case SYS_semctl:
      // GETALL writes nsems shorts; nsems is not in the arguments.
      return cmd == IPC_RMID || cmd == IPC_SET || cmd == IPC_STAT || cmd == IPC_INFO ||
             cmd == SEM_INFO || cmd == SEM_STAT || cmd == SEM_STAT_ANY || cmd == GETPID ||
             cmd == GETVAL || cmd == GETNCNT || cmd == GETZCNT || cmd == SETVAL || cmd == SETALL;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------
// Region collection.

class Collector {
 public:
  Collector(const ReadMemory& read_memory, std::vector<MemRegion>& out)
      : read_memory_(read_memory), out_(out) {}

  // Adds a region; null pointers (optional outputs not asked for) and empty
  // lengths are skipped.
  void add(uint64_t addr, uint64_t len) {
    if (addr != 0 && len != 0) out_.push_back({addr, len});
  }

  template <typename T>
  bool read(uint64_t addr, T& value) {
    if (addr != 0 && read_memory_ && read_memory_(addr, &value, sizeof(T))) return true;
    complete_ = false;
    return false;
  }

  // `bytes` spread over the iovec array at iov_addr in order.
  void scatter(uint64_t iov_addr, uint64_t iov_count, uint64_t bytes) {
    iov_count = std::min(iov_count, kMaxIov);
    for (uint64_t i = 0; i < iov_count && bytes > 0; ++i) {
      struct iovec iov {};
      if (!read(iov_addr + i * sizeof(iov), iov)) return;
      const uint64_t take = std::min<uint64_t>(bytes, iov.iov_len);
      add(reinterpret_cast<uint64_t>(iov.iov_base), take);
      bytes -= take;
    }
  }

  // A socket address the kernel filled via move_addr_to_user: *len_addr now
  // holds the address's full length; the kernel copied min(caller's buffer,
  // full length), and sockaddr_storage bounds every address.
  void sockaddr(uint64_t addr, uint64_t len_addr) {
    if (addr == 0 || len_addr == 0) return;
    socklen_t len = 0;
    if (!read(len_addr, len)) return;
    add(addr, std::min<uint64_t>(len, sizeof(struct sockaddr_storage)));
    add(len_addr, sizeof(socklen_t));
  }

  // A received msghdr at hdr_addr (already read as `hdr`, at exit) that got
  // `bytes` of data.
  void received_msghdr(uint64_t hdr_addr, uint64_t hdr_size, const struct msghdr& hdr,
                       uint64_t bytes) {
    add(hdr_addr, hdr_size);  // msg_namelen, msg_controllen, msg_flags
    add(reinterpret_cast<uint64_t>(hdr.msg_name),
        std::min<uint64_t>(hdr.msg_namelen, sizeof(struct sockaddr_storage)));
    scatter(reinterpret_cast<uint64_t>(hdr.msg_iov), hdr.msg_iovlen, bytes);
    // The kernel sets msg_controllen to the control bytes it wrote.
    add(reinterpret_cast<uint64_t>(hdr.msg_control), hdr.msg_controllen);
  }

  void mark_incomplete() { complete_ = false; }
  bool complete() const { return complete_; }

 private:
  const ReadMemory& read_memory_;
  std::vector<MemRegion>& out_;
  bool complete_ = true;
};

void ioctl_outputs(const SyscallArgs& c, int64_t r, Collector& out) {
  const int64_t size = ioctl_output_size(c.arg[1]);
  if (size == kUnknownRequest) {
    out.mark_incomplete();
    return;
  }
  if (succeeded(r)) out.add(c.arg[2], static_cast<uint64_t>(size));
}

void prctl_outputs(const SyscallArgs& c, int64_t r, Collector& out) {
  const uint64_t option = c.arg[0];
#ifdef PR_GET_AUXV
  if (option == PR_GET_AUXV) {
    // Copies min(size, auxv size) and returns the full auxv size.
    if (succeeded(r)) out.add(c.arg[1], std::min(ures(r), c.arg[2]));
    return;
  }
#endif
  if (!prctl_known(option)) {
    out.mark_incomplete();
    return;
  }
  if (!succeeded(r)) return;
  switch (option) {
    case PR_GET_NAME:
      out.add(c.arg[1], 16);  // TASK_COMM_LEN
      break;
    case PR_GET_PDEATHSIG:
    case PR_GET_CHILD_SUBREAPER:
    case PR_GET_TSC:
    case PR_GET_FPEMU:  // these four fail with EINVAL on x86; listed for
    case PR_GET_FPEXC:  // completeness
    case PR_GET_UNALIGN:
    case PR_GET_ENDIAN:
      out.add(c.arg[1], sizeof(int));
      break;
    case PR_GET_TID_ADDRESS:
      out.add(c.arg[1], sizeof(uint64_t));
      break;
    case PR_SET_MM:
      if (c.arg[1] == PR_SET_MM_MAP_SIZE) out.add(c.arg[2], sizeof(unsigned int));
      break;
    case PR_SCHED_CORE:
      if (c.arg[1] == PR_SCHED_CORE_GET) out.add(c.arg[4], sizeof(uint64_t));
      break;
    default:
      break;  // returns its value in rax, or writes nothing
  }
}

void arch_prctl_outputs(const SyscallArgs& c, int64_t r, Collector& out) {
  if (!arch_prctl_known(c.arg[0])) {
    out.mark_incomplete();
    return;
  }
  if (!succeeded(r)) return;
  switch (c.arg[0]) {
    case ARCH_GET_FS:
    case ARCH_GET_GS:
    case ARCH_GET_XCOMP_SUPP:
    case ARCH_GET_XCOMP_PERM:
    case ARCH_GET_XCOMP_GUEST_PERM:
      out.add(c.arg[1], sizeof(uint64_t));
      break;
    default:
      break;
  }
}

void fcntl_outputs(const SyscallArgs& c, int64_t r, Collector& out) {
  if (!fcntl_known(c.arg[1])) {
    out.mark_incomplete();
    return;
  }
  if (!succeeded(r)) return;
  switch (c.arg[1]) {
    case F_GETLK:
    case F_OFD_GETLK:
      out.add(c.arg[2], sizeof(struct flock));
      break;
    case F_GETOWN_EX:
      out.add(c.arg[2], sizeof(struct f_owner_ex));
      break;
    case F_GET_RW_HINT:
    case F_GET_FILE_RW_HINT:
      out.add(c.arg[2], sizeof(uint64_t));
      break;
    default:
      break;
  }
}

void ptrace_outputs(const SyscallArgs& c, int64_t r, Collector& out) {
  const uint64_t request = c.arg[0];
  const uint64_t addr = c.arg[2];
  const uint64_t data = c.arg[3];
  if (!ptrace_known(request)) {
    out.mark_incomplete();
    return;
  }
  if (request == PTRACE_SETREGSET) {
    // The kernel writes back iov_len for set as well as get.
    if (succeeded(r)) out.add(data + offsetof(struct iovec, iov_len), sizeof(size_t));
    return;
  }
  if (!succeeded(r)) return;
  switch (request) {
    case PTRACE_PEEKTEXT:
    case PTRACE_PEEKDATA:
    case PTRACE_PEEKUSER:
    case PTRACE_GETEVENTMSG:
      out.add(data, sizeof(uint64_t));  // the raw syscall stores the word at *data
      break;
    case PTRACE_GETREGS:
      out.add(data, sizeof(struct user_regs_struct));
      break;
    case PTRACE_GETFPREGS:
      out.add(data, sizeof(struct user_fpregs_struct));
      break;
    case PTRACE_GETSIGINFO:
      out.add(data, sizeof(siginfo_t));
      break;
    case PTRACE_PEEKSIGINFO:
      out.add(data, ures(r) * sizeof(siginfo_t));
      break;
    case PTRACE_GETSIGMASK:
      out.add(data, addr);
      break;  // addr = sigset size
    case PTRACE_GET_SYSCALL_INFO:
      out.add(data, std::min(addr, ures(r)));
      break;
    case PTRACE_GETREGSET: {
      struct iovec iov {};
      if (!out.read(data, iov)) return;  // iov_len updated to the bytes written
      out.add(reinterpret_cast<uint64_t>(iov.iov_base), iov.iov_len);
      out.add(data, sizeof(iov));
      break;
    }
    default:
      break;
  }
}

void ipc_ctl_outputs(const SyscallArgs& c, int64_t r, Collector& out) {
  const uint64_t cmd = c.nr == SYS_semctl ? c.arg[2] : c.arg[1];
  const uint64_t buf = c.nr == SYS_semctl ? c.arg[3] : c.arg[2];
  if (!ipc_ctl_known(c.nr, cmd)) {
    out.mark_incomplete();
    return;
  }
  if (!succeeded(r)) return;
  switch (c.nr) {
    case SYS_shmctl:
      if (cmd == IPC_STAT || cmd == SHM_STAT || cmd == SHM_STAT_ANY) {
        out.add(buf, sizeof(struct shmid_ds));
      } else if (cmd == IPC_INFO) {
        out.add(buf, sizeof(struct shminfo));
      } else if (cmd == SHM_INFO) {
        out.add(buf, sizeof(struct shm_info));
      }
      break;
    case SYS_msgctl:
      if (cmd == IPC_STAT || cmd == MSG_STAT || cmd == MSG_STAT_ANY) {
        out.add(buf, sizeof(struct msqid_ds));
      } else if (cmd == IPC_INFO || cmd == MSG_INFO) {
        out.add(buf, sizeof(struct msginfo));
      }
      break;
    case SYS_semctl:
      if (cmd == IPC_STAT || cmd == SEM_STAT || cmd == SEM_STAT_ANY) {
        out.add(buf, sizeof(struct semid_ds));
      } else if (cmd == IPC_INFO || cmd == SEM_INFO) {
        out.add(buf, sizeof(struct seminfo));
      }
      break;
    default:
      break;
  }
}

void futex_outputs(const SyscallArgs& c, int64_t r, Collector& out) {
  // Plain waits and wakes write nothing. These ops modify futex words, and
  // do so even on some failures (e.g. the FUTEX_WAITERS bit set by a PI lock
  // that then times out); the words were readable, so report them unless the
  // call faulted.
  if (r == -EFAULT) return;
  switch (c.arg[1] & FUTEX_CMD_MASK) {
    case FUTEX_WAKE_OP:          // atomic op on *uaddr2
    case FUTEX_WAIT_REQUEUE_PI:  // acquires the PI futex uaddr2 on wake-up
    case FUTEX_CMP_REQUEUE_PI:   // may hand uaddr2 to the top waiter
      out.add(c.arg[4], sizeof(uint32_t));
      break;
    case FUTEX_LOCK_PI:
    case FUTEX_LOCK_PI2:
    case FUTEX_TRYLOCK_PI:
    case FUTEX_UNLOCK_PI:
      out.add(c.arg[0], sizeof(uint32_t));
      break;
    default:
      break;
  }
}

void outputs(const SyscallArgs& c, int64_t r, Collector& out) {
  const uint64_t* a = c.arg;
  const bool ok = succeeded(r);
  switch (c.nr) {
    // --- data into a buffer, clamped by the result -------------------------
    case SYS_read:
    case SYS_pread64:
      if (ok) out.add(a[1], std::min(ures(r), a[2]));
      break;
    case SYS_readv:
    case SYS_preadv:
    case SYS_preadv2:
    case SYS_process_vm_readv:  // local_iov, liovcnt
    case SYS_vmsplice:          // writes only when reading a pipe; otherwise the
                                // iovecs were readable and are unchanged
      if (ok) out.scatter(a[1], a[2], ures(r));
      break;
    case SYS_getdents:
    case SYS_getdents64:
      if (ok) out.add(a[1], ures(r));
      break;
    case SYS_getcwd:
    case SYS_getrandom:
      if (ok) out.add(a[0], ures(r));
      break;
    case SYS_readlink:
      if (ok) out.add(a[1], ures(r));
      break;
    case SYS_readlinkat:
      if (ok) out.add(a[2], ures(r));
      break;
    case SYS_getxattr:
    case SYS_lgetxattr:
    case SYS_fgetxattr:
      if (ok && a[3] != 0) out.add(a[2], ures(r));  // size 0 only queries
      break;
    case SYS_listxattr:
    case SYS_llistxattr:
    case SYS_flistxattr:
      if (ok && a[2] != 0) out.add(a[1], ures(r));
      break;
    case SYS_sched_getaffinity:
      if (ok) out.add(a[2], ures(r));
      break;
    case SYS_getgroups:
      if (ok && a[0] != 0) out.add(a[1], ures(r) * sizeof(gid_t));
      break;
    case SYS_msgrcv:  // mtype, then result bytes of mtext
      if (ok) out.add(a[1], sizeof(long) + ures(r));
      break;
    case SYS_mq_timedreceive:
      if (ok) {
        out.add(a[1], ures(r));
        out.add(a[3], sizeof(unsigned int));
      }
      break;
    case SYS_syslog:
      if (!syslog_known(a[0])) {
        out.mark_incomplete();
      } else if (ok && (a[0] == kSyslogActionRead || a[0] == kSyslogActionReadAll ||
                        a[0] == kSyslogActionReadClear)) {
        out.add(a[1], ures(r));
      }
      break;

    // --- fixed-size structs ----------------------------------------------
    case SYS_stat:
    case SYS_fstat:
    case SYS_lstat:
      if (ok) out.add(a[1], sizeof(struct stat));
      break;
    case SYS_newfstatat:
      if (ok) out.add(a[2], sizeof(struct stat));
      break;
    case SYS_statx:
      if (ok) out.add(a[4], sizeof(struct statx));
      break;
    case SYS_statfs:
    case SYS_fstatfs:
      if (ok) out.add(a[1], sizeof(struct statfs));
      break;
    case SYS_pipe:
    case SYS_pipe2:
      if (ok) out.add(a[0], 2 * sizeof(int));
      break;
    case SYS_socketpair:
      if (ok) out.add(a[3], 2 * sizeof(int));
      break;
    case SYS_uname:
      if (ok) out.add(a[0], sizeof(struct utsname));
      break;
    case SYS_sysinfo:
      if (ok) out.add(a[0], sizeof(struct sysinfo));
      break;
    case SYS_times:
      if (ok) out.add(a[0], sizeof(struct tms));
      break;
    case SYS_getrusage:
      if (ok) out.add(a[1], sizeof(struct rusage));
      break;
    case SYS_getrlimit:
      if (ok) out.add(a[1], sizeof(struct rlimit));
      break;
    case SYS_prlimit64:
      if (ok) out.add(a[3], sizeof(struct rlimit));
      break;
    case SYS_clock_gettime:
    case SYS_clock_getres:
    case SYS_sched_rr_get_interval:
      if (ok) out.add(a[1], sizeof(struct timespec));
      break;
    case SYS_gettimeofday:
      if (ok) {
        out.add(a[0], sizeof(struct timeval));
        out.add(a[1], sizeof(struct timezone));
      }
      break;
    case SYS_time:
      if (ok) out.add(a[0], sizeof(int64_t));
      break;
    case SYS_adjtimex:
      if (ok) out.add(a[0], sizeof(struct timex));
      break;
    case SYS_clock_adjtime:
      if (ok) out.add(a[1], sizeof(struct timex));
      break;
    case SYS_getitimer:
      if (ok) out.add(a[1], sizeof(struct itimerval));
      break;
    case SYS_setitimer:
      if (ok) out.add(a[2], sizeof(struct itimerval));
      break;
    case SYS_timer_gettime:
    case SYS_timerfd_gettime:
      if (ok) out.add(a[1], sizeof(struct itimerspec));
      break;
    case SYS_timer_settime:
    case SYS_timerfd_settime:
      if (ok) out.add(a[3], sizeof(struct itimerspec));
      break;
    case SYS_timer_create:
      if (ok) out.add(a[2], sizeof(__kernel_timer_t));
      break;
    case SYS_sched_getparam:
      if (ok) out.add(a[1], sizeof(struct sched_param));
      break;
    case SYS_getresuid:
    case SYS_getresgid:
      if (ok) {
        out.add(a[0], sizeof(uid_t));
        out.add(a[1], sizeof(uid_t));
        out.add(a[2], sizeof(uid_t));
      }
      break;
    case SYS_getcpu:
      if (ok) {
        out.add(a[0], sizeof(unsigned int));
        out.add(a[1], sizeof(unsigned int));
      }
      break;
    case SYS_get_robust_list:
      if (ok) {
        out.add(a[1], sizeof(uint64_t));
        out.add(a[2], sizeof(size_t));
      }
      break;
    case SYS_mincore:
      if (ok) out.add(a[2], (a[1] + kPageSize - 1) / kPageSize);
      break;
    case SYS_mq_getsetattr:
      if (ok) out.add(a[2], sizeof(struct mq_attr));
      break;
    case SYS_get_thread_area:
      if (ok) out.add(a[0], sizeof(struct user_desc));
      break;
    case SYS_set_thread_area:  // entry_number is written back when it was -1
      if (ok) out.add(a[0], sizeof(unsigned int));
      break;
    case SYS_modify_ldt:  // func 0 (read) and 2 (read default) fill ptr
      if (!modify_ldt_known(a[0])) {
        out.mark_incomplete();
      } else if (ok && (a[0] == 0 || a[0] == 2)) {
        out.add(a[1], ures(r));
      }
      break;
    case SYS_move_pages:
      if (ok) out.add(a[4], a[1] * sizeof(int));
      break;
    case SYS_get_mempolicy:
      if (ok) {
        out.add(a[0], sizeof(int));
        // copy_nodes_to_user writes (copies or clears) ALIGN(maxnode-1, 64)/8 bytes.
        if (a[2] > 0) out.add(a[1], (a[2] - 1 + 63) / 64 * 8);
      }
      break;
    case SYS_sched_getattr:
      if (ok) {
        uint32_t size = 0;  // sched_attr.size: what the kernel copied
        if (out.read(a[1], size)) out.add(a[1], std::min<uint64_t>(size, a[2]));
      }
      break;
    case SYS_sched_setattr:  // E2BIG: the kernel's size is written to attr->size
      if (r == -E2BIG) out.add(a[1], sizeof(uint32_t));
      break;
    case SYS_perf_event_open:  // E2BIG: attr->size (offset 4) is set
      if (r == -E2BIG) out.add(a[0] + sizeof(uint32_t), sizeof(uint32_t));
      break;
    case SYS_name_to_handle_at:
      if (ok) {
        uint32_t handle_bytes = 0;
        if (out.read(a[2], handle_bytes)) {
          out.add(a[2], sizeof(struct file_handle) + handle_bytes);
        }
        out.add(a[3], (a[4] & kAtHandleMntIdUnique) ? sizeof(uint64_t) : sizeof(int));
      } else if (r == -EOVERFLOW) {
        out.add(a[2], sizeof(uint32_t));  // handle_bytes = the size needed
      }
      break;
    case SYS_seccomp:
      if (a[0] == SECCOMP_GET_NOTIF_SIZES) {
        if (ok) out.add(a[2], sizeof(struct seccomp_notif_sizes));
      } else if (a[0] != SECCOMP_SET_MODE_STRICT && a[0] != SECCOMP_SET_MODE_FILTER &&
                 a[0] != SECCOMP_GET_ACTION_AVAIL) {
        out.mark_incomplete();
      }
      break;

    // --- capabilities -----------------------------------------------------
    case SYS_capget:
      // An unknown version (or a NULL data probe) gets the kernel's version
      // written into the header.
      if (r == -EINVAL || (r == 0 && a[1] == 0)) out.add(a[0], sizeof(uint32_t));
      if (ok && a[1] != 0) {
        uint32_t version = 0;
        if (!out.read(a[0], version)) break;
        if (version == _LINUX_CAPABILITY_VERSION_1) {
          out.add(a[1], _LINUX_CAPABILITY_U32S_1 * sizeof(struct __user_cap_data_struct));
        } else if (version == _LINUX_CAPABILITY_VERSION_2 ||
                   version == _LINUX_CAPABILITY_VERSION_3) {
          out.add(a[1], _LINUX_CAPABILITY_U32S_3 * sizeof(struct __user_cap_data_struct));
        } else {
          out.mark_incomplete();
        }
      }
      break;
    case SYS_capset:
      if (r == -EINVAL) out.add(a[0], sizeof(uint32_t));
      break;

    // --- signals ------------------------------------------------------------
    case SYS_rt_sigprocmask:
      if (ok) out.add(a[2], a[3]);
      break;
    case SYS_rt_sigaction:
      if (ok && a[2] != 0) out.add(a[2], kKernelSigactionHeader + a[3]);
      break;
    case SYS_sigaltstack:
      if (ok) out.add(a[1], sizeof(stack_t));
      break;
    case SYS_rt_sigpending:
      if (ok) out.add(a[0], a[1]);
      break;
    case SYS_rt_sigtimedwait:
      if (ok) out.add(a[1], sizeof(siginfo_t));
      break;

    // --- sleeping -----------------------------------------------------------
    case SYS_nanosleep:
      if (interrupted(r)) out.add(a[1], sizeof(struct timespec));
      break;
    case SYS_clock_nanosleep:
      if (interrupted(r) && (a[1] & TIMER_ABSTIME) == 0) out.add(a[3], sizeof(struct timespec));
      break;

    // --- waiting for children ---------------------------------------------
    case SYS_wait4:
      if (r > 0) {
        out.add(a[1], sizeof(int));
        out.add(a[3], sizeof(struct rusage));
      }
      break;
    case SYS_waitid:
      if (r == -EFAULT) break;
      // siginfo's si_signo..si_status are written after every call that got
      // past argument checking, including failures and WNOHANG-with-nothing
      // (then zeroes).
      out.add(a[2], offsetof(siginfo_t, si_status) + sizeof(int));
      if (r == 0 && a[4] != 0) {
        // rusage only if a child was reaped/reported: si_signo says so.
        if (a[2] == 0) {
          out.add(a[4], sizeof(struct rusage));  // cannot tell; it is readable
        } else {
          int signo = 0;
          if (out.read(a[2] + offsetof(siginfo_t, si_signo), signo) && signo == SIGCHLD) {
            out.add(a[4], sizeof(struct rusage));
          }
        }
      }
      break;

    // --- polling ----------------------------------------------------------
    case SYS_poll:
    case SYS_ppoll:
      // revents are copied back for every entry once polling ran, also when
      // interrupted by a signal.
      if (ok || interrupted(r)) out.add(a[0], a[1] * sizeof(struct pollfd));
      // The remaining time is written back after any failure past argument
      // parsing; where it was not, it is readable and unchanged.
      if (c.nr == SYS_ppoll && r != -EFAULT) out.add(a[2], sizeof(struct timespec));
      break;
    case SYS_select:
    case SYS_pselect6: {
      const auto nfds = static_cast<int>(a[0]);
      if (ok && nfds > 0) {
        const uint64_t bytes = (static_cast<uint64_t>(nfds) + 63) / 64 * 8;
        out.add(a[1], bytes);
        out.add(a[2], bytes);
        out.add(a[3], bytes);
      }
      if (r != -EFAULT) {
        out.add(a[4], c.nr == SYS_select ? sizeof(struct timeval) : sizeof(struct timespec));
      }
      break;
    }
    case SYS_epoll_wait:
    case SYS_epoll_pwait:
    case SYS_epoll_pwait2:
      if (ok) out.add(a[1], ures(r) * sizeof(struct epoll_event));
      break;

    // --- sockets --------------------------------------------------------
    case SYS_accept:
    case SYS_accept4:
    case SYS_getsockname:
    case SYS_getpeername:
      if (ok) out.sockaddr(a[1], a[2]);
      break;
    case SYS_recvfrom:
      if (ok) {
        out.add(a[1], std::min(ures(r), a[2]));  // MSG_TRUNC may return more than len
        out.sockaddr(a[4], a[5]);
      }
      break;
    case SYS_getsockopt:
      if (ok) {
        socklen_t len = 0;
        if (out.read(a[4], len)) out.add(a[3], len);
        out.add(a[4], sizeof(socklen_t));
      } else if (r == -ERANGE) {
        out.add(a[4], sizeof(socklen_t));  // the size needed
      }
      break;
    case SYS_recvmsg:
      if (ok) {
        struct msghdr hdr {};
        if (out.read(a[1], hdr)) out.received_msghdr(a[1], sizeof(hdr), hdr, ures(r));
      }
      break;
    case SYS_recvmmsg:
      if (r > 0) {
        for (uint64_t i = 0; i < ures(r); ++i) {
          const uint64_t at = a[1] + i * sizeof(struct mmsghdr);
          struct mmsghdr m {};
          if (!out.read(at, m)) break;
          out.received_msghdr(at, sizeof(m), m.msg_hdr, m.msg_len);
        }
        out.add(a[4], sizeof(struct timespec));  // remaining timeout
      }
      break;
    case SYS_sendmmsg:
      for (uint64_t i = 0; i < ures(r); ++i) {
        out.add(a[1] + i * sizeof(struct mmsghdr) + offsetof(struct mmsghdr, msg_len),
                sizeof(unsigned int));
      }
      break;

    // --- file offsets updated through pointers -------------------------
    case SYS_sendfile:  // *offset is written back even when the copy failed
      if (r != -EFAULT) out.add(a[2], sizeof(int64_t));
      break;
    case SYS_splice:
      if (ok) {
        out.add(a[1], sizeof(int64_t));
        out.add(a[3], sizeof(int64_t));
      }
      break;
    case SYS_copy_file_range:
      if (r > 0) {
        out.add(a[1], sizeof(int64_t));
        out.add(a[3], sizeof(int64_t));
      }
      break;

    // --- threads -----------------------------------------------------------
    // Only the parent's side: CLONE_CHILD_SETTID is stored by the child when
    // it first runs and belongs to the child's first stop.
    case SYS_clone:  // flags, stack, parent_tid, child_tid, tls
      if (r > 0 && (a[0] & (CLONE_PARENT_SETTID | CLONE_PIDFD)) != 0) {
        out.add(a[2], sizeof(int));  // child tid or pidfd (mutually exclusive)
      }
      break;
    case SYS_clone3:
      if (r > 0) {
        // struct clone_args starts flags, pidfd, child_tid, parent_tid (all
        // u64); read just those, the caller's struct may be an older size.
        static_assert(offsetof(struct clone_args, pidfd) == 8);
        static_assert(offsetof(struct clone_args, parent_tid) == 24);
        std::array<uint64_t, 4> head{};
        if (!out.read(a[0], head)) break;
        if (head[0] & CLONE_PIDFD) out.add(head[1], sizeof(int));
        if (head[0] & CLONE_PARENT_SETTID) out.add(head[3], sizeof(int));
      }
      break;

    // --- multiplexers ------------------------------------------------------
    case SYS_ioctl:
      ioctl_outputs(c, r, out);
      break;
    case SYS_prctl:
      prctl_outputs(c, r, out);
      break;
    case SYS_arch_prctl:
      arch_prctl_outputs(c, r, out);
      break;
    case SYS_fcntl:
      fcntl_outputs(c, r, out);
      break;
    case SYS_ptrace:
      ptrace_outputs(c, r, out);
      break;
    case SYS_shmctl:
    case SYS_msgctl:
    case SYS_semctl:
      ipc_ctl_outputs(c, r, out);
      break;
    case SYS_futex:
      futex_outputs(c, r, out);
      break;

    // --- partially modelled (known_outputs = false) ---------------------
    case SYS_io_setup:
      if (ok) out.add(a[1], sizeof(aio_context_t));
      out.mark_incomplete();
      break;
    case SYS_io_getevents:
    case SYS_io_pgetevents:
      if (ok) out.add(a[3], ures(r) * sizeof(struct io_event));
      out.mark_incomplete();  // the AIO ring's head moves too
      break;

    default:
      if (!syscall_info(c.nr).known_outputs) out.mark_incomplete();
      break;  // writes nothing in the caller's memory
  }
}

}  // namespace

std::string_view syscall_name(long nr) { return syscall_info(nr).name; }

SyscallInfo syscall_info(long nr) {
  const auto& t = table();
  if (nr < 0 || static_cast<size_t>(nr) >= t.size()) return kUnknownInfo;
  return t[static_cast<size_t>(nr)];
}

ReplayAction replay_action(const SyscallArgs& call) {
  if (call.nr == SYS_prctl && (call.arg[0] == PR_SET_NAME || call.arg[0] == PR_SET_SECCOMP ||
                                call.arg[0] == PR_SET_NO_NEW_PRIVS)) {
    return ReplayAction::kExecute;
  }
  return syscall_info(call.nr).replay;
}

bool outputs_known(const SyscallArgs& call) {
  const SyscallInfo info = syscall_info(call.nr);
  if (info.known_outputs) return true;
  const uint64_t* a = call.arg;
  switch (call.nr) {
    case SYS_ioctl:
      return ioctl_output_size(a[1]) != kUnknownRequest;
    case SYS_prctl:
#ifdef PR_GET_AUXV
      if (a[0] == PR_GET_AUXV) return true;
#endif
      return prctl_known(a[0]);
    case SYS_arch_prctl:
      return arch_prctl_known(a[0]);
    case SYS_fcntl:
      return fcntl_known(a[1]);
    case SYS_ptrace:
      return ptrace_known(a[0]);
    case SYS_syslog:
      return syslog_known(a[0]);
    case SYS_seccomp:
      return a[0] == SECCOMP_SET_MODE_STRICT || a[0] == SECCOMP_SET_MODE_FILTER ||
             a[0] == SECCOMP_GET_ACTION_AVAIL || a[0] == SECCOMP_GET_NOTIF_SIZES;
    case SYS_shmctl:
    case SYS_msgctl:
      return ipc_ctl_known(call.nr, a[1]);
    case SYS_semctl:
      return ipc_ctl_known(call.nr, a[2]);
    case SYS_modify_ldt:
      return modify_ldt_known(a[0]);
    default:
      return false;
  }
}

bool describe_outputs(const SyscallArgs& call, int64_t result, const ReadMemory& read_memory,
                      std::vector<MemRegion>& out) {
  Collector collector(read_memory, out);
  outputs(call, result, collector);
  return collector.complete();
}

std::vector<MemRegion> syscall_outputs(const SyscallArgs& call, int64_t result,
                                       const ReadMemory& read_memory) {
  std::vector<MemRegion> out;
  describe_outputs(call, result, read_memory, out);
  return out;
}

bool takes_blocking_fd(long nr) {
  switch (nr) {
    case SYS_read:
    case SYS_readv:
    case SYS_pread64:
    case SYS_preadv:
    case SYS_preadv2:
    case SYS_write:
    case SYS_writev:
    case SYS_pwrite64:
    case SYS_pwritev:
    case SYS_pwritev2:
    case SYS_sendto:
    case SYS_sendmsg:
    case SYS_sendmmsg:
    case SYS_sendfile:  // out_fd
    case SYS_ioctl:     // unknown requests on non-regular files
      return true;
    default:
      return false;
  }
}

bool may_block(const SyscallArgs& call, FdKind fd_kind) {
  const uint64_t* a = call.arg;
  const bool fd_may_wait = fd_kind != FdKind::kRegularFile;
  switch (call.nr) {
    case SYS_futex:
      switch (a[1] & FUTEX_CMD_MASK) {
        case FUTEX_WAKE:
        case FUTEX_WAKE_BITSET:
        case FUTEX_WAKE_OP:
        case FUTEX_REQUEUE:
        case FUTEX_CMP_REQUEUE:
        case FUTEX_CMP_REQUEUE_PI:
        case FUTEX_UNLOCK_PI:
        case FUTEX_TRYLOCK_PI:
        case FUTEX_FD:
          return false;
        default:  // WAIT, WAIT_BITSET, LOCK_PI, LOCK_PI2, WAIT_REQUEUE_PI, unknown
          return true;
      }
    case SYS_futex_waitv:
#ifdef SYS_futex_wait
    case SYS_futex_wait:
#endif
      return true;

    // The fd decides.
    case SYS_read:
    case SYS_readv:
    case SYS_pread64:
    case SYS_preadv:
    case SYS_preadv2:
    case SYS_write:
    case SYS_writev:
    case SYS_pwrite64:
    case SYS_pwritev:
    case SYS_pwritev2:
    case SYS_sendfile:
      return fd_may_wait;
    case SYS_sendto:    // fd, buf, len, flags, ...
    case SYS_sendmmsg:  // fd, vec, vlen, flags
      return (a[3] & MSG_DONTWAIT) == 0 && fd_may_wait;
    case SYS_sendmsg:  // fd, msg, flags
      return (a[2] & MSG_DONTWAIT) == 0 && fd_may_wait;
    case SYS_ioctl:
      if (ioctl_blocks(a[1])) return true;
      if (ioctl_output_size(a[1]) != kUnknownRequest) return false;
      return fd_may_wait;

    // Sockets.
    case SYS_recvfrom:  // fd, buf, len, flags, ...
    case SYS_recvmmsg:  // fd, vec, vlen, flags, timeout
      return (a[3] & MSG_DONTWAIT) == 0;
    case SYS_recvmsg:  // fd, msg, flags
      return (a[2] & MSG_DONTWAIT) == 0;
    case SYS_accept:
    case SYS_accept4:
    case SYS_connect:
      return true;

    // Multiplexed waits. A zero timeout in a register is a non-blocking check.
    case SYS_poll:
      return static_cast<int>(a[2]) != 0;
    case SYS_epoll_wait:
    case SYS_epoll_pwait:
      return static_cast<int>(a[3]) != 0;
    case SYS_ppoll:
    case SYS_select:
    case SYS_pselect6:
    case SYS_epoll_pwait2:
      return true;

    // Children.
    case SYS_wait4:
      return (a[2] & WNOHANG) == 0;
    case SYS_waitid:
      return (a[3] & WNOHANG) == 0;
    case SYS_vfork:  // the parent sleeps until the child execs or exits
      return true;
    case SYS_clone:
      return (a[0] & CLONE_VFORK) != 0;
    case SYS_clone3:  // the flags are in memory
      return true;

    // Sleeping and signals.
    case SYS_nanosleep:
    case SYS_clock_nanosleep:
    case SYS_pause:
    case SYS_rt_sigsuspend:
    case SYS_rt_sigtimedwait:
    case SYS_restart_syscall:  // resumes an interrupted sleep/poll/futex wait
      return true;

    // System V / POSIX IPC.
    case SYS_msgsnd:  // id, msgp, msgsz, msgflg
      return (a[3] & IPC_NOWAIT) == 0;
    case SYS_msgrcv:  // id, msgp, msgsz, msgtyp, msgflg
      return (a[4] & IPC_NOWAIT) == 0;
    case SYS_semop:
    case SYS_semtimedop:  // IPC_NOWAIT is per sembuf, in memory
    case SYS_mq_timedsend:
    case SYS_mq_timedreceive:
      return true;

    // Locks.
    case SYS_flock:
      return (a[1] & LOCK_NB) == 0;
    case SYS_fcntl:
      return a[1] == F_SETLKW || a[1] == F_OFD_SETLKW;

    // Pipes on either side.
    case SYS_splice:
    case SYS_tee:
    case SYS_vmsplice:
      return true;

    // Opening a FIFO waits for the other end; opens on FUSE wait for the
    // (possibly recorded) server.
    case SYS_open:
    case SYS_openat:
    case SYS_openat2:
    case SYS_creat:
      return true;

    // Asynchronous I/O completions.
    case SYS_io_getevents:
    case SYS_io_pgetevents:
    case SYS_io_uring_enter:
      return true;

    default:  // includes sched_yield
      return false;
  }
}

}  // namespace backstep::sys
