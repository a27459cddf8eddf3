// Tests of the syscall knowledge table: real syscalls made by the test
// process itself, whose outputs are then described from their arguments and
// results, with a ReadMemory that reads the test's own memory.
#include "syscalls/syscall_table.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

namespace backstep::sys {

// For gtest's failure messages (found by ADL, so not in the unnamed namespace).
void PrintTo(const MemRegion& r, std::ostream* os) {
  *os << "{0x" << std::hex << r.addr << std::dec << ", " << r.len << "}";
}

namespace {

uint64_t A(const void* p) { return reinterpret_cast<uint64_t>(p); }

bool read_self(uint64_t addr, void* out, size_t len) {
  std::memcpy(out, reinterpret_cast<const void*>(addr), len);
  return true;
}

// Makes the call for real, returning the raw-syscall style result
// (-errno on failure), and the args as the recorder would see them.
struct Done {
  SyscallArgs args;
  int64_t result;
};

Done call(long nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
          uint64_t a4 = 0, uint64_t a5 = 0) {
  const long r = ::syscall(nr, a0, a1, a2, a3, a4, a5);
  return {{nr, {a0, a1, a2, a3, a4, a5}}, r == -1 ? -int64_t{errno} : int64_t{r}};
}

std::vector<MemRegion> outputs_of(const Done& d) {
  return syscall_outputs(d.args, d.result, read_self);
}

class Pipe {
 public:
  Pipe() { EXPECT_EQ(::pipe(fds_), 0); }
  ~Pipe() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  int r() const { return fds_[0]; }
  int w() const { return fds_[1]; }

 private:
  int fds_[2] = {-1, -1};
};

void write_all(int fd, std::string_view s) {
  ASSERT_EQ(::write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size()));
}

// --- syscall_outputs with real calls ---------------------------------------

TEST(SyscallOutputs, ReadFromPipeIsClampedByResult) {
  Pipe p;
  write_all(p.w(), "hello world");
  char buf[64] = {};
  const Done d = call(SYS_read, p.r(), A(buf), sizeof(buf));
  ASSERT_EQ(d.result, 11);
  EXPECT_EQ(outputs_of(d), (std::vector<MemRegion>{{A(buf), 11}}));
}

TEST(SyscallOutputs, FailedReadWritesNothing) {
  char buf[16] = {};
  const Done d = call(SYS_read, 9999, A(buf), sizeof(buf));
  ASSERT_EQ(d.result, -EBADF);
  EXPECT_TRUE(outputs_of(d).empty());
}

TEST(SyscallOutputs, Fstat) {
  Pipe p;
  struct stat st {};
  const Done d = call(SYS_fstat, p.r(), A(&st));
  ASSERT_EQ(d.result, 0);
  EXPECT_EQ(outputs_of(d), (std::vector<MemRegion>{{A(&st), 144}}));
}

TEST(SyscallOutputs, ReadvShortResultSpreadsOverIovecsInOrder) {
  Pipe p;
  write_all(p.w(), "0123456789AB");  // 12 bytes
  char first[8] = {};
  char second[16] = {};
  char third[8] = {};
  struct iovec iov[3] = {{first, sizeof(first)}, {second, sizeof(second)}, {third, sizeof(third)}};
  const Done d = call(SYS_readv, p.r(), A(iov), 3);
  ASSERT_EQ(d.result, 12);
  EXPECT_EQ(outputs_of(d), (std::vector<MemRegion>{{A(first), 8}, {A(second), 4}}));
}

TEST(SyscallOutputs, RecvmsgWithIovecPairAndScmRights) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Pipe passed;

  // Send 10 bytes with one fd attached.
  {
    char data[] = "abcdefghij";
    struct iovec iov = {data, 10};
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    struct msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    struct cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    const int fd = passed.r();
    std::memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
    ASSERT_EQ(::sendmsg(sv[0], &msg, 0), 10);
  }

