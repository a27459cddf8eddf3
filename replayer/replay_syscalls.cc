// ReplayEngine, part: syscalls. Most are emulated (the kernel skips them
// and their recorded result and memory writes are applied); those that
// shape threads, the address space and in-process kernel state run for
// real and are checked. In a checkpoint's copy, the program is shown its
// recorded thread ids.
#include <fmt/core.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "preload/syscallbuf_abi.h"
#include "ptrace/proc.h"
#include "ptrace/runtime_link.h"
#include "replayer/replay_engine.h"
#include "syscalls/syscall_table.h"

namespace backstep::replayer {

using trace::StopKind;

const trace::FileMap* ReplayEngine::file_map_before_exit(size_t from, pid_t tid) const {
  const auto& ev = trace_.events();
  for (size_t i = from; i < ev.size(); ++i) {
    if (auto* f = std::get_if<trace::FileMap>(&ev[i]); f && f->tid == tid) return f;
    if (auto* s = std::get_if<trace::Stop>(&ev[i]); s && s->tid == tid) return nullptr;
  }
  return nullptr;
}

// The signal that ended the syscall whose entry is record `entry_index`:
// its exit failed with EINTR or a restart code and the thread's next stop
// is that signal, sent with the resumption from the exit. 0 otherwise.
int ReplayEngine::signal_ending_wait(size_t entry_index, pid_t tid) const {
  std::optional<size_t> exit_index = next_stop_index(entry_index + 1, tid);
  if (!exit_index) return 0;
  const auto& exit = std::get<trace::Stop>(trace_.events()[*exit_index]);
  if (exit.kind != StopKind::kSyscallExit) return 0;
  // -EINTR, -ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK
  if (exit.result != -EINTR && (exit.result > -512 || exit.result < -516)) return 0;
  const trace::Stop* s = next_stop(*exit_index + 1, tid);
  if (!s || s->kind != StopKind::kSignal) return 0;
  // Sent with the resumption from the exit, or already with the one into
  // the call (a held signal let through at its entry).
  bool sent = s->resumed.signal == s->value || exit.resumed.signal == s->value;
  return sent ? static_cast<int>(s->value) : 0;
}

// The signal delivered right after the exit of the syscall whose entry is
// record `entry_index`, which the replay does not send: one the program
// sent itself, pending for real. 0 otherwise.
int ReplayEngine::pending_signal_ending_wait(size_t entry_index, pid_t tid) const {
  std::optional<size_t> exit_index = next_stop_index(entry_index + 1, tid);
  if (!exit_index) return 0;
  const auto& exit = std::get<trace::Stop>(trace_.events()[*exit_index]);
  if (exit.kind != StopKind::kSyscallExit) return 0;
  if (exit.result != -EINTR && (exit.result > -512 || exit.result < -516)) return 0;
  const trace::Stop* s = next_stop(*exit_index + 1, tid);
  if (!s || s->kind != StopKind::kSignal || s->resumed.signal != 0 || exit.resumed.signal != 0) {
    return 0;
  }
  return static_cast<int>(s->value);
}

// sigsuspend, ppoll, pselect6 and epoll_pwait(2) wait with a temporary
// signal mask, and the kernel delivers the signal that ends the wait under
// that mask, then restores the program's own (the frame's saved mask).
// Emulated, the call would leave the program's mask in place, under which
// that signal is usually blocked: it would stay pending and the replay
// diverge. So a wait a signal ended becomes a real rt_sigsuspend on the
// program's mask argument, with the signal sent as it enters: it returns at
// once, with the kernel's state as after the recorded call. The recorded
// result is applied at the exit as for an emulated call.
bool ReplayEngine::wait_with_mask(size_t index, Thread& t, Registers& regs) {
  uint64_t mask = 0;
  uint64_t mask_size = 0;
  switch (t.nr) {
    case SYS_rt_sigsuspend:
      mask = t.args[0];
      mask_size = t.args[1];
      break;
    case SYS_ppoll:
      mask = t.args[3];
      mask_size = t.args[4];
      break;
    case SYS_epoll_pwait:
    case SYS_epoll_pwait2:
      mask = t.args[4];
      mask_size = t.args[5];
      break;
    case SYS_pselect6: {
      uint64_t data[2] = {};  // struct { const sigset_t* ss; size_t ss_len; }
      if (t.args[5] && t.process->mem.read(t.args[5], data, sizeof data)) {
        mask = data[0];
        mask_size = data[1];
      }
      break;
    }
    default:
      return false;
  }
  if (!mask || mask_size != sizeof(uint64_t)) return false;
  int sig = signal_ending_wait(index, t.vtid);
  if (!sig) {
    // A signal the program sent itself (another thread's pthread_kill, a
    // kill of its own) ended the wait: by the time the exit is played it is
    // pending here too, and a real rt_sigsuspend on the program's mask
    // takes it at once.
    int pending = pending_signal_ending_wait(index, t.vtid);
    if (!pending) return false;
    t.wake_expected = pending;  // checked before the call is let go (begin_run)
  }
  regs.orig_rax = SYS_rt_sigsuspend;
  set_syscall_arg(regs, 0, mask);
  set_syscall_arg(regs, 1, mask_size);
  t.task.set_regs(regs);
  t.rewrote_args = true;
  t.wake_signal = sig;
  return true;
}

// At a syscall entry: let it run, or make the kernel skip it so that its
// recorded result can be applied at the exit.
void ReplayEngine::on_entry(size_t index, Thread& t, Registers& regs) {
  t.in_syscall = true;
  t.nr = static_cast<long>(regs.orig_rax);
  for (int i = 0; i < 6; ++i) t.args[i] = syscall_arg(regs, i);
  t.file_map = nullptr;
  t.rewrote_args = false;
  const trace::Stop* exit = next_stop_of(index + 1, t.vtid, StopKind::kSyscallExit);
  sys::SyscallArgs call{t.nr, {t.args[0], t.args[1], t.args[2], t.args[3], t.args[4], t.args[5]}};
  bool execute = sys::replay_action(call) == sys::ReplayAction::kExecute;
  switch (t.nr) {
    case abi::kRegisterSyscall:
      t.block = t.args[0];
      execute = false;
      break;
    case BKSB_REGISTER_SYSCALL:
      on_buffer_registration(t);
      execute = false;
      break;
    case SYS_rseq:
      execute = false;  // refused while recording too
      break;
    case SYS_kill:
    case SYS_tkill:
    case SYS_tgkill:
    case SYS_rt_sigqueueinfo:
    case SYS_rt_tgsigqueueinfo: {
      // A signal the program sends itself must arrive again; nothing else
      // leaves the replay. sigqueue and pthread_sigqueue carry a value the
      // handler reads: the kernel queues the program's own siginfo.
      pid_t own = t.process->vpid;
      auto target = static_cast<pid_t>(t.args[0]);
      bool self = target == own || (t.nr == SYS_tkill && by_vtid_.count(target) > 0) ||
                  reaches_own_group(t);
      execute = self;
      if (execute) aim_self_signal(t, regs);
      break;
    }
    case SYS_set_tid_address:
      t.clear_tid = t.args[0];
      break;
    case SYS_set_robust_list:
      t.robust = std::pair(t.args[0], t.args[1]);
      break;
    case SYS_sigaltstack: {
      stack_t ss{};
      if (t.args[0] && t.process->mem.read(t.args[0], &ss, sizeof ss)) t.altstack = ss;
      break;
    }
    case SYS_exit_group:
      t.process->dying = true;
      if (t.process->pid == inferior_.leader()) dying_ = true;
      break;
    case SYS_clone:
    case SYS_clone3:
    case SYS_fork:
    case SYS_vfork: {
      // Made again when the recording made one: its event stop follows
      // (traces made before child processes were recorded have none, and
      // the child, which ran unrecorded, is not made).
      const trace::Stop* next = next_stop(index + 1, t.vtid);
      execute = execute && next &&
                (next->kind == StopKind::kClone || next->kind == StopKind::kFork ||
                 next->kind == StopKind::kVfork);
      break;
    }
    case SYS_execve:
    case SYS_execveat: {
      // Run for real when it succeeded (its exec stop follows), else its
      // recorded failure is returned.
      std::optional<size_t> next = next_stop_index(index + 1, t.vtid);
      execute = next && std::get<trace::Stop>(trace_.events()[*next]).kind == StopKind::kExec;
      if (execute) prepare_exec(index, t, regs, *next);
      break;
    }
    case SYS_mmap: {
      if (!exit || exit->result < 0) {
        execute = false;
        break;
      }
      const trace::FileMap* f = file_map_before_exit(index + 1, t.vtid);
      if (f && backing_.backs(f->object)) {
        map_backing_file(index, t, *f);
        execute = false;
        break;
      }
      // Same address as recorded; file contents come from the trace.
      set_syscall_arg(regs, 0, static_cast<uint64_t>(exit->result));
      uint64_t flags = t.args[3] | MAP_FIXED;
      if (f) {
        t.file_map = f;
        flags = (flags & ~static_cast<uint64_t>(MAP_SHARED | MAP_SHARED_VALIDATE)) | MAP_PRIVATE |
                MAP_ANONYMOUS;
        set_syscall_arg(regs, 4, static_cast<uint64_t>(-1));
        set_syscall_arg(regs, 5, 0);
      }
      set_syscall_arg(regs, 3, flags);
      t.task.set_regs(regs);
      t.rewrote_args = true;
      break;
    }
    case SYS_shmat: {
      // The segment is the recording's: attached as a backing file, with
      // the recorded result (a failure included) given to the program.
      execute = false;
      const trace::FileMap* f = file_map_before_exit(index + 1, t.vtid);
      if (exit && exit->result >= 0 && f && backing_.backs(f->object)) {
        map_backing_file(index, t, *f);
        t.process->shm_attached[f->addr] = f->length;
      }
      break;
    }
    case SYS_shmdt: {
      // Its attachment is a mapping of a backing file, which shmdt would not
      // take for a segment: unmapped instead.
      execute = false;
      if (!exit || exit->result != 0) break;
      auto it = t.process->shm_attached.find(t.args[0]);
      if (it == t.process->shm_attached.end()) {
        diverge(index, fmt::format("shmdt({:#x}): no SysV segment attached there", t.args[0]));
      }
      InjectedResult r = inject_syscall(t.task, t.process->mem, HeldAt::kSyscallEntry, SYS_munmap,
                                        {it->first, it->second});
      if (r.value != 0) {
        diverge(index, fmt::format("unmapping a SysV attachment failed: {}", r.value));
      }
      t.process->shm_attached.erase(it);
      break;
    }
    default:
      break;
  }
  t.emulated = !execute;
  if (t.emulated && !wait_with_mask(index, t, regs)) {
    regs.orig_rax = static_cast<uint64_t>(-1);
    t.task.set_regs(regs);
  }
}

void ReplayEngine::on_exit(size_t index, Thread& t, const trace::Stop& s, Registers& regs) {
  t.in_syscall = false;
  if (t.emulated) {
    regs.rax = static_cast<uint64_t>(s.result);
    regs.orig_rax = static_cast<uint64_t>(t.nr);
    if (s.result <= -512 && s.result >= -516 && s.result != -515) {
      // -ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK:
      // a signal woke the call. When it is delivered here (the thread's next
      // stop is its delivery: sent with the resumption, or pending for real
      // from a kill the program made), the kernel restarts the call or fails
      // it with EINTR as it did when recording. When it is not, because
      // another thread took the process-wide signal first (SIGCHLD), the
      // kernel found nothing to deliver and restarted the call; the replayed
      // thread has no signal pending, so that restart is made here: else the
      // restart code would reach the program as the call's result.
      const trace::Stop* next = next_stop(index + 1, t.vtid);
      if (next && next->kind != StopKind::kSignal && next->resumed.signal == 0) {
        regs.rax = s.result == -516 ? static_cast<uint64_t>(SYS_restart_syscall)
                                    : static_cast<uint64_t>(t.nr);
        regs.rip -= 2;  // the syscall instruction again
      }
    }
    t.task.set_regs(regs);
    for (const trace::MemWrite& w : s.writes)
      t.process->mem.write_or_throw(w.addr, w.data.data(), w.data.size());
    take_consumed_signals(t, s);
  } else if (static_cast<int64_t>(regs.rax) != s.result) {
    diverge(index, fmt::format("{} returned {}, recorded {}", sys::syscall_name(t.nr),
                               static_cast<int64_t>(regs.rax), s.result));
  }
  if (t.file_map) {
    const trace::FileMap& f = *t.file_map;
    std::ifstream in(trace_.file_copy(f.content), std::ios::binary);
    if (!in) throw Error(fmt::format("the trace lacks its copy of {}", f.path));
    uint64_t n = f.file_size > f.offset ? std::min(f.length, f.file_size - f.offset) : 0;
    std::vector<char> buf(n);
    in.seekg(static_cast<std::streamoff>(f.offset));
    in.read(buf.data(), static_cast<std::streamsize>(n));
    t.process->mem.write_or_throw(f.addr, buf.data(), static_cast<size_t>(in.gcount()));
    t.file_map = nullptr;
  }
  if (options_.echo_output && s.result > 0) echo_output(t, s.result);
  t.process->terminal.after_syscall(t.nr, t.args, s.result);
}

// What the program printed on its terminal, printed again.
void ReplayEngine::echo_output(Thread& t, int64_t result) {
  if (t.nr != SYS_write && t.nr != SYS_writev) return;
  std::optional<int> stream = t.process->terminal.stream_of(static_cast<int>(t.args[0]));
  if (!stream) return;
  int fd = *stream;
  std::vector<char> data;
  if (t.nr == SYS_write) {
    data.resize(static_cast<size_t>(result));
    if (!t.process->mem.read(t.args[1], data.data(), data.size())) return;
  } else {
    size_t left = static_cast<size_t>(result);
    for (uint64_t i = 0; i < t.args[2] && left > 0; ++i) {
      iovec iov{};
      if (!t.process->mem.read(t.args[1] + i * sizeof iov, &iov, sizeof iov)) return;
      size_t n = std::min(left, iov.iov_len);
      size_t at = data.size();
      data.resize(at + n);
      if (!t.process->mem.read(reinterpret_cast<uint64_t>(iov.iov_base), data.data() + at, n))
        return;
      left -= n;
    }
  }
  std::fflush(stdout);
  [[maybe_unused]] ssize_t w = ::write(fd, data.data(), data.size());
}

// Whether `sig` is pending for `t`: in its own set or the process's.
bool ReplayEngine::signal_pending_for(const Thread& t, int sig) const {
  for (const char* key : {"SigPnd", "ShdPnd"}) {
    auto field = proc_status_field(t.task.tid(), key);
    if (field && (std::stoull(*field, nullptr, 16) >> (sig - 1)) & 1) return true;
  }
  return false;
}

// ---- Thread ids in copies ----

ReplayEngine::CloneRequest ReplayEngine::clone_request(const Thread& t) const {
  CloneRequest c;
  if (t.nr == SYS_clone) {
    c.flags = t.args[0];
    c.parent_tid = t.args[2];
    c.child_tid = t.args[3];
  } else if (t.nr == SYS_clone3) {
    // struct clone_args: flags, pidfd, child_tid, parent_tid, ...
    uint64_t a[4] = {};
    if (t.args[1] >= sizeof a && t.process->mem.read(t.args[0], a, sizeof a)) {
      c.flags = a[0];
      c.child_tid = a[2];
      c.parent_tid = a[3];
    }
  }
  return c;
}

void ReplayEngine::show_recorded_tid(Thread& t, const trace::Stop& s, Registers& regs) {
  regs.rax = static_cast<uint64_t>(s.result);
  t.task.set_regs(regs);
  if (t.nr == SYS_set_tid_address) return;
  CloneRequest c = clone_request(t);
  auto id = static_cast<int32_t>(s.result);
  if (c.flags & CLONE_PARENT_SETTID) t.process->mem.write_value(c.parent_tid, id);
  // The child writes its id itself before its first stop, which the clone
  // stop waited for.
  if ((c.flags & CLONE_CHILD_SETTID) && t.clone_child) t.process->mem.write_value(c.child_tid, id);
}

// kill(0, sig) and kill(-pgid, sig) of the group the caller leads reach
// the caller too (the replayed processes' groups are not the recorded ones,
// so only those two forms are told apart; kill(-1, sig) skips the caller).
bool ReplayEngine::reaches_own_group(const Thread& t) const {
  if (t.nr != SYS_kill) return false;
  auto target = static_cast<pid_t>(t.args[0]);
  return target == 0 || target == -t.process->vpid;
}

void ReplayEngine::aim_self_signal(Thread& t, Registers& regs) {
  // Recorded ids name the program's threads; the kernel knows these
  // processes' by other numbers (the same ones only in the launched process).
  auto kernel_view = [&](uint64_t vtid) -> uint64_t {
    const Thread* target = thread_by_vtid(static_cast<pid_t>(vtid));
    return target ? static_cast<uint64_t>(namespace_tid(target->task.tid())) : vtid;
  };
  const uint64_t own = t.process->vpid;
  const uint64_t own_kernel = static_cast<uint64_t>(namespace_tid(t.process->pid));
  uint64_t args[2] = {t.args[0], t.args[1]};
  if (t.nr == SYS_kill || t.nr == SYS_tgkill || t.nr == SYS_rt_sigqueueinfo ||
      t.nr == SYS_rt_tgsigqueueinfo) {
    // To its group: the replay sends it to the caller alone (the group's
    // other processes got theirs from outside, as recorded).
    if (args[0] == own || reaches_own_group(t)) args[0] = own_kernel;
    if (t.nr == SYS_tgkill || t.nr == SYS_rt_tgsigqueueinfo) args[1] = kernel_view(args[1]);
  } else {
    args[0] = kernel_view(args[0]);
  }
  if (args[0] == t.args[0] && args[1] == t.args[1]) return;
  set_syscall_arg(regs, 0, args[0]);
  set_syscall_arg(regs, 1, args[1]);
  t.task.set_regs(regs);
  t.rewrote_args = true;
}

}  // namespace backstep::replayer
