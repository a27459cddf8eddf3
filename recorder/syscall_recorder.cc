// Session, part: syscall entries and exits. What a syscall wrote into the
// program's memory and what it returned is recorded at its exit; the calls
// the tracer answers itself (the runtime's registration, rseq, seeded
// getrandom) are skipped by the kernel; a call that may block lets the
// scheduler run another thread (blocked_threads.cc).
#include <fmt/core.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>

#include "base/errors.h"
#include "preload/syscallbuf_abi.h"
#include "ptrace/runtime_link.h"
#include "recorder/session.h"
#include "syscalls/syscall_table.h"

namespace backstep::recorder {

using trace::StopKind;
using trace::SwitchReason;

namespace {
constexpr int64_t kERestartRestartBlock = 516;
}  // namespace

void Session::on_syscall_stop(Thread& t, Registers& regs) {
  if (!t.in_syscall) {
    on_syscall_entry(t, regs);
    if (may_block(t) && !t.process->dying) {
      deliver_held_signal_at_entry(t);
      block_in_kernel(t);
      switch_from(t, SwitchReason::kBlocked);
    } else if (!t.process->dying && used_up_timeslice(t)) {
      switch_from(t, SwitchReason::kTimeslice);
    }
    return;
  }
  on_syscall_exit(t, regs);
  deliver_held_signal_at_exit(t);
  if (std::exchange(t.yield_at_next_call, false) && others_could_run(t)) {
    switch_from(t, SwitchReason::kTimeslice);  // preempted in the buffer's path
  } else if (t.call.nr == SYS_sched_yield) {
    switch_from(t, SwitchReason::kYield);
  } else if (scheduler_.forced() || scheduler_.should_switch(SwitchReason::kChaos)) {
    switch_from(t, SwitchReason::kChaos);
  }
}

// Whether the syscall `t` just entered may sleep in the kernel.
// An open that waits for another thread (or process) of the program: a
// FIFO's, without O_NONBLOCK, waits for the other end to be opened.
bool Session::open_may_wait(const Thread& t) const {
  const bool at = t.call.nr == SYS_openat;
  const uint64_t* a = t.call.arg;
  if ((at ? a[2] : a[1]) & O_NONBLOCK) return false;
  std::string path = t.process->mem.read_string(at ? a[1] : a[0], PATH_MAX);
  if (path.empty()) return false;
  if (path[0] != '/') {
    std::string dir = fmt::format("/proc/{}/cwd", t.task.tid());
    if (at && static_cast<int>(a[0]) != AT_FDCWD) {
      dir = fmt::format("/proc/{}/fd/{}", t.task.tid(), static_cast<int>(a[0]));
    }
    path = dir + "/" + path;
  }
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode);
}

bool Session::may_block(Thread& t) {
  const sys::SyscallArgs& call = t.call;
  sys::FdKind fd_kind = sys::FdKind::kUnknown;
  if (sys::takes_blocking_fd(call.nr)) {
    struct stat fst {};
    std::string fd_path =
        fmt::format("/proc/{}/fd/{}", t.task.tid(), static_cast<int>(call.arg[0]));
    if (::stat(fd_path.c_str(), &fst) == 0) {
      fd_kind = S_ISREG(fst.st_mode) ? sys::FdKind::kRegularFile : sys::FdKind::kOther;
      // Kept for record_file_changes: a write to a mapped file shows in its mappings.
      if (S_ISREG(fst.st_mode)) {
        t.fd_file = FileId{static_cast<uint64_t>(fst.st_dev), static_cast<uint64_t>(fst.st_ino)};
      }
    }
  }
  // Opening a FIFO can wait for its other end (open_may_wait); treating
  // every open as a switch point would scatter switches through start-up.
  // clone returns at once, and its PTRACE_EVENT_CLONE stop must be
  // recorded in order, so it is never treated as blocking.
  // vfork's parent sleeps after its event stop, where the recorder blocks it.
  bool blocks = call.nr != SYS_open && call.nr != SYS_openat && call.nr != SYS_clone &&
                call.nr != SYS_clone3 && call.nr != SYS_vfork && sys::may_block(call, fd_kind);
  if (call.nr == SYS_open || call.nr == SYS_openat) blocks = open_may_wait(t);
  if (blocks && call.nr == SYS_futex) {
    // FUTEX_WAIT returns at once when the word already differs.
    int op = static_cast<int>(call.arg[1]) & FUTEX_CMD_MASK;
    if (op == FUTEX_WAIT || op == FUTEX_WAIT_BITSET) {
      uint32_t word = 0;
      if (t.process->mem.read(call.arg[0], &word, 4) &&
          word != static_cast<uint32_t>(call.arg[2])) {
        blocks = false;
      }
    }
  }
  return blocks;
}