  char head[4] = {};
  char tail[32] = {};
  struct iovec iov[2] = {{head, sizeof(head)}, {tail, sizeof(tail)}};
  alignas(struct cmsghdr) char control[256] = {};
  struct msghdr msg {};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  const Done d = call(SYS_recvmsg, sv[1], A(&msg), 0);
  ASSERT_EQ(d.result, 10);
  // The kernel left the control bytes it wrote in msg_controllen.
  ASSERT_EQ(msg.msg_controllen, CMSG_SPACE(sizeof(int)));
  struct cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  ASSERT_NE(cm, nullptr);
  ASSERT_EQ(cm->cmsg_type, SCM_RIGHTS);
  int received = -1;
  std::memcpy(&received, CMSG_DATA(cm), sizeof(received));

  EXPECT_EQ(outputs_of(d), (std::vector<MemRegion>{
                               {A(&msg), sizeof(msg)},
                               {A(head), 4},
                               {A(tail), 6},
                               {A(control), CMSG_SPACE(sizeof(int))},
                           }));
  ::close(received);
  ::close(sv[0]);
  ::close(sv[1]);
}

// An abstract-namespace AF_UNIX address; returns its length.
socklen_t abstract_addr(struct sockaddr_un& addr, const std::string& name) {
  std::memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  return static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + 1 + name.size());
}

TEST(SyscallOutputs, RecvmsgReportsSenderAddress) {
  const std::string suffix = std::to_string(::getpid());
  struct sockaddr_un rx_addr {};
  struct sockaddr_un tx_addr {};
  const socklen_t rx_len = abstract_addr(rx_addr, "bs-sys-rx-" + suffix);
  const socklen_t tx_len = abstract_addr(tx_addr, "bs-sys-tx-" + suffix);
  const int rx = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  const int tx = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  ASSERT_EQ(::bind(rx, reinterpret_cast<struct sockaddr*>(&rx_addr), rx_len), 0);
  ASSERT_EQ(::bind(tx, reinterpret_cast<struct sockaddr*>(&tx_addr), tx_len), 0);
  ASSERT_EQ(::sendto(tx, "xyz", 3, 0, reinterpret_cast<struct sockaddr*>(&rx_addr), rx_len), 3);

  struct sockaddr_storage from {};
  char buf[16] = {};
  struct iovec iov = {buf, sizeof(buf)};
  struct msghdr msg {};
  msg.msg_name = &from;
  msg.msg_namelen = sizeof(from);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  const Done d = call(SYS_recvmsg, rx, A(&msg), 0);
  ASSERT_EQ(d.result, 3);
  ASSERT_EQ(msg.msg_namelen, tx_len);
  EXPECT_EQ(outputs_of(d), (std::vector<MemRegion>{
                               {A(&msg), sizeof(msg)},
                               {A(&from), tx_len},
                               {A(buf), 3},
                           }));
  ::close(rx);
  ::close(tx);
}

TEST(SyscallOutputs, Getdents64IsClampedByResult) {
  char dir_template[] = "/tmp/backstep-syscalls-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  for (const char* name : {"a", "bb", "ccc"}) {
    const int fd = ::open((dir + "/" + name).c_str(), O_CREAT | O_WRONLY, 0600);
    ASSERT_GE(fd, 0);
    ::close(fd);
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dfd, 0);
  alignas(8) char buf[4096] = {};
  const Done d = call(SYS_getdents64, dfd, A(buf), sizeof(buf));
  ASSERT_GT(d.result, 0);
  ASSERT_LT(d.result, static_cast<int64_t>(sizeof(buf)));
  EXPECT_EQ(outputs_of(d), (std::vector<MemRegion>{{A(buf), static_cast<uint64_t>(d.result)}}));
  ::close(dfd);
  for (const char* name : {"a", "bb", "ccc"}) ::unlink((dir + "/" + name).c_str());
  ::rmdir(dir.c_str());
}

TEST(SyscallOutputs, ClockGettime) {
  struct timespec ts {};
  const Done d = call(SYS_clock_gettime, CLOCK_MONOTONIC, A(&ts));
  ASSERT_EQ(d.result, 0);
  EXPECT_EQ(outputs_of(d), (std::vector<MemRegion>{{A(&ts), 16}}));
}