void Session::on_syscall_entry(Thread& t, Registers& regs) {
  t.in_syscall = true;
  t.call_rip = regs.rip;
  t.call.nr = static_cast<long>(regs.orig_rax);
  for (int i = 0; i < 6; ++i) t.call.arg[i] = syscall_arg(regs, i);
  t.forced_result.reset();
  t.mapped_path.clear();
  t.fd_file.reset();
  t.cloned = false;
  record_stop(t, StopKind::kSyscallEntry, regs, t.call.nr);
  if (t.seccomp) patch_syscall_site(t, regs, false);

  const long nr = t.call.nr;
  // Only restart_syscall continues an interrupted call, and only at once.
  if (nr != SYS_restart_syscall) t.interrupted_call.reset();
  save_restart_writes(t);
  if (nr != abi::kRegisterSyscall && nr != BKSB_REGISTER_SYSCALL &&
      !sys::outputs_known(t.semantics()) &&
      warned_.insert(nr).second) {
    fmt::print(stderr,
               "backstep: warning: syscall {} ({}): what it writes into memory is not "
               "recorded; replay may diverge after it\n",
               sys::syscall_name(nr), nr);
  }
  if (nr == abi::kRegisterSyscall) {
    // The runtime announces its ThreadBlock (see runtime/abi.h).
    t.block = t.call.arg[0];
    ThreadBlockView view(t.process->mem, *t.block);
    t.ring_drained = view.ring_head();
    t.ring_capacity = std::max<uint32_t>(1, view.ring_capacity());
    t.tick_limit = 0;
    t.event_limit = 0;
    t.forced_result = 0;
  } else if (nr == BKSB_REGISTER_SYSCALL) {
    on_buffer_registration(t);
  } else if (nr == SYS_rt_sigreturn) {
    t.handler_frames = std::max(0, t.handler_frames - 1);
  } else if (nr == SYS_clone || nr == SYS_clone3 || nr == SYS_vfork) {
    pause_buffer_for_vfork(t, true);
  } else if (nr == SYS_rseq || nr == SYS_io_setup || nr == SYS_io_uring_setup) {
    // Restartable sequences let the kernel move the program counter on
    // preemption, and AIO and io_uring rings are written by the kernel
    // whenever it likes, neither of which replay could reproduce: refused
    // as by a kernel built without them (as rr does), and programs fall
    // back to plain syscalls.
    t.forced_result = -ENOSYS;
  } else if (nr == SYS_mmap && !(t.call.arg[3] & MAP_ANONYMOUS)) {
    char link[PATH_MAX];
    std::string fd_path =
        fmt::format("/proc/{}/fd/{}", t.task.tid(), static_cast<int>(t.call.arg[4]));
    ssize_t n = ::readlink(fd_path.c_str(), link, sizeof link - 1);
    if (n > 0) t.mapped_path.assign(link, static_cast<size_t>(n));
  } else if (nr == SYS_getrandom && scheduler_.chaos()) {
    // Answered from the seed (written at the exit); the kernel skips it.
    t.forced_result = static_cast<int64_t>(t.call.arg[1]);
    t.seeded_random = true;
  } else if (binding_ && (nr == SYS_sched_getaffinity || nr == SYS_sched_setaffinity)) {
    note_affinity_call(t);
  } else if (nr == SYS_exit_group) {
    t.process->dying = true;
    t.process->ender = t.task.tid();
  } else if (nr == SYS_execve || nr == SYS_execveat) {
    note_exec_call(t);
  }
  if (t.forced_result) {
    regs.orig_rax = static_cast<uint64_t>(-1);  // the kernel skips it
    t.task.set_regs(regs);
  }
}