TEST(SyscallOutputs, RtSigprocmaskOldSetUsesSigsetsize) {
  uint64_t old_set = 0;
  const Done d = call(SYS_rt_sigprocmask, SIG_BLOCK, 0, A(&old_set), sizeof(old_set));
  ASSERT_EQ(d.result, 0);
  EXPECT_EQ(outputs_of(d), (std::vector<MemRegion>{{A(&old_set), 8}}));

  // No old set asked for: nothing.
  const Done none = call(SYS_rt_sigprocmask, SIG_BLOCK, 0, 0, sizeof(old_set));
  ASSERT_EQ(none.result, 0);
  EXPECT_TRUE(outputs_of(none).empty());
}

TEST(SyscallOutputs, RtSigactionOldActIsTheKernelStruct) {
  unsigned char old_act[64] = {};
  const Done d = call(SYS_rt_sigaction, SIGUSR2, 0, A(old_act), 8);
  ASSERT_EQ(d.result, 0);
  EXPECT_EQ(outputs_of(d), (std::vector<MemRegion>{{A(old_act), 32}}));
}

TEST(SyscallOutputs, Wait4StatusAndRusage) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(3);
  int status = 0;
  struct rusage ru {};
  const Done d = call(SYS_wait4, static_cast<uint64_t>(child), A(&status), 0, A(&ru));
  ASSERT_EQ(d.result, child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
  EXPECT_EQ(outputs_of(d), (std::vector<MemRegion>{{A(&status), 4}, {A(&ru), 144}}));

  // WNOHANG with no children: ECHILD, nothing written.
  const Done none = call(SYS_wait4, static_cast<uint64_t>(-1), A(&status), WNOHANG, A(&ru));
  ASSERT_EQ(none.result, -ECHILD);
  EXPECT_TRUE(outputs_of(none).empty());
}

TEST(SyscallOutputs, WaitidSiginfoAndRusage) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(5);
  siginfo_t info{};
  struct rusage ru {};
  const Done d = call(SYS_waitid, P_PID, static_cast<uint64_t>(child), A(&info), WEXITED, A(&ru));
  ASSERT_EQ(d.result, 0);
  ASSERT_EQ(info.si_signo, SIGCHLD);
  ASSERT_EQ(info.si_status, 5);
  // si_signo through si_status (offset 24) are stored.
  EXPECT_EQ(outputs_of(d), (std::vector<MemRegion>{{A(&info), 28}, {A(&ru), 144}}));

  // Failure still zeroes those siginfo fields, but no rusage.
  const Done none = call(SYS_waitid, P_ALL, 0, A(&info), WEXITED | WNOHANG, A(&ru));
  ASSERT_EQ(none.result, -ECHILD);
  EXPECT_EQ(info.si_signo, 0);
  EXPECT_EQ(outputs_of(none), (std::vector<MemRegion>{{A(&info), 28}}));
}

TEST(SyscallOutputs, SelectFdSetsAndTimeout) {
  Pipe p;
  write_all(p.w(), "x");
  fd_set rd;
  FD_ZERO(&rd);
  FD_SET(p.r(), &rd);
  struct timeval tv = {1, 0};
  const Done d = call(SYS_select, static_cast<uint64_t>(p.r() + 1), A(&rd), 0, 0, A(&tv));
  ASSERT_EQ(d.result, 1);
  EXPECT_EQ(outputs_of(d), (std::vector<MemRegion>{{A(&rd), 8}, {A(&tv), 16}}));
}

TEST(SyscallOutputs, GetsocknameReadsAddrlenAtExit) {
  struct sockaddr_un bound {};
  const socklen_t bound_len = abstract_addr(bound, "bs-sys-name-" + std::to_string(::getpid()));
  const int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_EQ(::bind(s, reinterpret_cast<struct sockaddr*>(&bound), bound_len), 0);

  struct sockaddr_storage addr {};
  socklen_t len = sizeof(addr);
  const Done d = call(SYS_getsockname, s, A(&addr), A(&len));
  ASSERT_EQ(d.result, 0);
  ASSERT_EQ(len, bound_len);
  EXPECT_EQ(outputs_of(d), (std::vector<MemRegion>{{A(&addr), bound_len}, {A(&len), 4}}));
  ::close(s);
}