void Session::on_syscall_exit(Thread& t, Registers& regs) {
  t.in_syscall = false;
  pause_buffer_for_vfork(t, false);
  int64_t result = static_cast<int64_t>(regs.rax);
  if (t.forced_result) {
    result = *t.forced_result;
    regs.rax = static_cast<uint64_t>(result);
    t.task.set_regs(regs);
  }
  if (binding_) after_affinity_call(t, result);
  if (std::exchange(t.seeded_random, false) && result > 0) {
    auto bytes = seeded_bytes(static_cast<size_t>(result));
    if (!t.process->mem.write(t.call.arg[0], bytes.data(), bytes.size())) {
      result = -EFAULT;
      regs.rax = static_cast<uint64_t>(result);
      t.task.set_regs(regs);
    }
  }
  if (result == -kERestartRestartBlock) {  // see interrupted_syscalls.cc
    undo_restart_writes(t);
    if (t.call.nr != SYS_restart_syscall) t.interrupted_call = t.call;
  }
  t.last_result = result;
  std::vector<trace::MemWrite> writes;
  const AddressSpace& mem = t.process->mem;
  auto reader = [&mem](uint64_t addr, void* out, size_t len) { return mem.read(addr, out, len); };
  for (const sys::MemRegion& r : sys::syscall_outputs(t.semantics(), result, reader)) {
    if (r.len == 0) continue;
    trace::MemWrite w;
    w.addr = r.addr;
    w.data.resize(r.len);
    if (!mem.read(r.addr, w.data.data(), r.len)) continue;
    writes.push_back(std::move(w));
  }
  if (t.call.nr == SYS_mmap && result >= 0 && !t.mapped_path.empty()) {
    record_file_map(t, static_cast<uint64_t>(result));
  }
  if (t.call.nr == SYS_shmat && result >= 0) record_shm_attach(t, static_cast<uint64_t>(result));
  record_file_changes(t, result);
  record_stop(t, StopKind::kSyscallExit, regs, t.call.nr, result, std::move(writes));
  if (t.seccomp) patch_syscall_site(t, regs, true);
  if (t.call.nr == SYS_futex && result > 0) {
    make_due(futexes_.note_wake(futex_space(t), t.call, result));
  }
  if (t.call.nr == SYS_set_tid_address) t.clear_tid = t.call.arg[0];
  if (t.call.nr == BKSB_REGISTER_SYSCALL && t.call.arg[2] == 0 && result == 0 && t.syscallbuf) {
    share_syscall_buffer(t);
  }
  if (t.call.nr == SYS_execve || t.call.nr == SYS_execveat) t.process->execing = 0;  // it failed

  if (t.call.nr == SYS_mmap && result >= 0 && !t.mapped_path.empty() &&
      (t.call.arg[2] & PROT_EXEC)) {
    write_patch(t.process->patcher.patch_mapping(mem, t.mapped_path, t.call.arg[5], t.call.arg[1],
                                                 static_cast<uint64_t>(result)));
  }
}

void Session::note_affinity_call(Thread& t) {
  auto target_vtid = static_cast<pid_t>(t.call.arg[0]);
  Thread* target = nullptr;
  for (auto& [tid, th] : threads_) {
    if (target_vtid == 0 ? &th == &t : th.vtid == target_vtid) target = &th;
  }
  if (!target || !target->bound) return;
  if (t.call.nr == SYS_sched_getaffinity) {
    if (binding_->release(target->task.tid())) t.affinity_rebind = target->task.tid();
  } else {
    t.affinity_set = target->task.tid();
  }
}

void Session::after_affinity_call(Thread& t, int64_t result) {
  if (pid_t tid = std::exchange(t.affinity_rebind, 0)) {
    auto it = threads_.find(tid);
    if (it != threads_.end() && it->second.bound && it->second.state != Thread::State::kDead) {
      it->second.bound = binding_->bind(tid);
    }
  }
  if (pid_t tid = std::exchange(t.affinity_set, 0); tid && result == 0) {
    if (auto it = threads_.find(tid); it != threads_.end()) it->second.bound = false;
  }
}

}  // namespace backstep::recorder