TEST(SyscallOutputs, NanosleepRemOnlyWhenInterrupted) {
  struct timespec req = {0, 1000};
  struct timespec rem {};
  const Done d = call(SYS_nanosleep, A(&req), A(&rem));
  ASSERT_EQ(d.result, 0);
  EXPECT_TRUE(outputs_of(d).empty());
  // As a tracer would see an interrupted sleep.
  EXPECT_EQ(syscall_outputs(d.args, -EINTR, read_self), (std::vector<MemRegion>{{A(&rem), 16}}));
  EXPECT_EQ(syscall_outputs(d.args, -516 /* -ERESTART_RESTARTBLOCK */, read_self),
            (std::vector<MemRegion>{{A(&rem), 16}}));
}

TEST(SyscallOutputs, PipeAndPollRevents) {
  int fds[2] = {-1, -1};
  const Done d = call(SYS_pipe2, A(fds), O_CLOEXEC);
  ASSERT_EQ(d.result, 0);
  EXPECT_EQ(outputs_of(d), (std::vector<MemRegion>{{A(fds), 8}}));

  struct pollfd pfd[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLOUT, 0}};
  const Done p = call(SYS_poll, A(pfd), 2, 0);
  ASSERT_EQ(p.result, 1);
  EXPECT_EQ(outputs_of(p), (std::vector<MemRegion>{{A(pfd), 16}}));
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(SyscallOutputs, UnreadableIovecsMakeTheDescriptionIncomplete) {
  char buf[8] = {};
  struct iovec iov = {buf, sizeof(buf)};
  const SyscallArgs args{SYS_readv, {3, A(&iov), 1, 0, 0, 0}};
  std::vector<MemRegion> out;
  const ReadMemory unreadable = [](uint64_t, void*, size_t) { return false; };
  EXPECT_FALSE(describe_outputs(args, 8, unreadable, out));
  EXPECT_TRUE(out.empty());
  out.clear();
  EXPECT_TRUE(describe_outputs(args, 8, read_self, out));
  EXPECT_EQ(out, (std::vector<MemRegion>{{A(buf), 8}}));
}

TEST(SyscallOutputs, IoctlKnownAndUnknownRequests) {
  struct winsize ws {};
  const SyscallArgs winsz{SYS_ioctl, {0, TIOCGWINSZ, A(&ws), 0, 0, 0}};
  EXPECT_TRUE(outputs_known(winsz));
  EXPECT_EQ(syscall_outputs(winsz, 0, read_self), (std::vector<MemRegion>{{A(&ws), 8}}));
  EXPECT_TRUE(syscall_outputs(winsz, -ENOTTY, read_self).empty());

  int n = 0;
  const SyscallArgs fionread{SYS_ioctl, {0, FIONREAD, A(&n), 0, 0, 0}};
  EXPECT_TRUE(outputs_known(fionread));
  EXPECT_EQ(syscall_outputs(fionread, 0, read_self), (std::vector<MemRegion>{{A(&n), 4}}));

  const SyscallArgs tcgets{SYS_ioctl, {0, TCGETS, A(&n), 0, 0, 0}};
  EXPECT_EQ(syscall_outputs(tcgets, 0, read_self), (std::vector<MemRegion>{{A(&n), 36}}));

  const SyscallArgs unknown{SYS_ioctl, {0, 0xdeadbeef, A(&n), 0, 0, 0}};
  EXPECT_FALSE(outputs_known(unknown));
  std::vector<MemRegion> out;
  EXPECT_FALSE(describe_outputs(unknown, 0, read_self, out));
  EXPECT_FALSE(syscall_info(SYS_ioctl).known_outputs);
}

TEST(SyscallOutputs, PrctlGetName) {
  char name[16] = {};
  const Done d = call(SYS_prctl, PR_GET_NAME, A(name));
  ASSERT_EQ(d.result, 0);
  EXPECT_EQ(outputs_of(d), (std::vector<MemRegion>{{A(name), 16}}));
  EXPECT_EQ(replay_action(d.args), ReplayAction::kEmulate);
  const SyscallArgs set_name{SYS_prctl, {PR_SET_NAME, A(name), 0, 0, 0, 0}};
  EXPECT_EQ(replay_action(set_name), ReplayAction::kExecute);
  EXPECT_TRUE(syscall_outputs(set_name, 0, read_self).empty());
}

// --- names and info -----------------------------------------------------

TEST(SyscallInfo, Names) {
  EXPECT_EQ(syscall_name(SYS_read), "read");
  EXPECT_EQ(syscall_name(SYS_futex), "futex");
  EXPECT_EQ(syscall_name(SYS_clone3), "clone3");
  EXPECT_EQ(syscall_name(SYS_newfstatat), "newfstatat");
  EXPECT_EQ(syscall_name(-1), "unknown");
  EXPECT_EQ(syscall_name(100000), "unknown");
  EXPECT_EQ(syscall_name(0x40000000 | SYS_read), "unknown");  // x32 ABI
}

TEST(SyscallInfo, EveryX86_64NumberHasAName) {
  // x86-64 numbers are dense up to 334 and from 424 on.
  for (long nr = 0; nr <= SYS_set_mempolicy_home_node; ++nr) {
    if (nr > SYS_rseq && nr < SYS_pidfd_send_signal) continue;
    EXPECT_NE(syscall_name(nr), "unknown") << nr;
  }
  EXPECT_EQ(syscall_name(SYS_rseq + 1), "unknown");
}

TEST(SyscallInfo, ReplayActions) {
  for (long nr : {SYS_mmap, SYS_munmap, SYS_mprotect, SYS_brk, SYS_madvise, SYS_clone, SYS_clone3,
                  SYS_execve, SYS_exit_group, SYS_arch_prctl, SYS_rt_sigaction, SYS_rt_sigprocmask,
                  SYS_rseq, SYS_shmat, SYS_mlockall}) {
    EXPECT_EQ(syscall_info(nr).replay, ReplayAction::kExecute) << syscall_name(nr);
  }
  for (long nr : {SYS_read, SYS_write, SYS_openat, SYS_futex, SYS_msync, SYS_getpid,
                  SYS_clock_gettime, SYS_prctl}) {
    EXPECT_EQ(syscall_info(nr).replay, ReplayAction::kEmulate) << syscall_name(nr);
  }
  const SyscallInfo read_info = syscall_info(SYS_read);
  EXPECT_EQ(read_info.name, "read");
  EXPECT_TRUE(read_info.known_outputs);
  const SyscallInfo unknown = syscall_info(99999);
  EXPECT_EQ(unknown.name, "unknown");
  EXPECT_FALSE(unknown.known_outputs);
}

// --- may_block -------------------------------------------------------------

SyscallArgs futex_call(uint64_t op) { return {SYS_futex, {0x1000, op, 0, 0, 0, 0}}; }

TEST(MayBlock, FutexOps) {
  EXPECT_TRUE(may_block(futex_call(FUTEX_WAIT), FdKind::kUnknown));
  EXPECT_TRUE(may_block(futex_call(FUTEX_WAIT_PRIVATE), FdKind::kUnknown));
  EXPECT_TRUE(may_block(futex_call(FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG), FdKind::kUnknown));
  EXPECT_TRUE(may_block(futex_call(FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME),
                        FdKind::kUnknown));
  EXPECT_TRUE(may_block(futex_call(FUTEX_LOCK_PI), FdKind::kUnknown));
  EXPECT_TRUE(may_block(futex_call(FUTEX_WAIT_REQUEUE_PI), FdKind::kUnknown));
  EXPECT_FALSE(may_block(futex_call(FUTEX_WAKE), FdKind::kUnknown));
  EXPECT_FALSE(may_block(futex_call(FUTEX_WAKE_PRIVATE), FdKind::kUnknown));
  EXPECT_FALSE(may_block(futex_call(FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG), FdKind::kUnknown));
  EXPECT_FALSE(may_block(futex_call(FUTEX_CMP_REQUEUE), FdKind::kUnknown));
  EXPECT_FALSE(may_block(futex_call(FUTEX_TRYLOCK_PI), FdKind::kUnknown));
  EXPECT_FALSE(takes_blocking_fd(SYS_futex));
}

TEST(MayBlock, ReadDependsOnTheFdKind) {
  const SyscallArgs rd{SYS_read, {3, 0x1000, 10, 0, 0, 0}};
  EXPECT_TRUE(takes_blocking_fd(SYS_read));
  EXPECT_FALSE(may_block(rd, FdKind::kRegularFile));
  EXPECT_TRUE(may_block(rd, FdKind::kOther));
  EXPECT_TRUE(may_block(rd, FdKind::kUnknown));
  const SyscallArgs wr{SYS_writev, {3, 0x1000, 1, 0, 0, 0}};
  EXPECT_TRUE(takes_blocking_fd(SYS_writev));
  EXPECT_FALSE(may_block(wr, FdKind::kRegularFile));
  EXPECT_TRUE(may_block(wr, FdKind::kOther));
}

TEST(MayBlock, Others) {
  EXPECT_FALSE(may_block({SYS_sched_yield, {}}, FdKind::kUnknown));
  EXPECT_FALSE(may_block({SYS_getpid, {}}, FdKind::kUnknown));
  EXPECT_TRUE(may_block({SYS_nanosleep, {}}, FdKind::kUnknown));
  EXPECT_TRUE(may_block({SYS_accept4, {}}, FdKind::kUnknown));
  EXPECT_TRUE(may_block({SYS_recvmsg, {3, 0, 0, 0, 0, 0}}, FdKind::kUnknown));
  EXPECT_FALSE(may_block({SYS_recvmsg, {3, 0, MSG_DONTWAIT, 0, 0, 0}}, FdKind::kUnknown));
  EXPECT_FALSE(may_block({SYS_recvfrom, {3, 0, 0, MSG_DONTWAIT, 0, 0}}, FdKind::kUnknown));
  EXPECT_TRUE(may_block({SYS_sendmsg, {3, 0, 0, 0, 0, 0}}, FdKind::kOther));
  EXPECT_FALSE(may_block({SYS_sendmsg, {3, 0, MSG_DONTWAIT, 0, 0, 0}}, FdKind::kOther));
  EXPECT_TRUE(may_block({SYS_wait4, {static_cast<uint64_t>(-1), 0, 0, 0, 0, 0}}, FdKind::kUnknown));
  EXPECT_FALSE(
      may_block({SYS_wait4, {static_cast<uint64_t>(-1), 0, WNOHANG, 0, 0, 0}}, FdKind::kUnknown));
  EXPECT_TRUE(may_block({SYS_fcntl, {3, F_SETLKW, 0, 0, 0, 0}}, FdKind::kUnknown));
  EXPECT_FALSE(may_block({SYS_fcntl, {3, F_SETLK, 0, 0, 0, 0}}, FdKind::kUnknown));
  EXPECT_TRUE(
      may_block({SYS_epoll_wait, {3, 0, 1, static_cast<uint64_t>(-1), 0, 0}}, FdKind::kUnknown));
  EXPECT_FALSE(may_block({SYS_epoll_wait, {3, 0, 1, 0, 0, 0}}, FdKind::kUnknown));
  EXPECT_TRUE(may_block({SYS_msgsnd, {1, 0, 8, 0, 0, 0}}, FdKind::kUnknown));
  EXPECT_FALSE(may_block({SYS_msgsnd, {1, 0, 8, IPC_NOWAIT, 0, 0}}, FdKind::kUnknown));
  EXPECT_FALSE(may_block({SYS_msgrcv, {1, 0, 8, 0, IPC_NOWAIT, 0}}, FdKind::kUnknown));
  EXPECT_FALSE(takes_blocking_fd(SYS_recvmsg));
}

}  // namespace
}  // namespace backstep::sys
