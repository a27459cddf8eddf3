#include "replayer/replay_engine.h"

#include <elf.h>
#include <fmt/core.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>

#include "base/interrupt.h"
#include "preload/syscallbuf_abi.h"
#include "ptrace/inferior.h"
#include "ptrace/proc.h"
#include "ptrace/rdtsc_patcher.h"
#include "ptrace/runtime_link.h"
#include "ptrace/tick_section.h"
#include "replayer/executable_stand_in.h"
#include "syscalls/syscall_table.h"

namespace backstep::replayer {
namespace {

using trace::StopKind;

// Whether the kernel, delivering a signal with these registers, would
// restart the syscall they come back from (rax one of its restart codes,
// -ERESTARTSYS to -ERESTART_RESTARTBLOCK): only then does orig_rax decide
// anything.
bool restart_pending(const Registers& r) {
  auto rax = static_cast<int64_t>(r.rax);
  return rax <= -512 && rax >= -516;
}

std::string regs_diff(const Registers& want, const Registers& got, bool at_syscall_exit) {
  struct Field {
    const char* name;
    unsigned long long Registers::*member;
  };
  static const Field fields[] = {
      {"rip", &Registers::rip},         {"rsp", &Registers::rsp},
      {"rbp", &Registers::rbp},         {"rax", &Registers::rax},
      {"rbx", &Registers::rbx},         {"rcx", &Registers::rcx},
      {"rdx", &Registers::rdx},         {"rsi", &Registers::rsi},
      {"rdi", &Registers::rdi},         {"r8", &Registers::r8},
      {"r9", &Registers::r9},           {"r10", &Registers::r10},
      {"r11", &Registers::r11},         {"r12", &Registers::r12},
      {"r13", &Registers::r13},         {"r14", &Registers::r14},
      {"r15", &Registers::r15},         {"orig_rax", &Registers::orig_rax},
      {"fs_base", &Registers::fs_base}, {"gs_base", &Registers::gs_base},
  };
  for (const Field& f : fields) {
    if (at_syscall_exit && (f.member == &Registers::rax || f.member == &Registers::orig_rax)) {
      continue;
    }
    if (want.*f.member != got.*f.member) {
      return fmt::format("{} is {:#x}, recorded {:#x}", f.name, got.*f.member, want.*f.member);
    }
  }
  return {};
}

// The executable's tick-counter section (abi::kTickSection), relocated: from
// the mappings exec made (the FileMap records of tid 0 after the Exec record
// at `exec_index`) of the file `exe`.
std::pair<uint64_t, uint64_t> find_tick_section(const trace::Trace& trace, size_t exec_index,
                                                const std::string& exe) {
  uint64_t load = 0;
  std::string file;
  const auto& ev = trace.events();
  for (size_t i = exec_index + 1; i < ev.size(); ++i) {
    const auto* f = std::get_if<trace::FileMap>(&ev[i]);
    if (!f || f->tid != 0) break;
    if (f->path == exe && f->offset == 0) {
      load = f->addr;
      file = trace.file_copy(f->content).string();
      break;
    }
  }
  if (file.empty()) return {0, 0};
  std::optional<std::pair<uint64_t, uint64_t>> section = tick_section_of(file);
  if (!section) return {0, 0};
  uint64_t bias = is_position_independent(file) ? load : 0;
  return {bias + section->first, bias + section->second};
}

Inferior launch(const trace::Trace& trace) {
  const trace::Header& h = trace.header();
  LaunchSpec spec{h.exe, h.argv, h.envp, h.cwd, /*own_process_group=*/true};
  // Lives until the program has exec'd (launch returns at the exec stop).
  ExecutableStandIn stand_in(trace);
  if (stand_in.active()) {
    spec.exe = stand_in.exe();
    spec.cwd = stand_in.cwd().string();
  }
  return Inferior::launch(spec);
}

}  // namespace

std::string ReplayEngine::regs_difference(const Registers& want, const Registers& got) {
  return regs_diff(want, got, false);
}

std::string ReplayPosition::str() const {
  return fmt::format("{}:{}:{}:{}", record, tid, ticks, steps);
}

std::optional<ReplayPosition> ReplayPosition::parse(std::string_view text) {
  ReplayPosition p;
  unsigned long long v[4];
  std::string t(text);
  if (std::sscanf(t.c_str(), "%llu:%llu:%llu:%llu", &v[0], &v[1], &v[2], &v[3]) != 4) {
    return std::nullopt;
  }
  p.record = v[0];
  p.tid = static_cast<int32_t>(v[1]);
  p.ticks = v[2];
  p.steps = v[3];
  return p;
}

ReplayEngine::ReplayEngine(const trace::Trace& trace, bool echo_output)
    : trace_(trace), inferior_(launch(trace)), backing_(trace) {
  options_.echo_output = echo_output;
  process(inferior_.leader()).tick_section = find_tick_section(trace_, 1, trace_.header().exe);
  for (const auto& e : trace_.events()) {
    multi_process_ |= std::holds_alternative<trace::ProcessStart>(e);
  }
  start();
}

ReplayEngine::~ReplayEngine() {
  // The launched program's Inferior reaps whatever is traced when it goes;
  // a copy must reap its own threads only, the checkpoints live on.
  if (!is_copy_) return;
  std::vector<pid_t> alive;
  for (const auto& [tid, t] : threads_) {
    bool reaped = t.dead && (tid != inferior_.leader() || end_status_);
    if (!reaped) alive.push_back(tid);
  }
  inferior_.kill_and_reap(alive);
}

ReplayEngine::Thread& ReplayEngine::thread(pid_t tid) {
  // In the launched process, the kernel hands out the recorded ids (a fresh
  // PID namespace); in a copy, a thread's id is learnt from its clone stop.
  auto [it, fresh] = threads_.try_emplace(tid, tid, is_copy_ ? 0 : namespace_tid(tid));
  if (fresh) {
    it->second.process = &process(process_of(tid));
    if (it->second.vtid != 0) by_vtid_[it->second.vtid] = tid;
  }
  return it->second;
}

ReplayEngine::Process& ReplayEngine::process(pid_t pid) {
  std::unique_ptr<Process>& p = processes_[pid];
  if (!p) p = std::make_unique<Process>(pid, is_copy_ ? 0 : namespace_tid(pid));
  return *p;
}

// The process of a traced thread: its thread group, from /proc (a thread
// can report before the event that made it has been handled).
pid_t ReplayEngine::process_of(pid_t tid) const {
  auto tgid = proc_status_field(tid, "Tgid");
  return tgid ? static_cast<pid_t>(std::stol(*tgid)) : inferior_.leader();
}

const AddressSpace& ReplayEngine::memory(int32_t vtid) const {
  const Thread* t = thread_by_vtid(vtid);
  return t ? t->process->mem : root().mem;
}

ReplayEngine::Thread* ReplayEngine::thread_by_vtid(pid_t vtid) {
  auto it = by_vtid_.find(vtid);
  return it == by_vtid_.end() ? nullptr : &threads_.at(it->second);
}

const ReplayEngine::Thread* ReplayEngine::thread_by_vtid(pid_t vtid) const {
  auto it = by_vtid_.find(vtid);
  return it == by_vtid_.end() ? nullptr : &threads_.at(it->second);
}

void ReplayEngine::diverge(size_t index, const std::string& what) {
  throw Divergence(fmt::format("replay diverged at event {}: {}", index, what));
}

void ReplayEngine::start() {
  pid_t leader = inferior_.leader();
  Thread& t = thread(leader);
  t.started = true;
  // The exec stop is inside execve: the next stop is its exit.
  t.in_syscall = true;
  t.nr = SYS_execve;
  Registers regs = t.task.regs();
  const trace::Exec& x = trace_.exec();
  if (x.tid != t.vtid) {
    diverge(1, fmt::format("the program started as thread {}, recorded {}", t.vtid, x.tid));
  }
  if (std::string d = regs_diff(x.regs, regs, false); !d.empty()) {
    diverge(1, "at exec, " + d + " (a different program, environment or kernel?)");
  }
  const AddressSpace& mem = t.process->mem;
  InitialStack stack = InitialStack::read(mem, regs.rsp);
  stack.hide_vdso(mem);
  if (stack.random_addr) mem.write_or_throw(stack.random_addr, x.at_random.data(), 16);
}

void ReplayEngine::await_first_stop(Thread& t) {
  while (!t.started) {
    wait_for_thread(t.task.tid());
    t.started = true;
    t.held = HeldAt::kUserCode;
  }
}

WaitStatus ReplayEngine::wait_for_thread(pid_t tid) {
  for (;;) {
    // An interrupt that came while this thread was not waiting (its signal
    // then ended no wait) is noticed here, before the next wait.
    check_interrupt();
    auto st = wait_for(-1);
    if (!st) throw Error("lost track of the program (no traced thread left)");
    if (st->tid == inferior_.holder()) continue;
    if (st->tid == tid) return *st;
    note_other(*st);
  }
}

void ReplayEngine::note_other(const WaitStatus& st) {
  if (!threads_.count(st.tid) && !in_tree(st.tid)) return;
  Thread& t = thread(st.tid);
  if (st.exited() || st.signaled()) {
    t.dead = true;
    if (st.tid == t.process->pid) t.process->end = st;
    if (st.tid == inferior_.leader()) end_status_ = st;
    return;
  }
  if (!t.started) {
    t.started = true;  // a new thread's first stop: it waits for its turn
    t.held = HeldAt::kUserCode;
    return;
  }
  if ((t.process->dying || t.dead) && st.stopped()) t.task.resume(Resume::kContinue, 0);
}

bool ReplayEngine::in_tree(pid_t tid) const { return in_known_tree(tid, processes_); }

std::optional<size_t> ReplayEngine::next_stop_index(size_t from, int32_t vtid) const {
  const auto& ev = trace_.events();
  for (size_t i = from; i < ev.size(); ++i) {
    if (auto* s = std::get_if<trace::Stop>(&ev[i]); s && s->tid == vtid) return i;
  }
  return std::nullopt;
}

const trace::Stop* ReplayEngine::next_stop(size_t from, int32_t vtid) const {
  std::optional<size_t> i = next_stop_index(from, vtid);
  return i ? &std::get<trace::Stop>(trace_.events()[*i]) : nullptr;
}

const trace::Stop* ReplayEngine::next_stop_of(size_t from, pid_t tid, StopKind kind) const {
  const trace::Stop* s = next_stop(from, tid);
  return s && s->kind == kind ? s : nullptr;
}

// Before a thread's run toward its recorded stop `s`: writes the limits the
// recorder wrote. Returns the signal the recorder delivered with the
// resumption, to go with this resume only if the run starts now (0 after).
int ReplayEngine::begin_run(size_t index, Thread& t, const trace::Stop& s) {
  if (t.run_started) return 0;
  await_first_stop(t);
  if (s.resumed.has_block) {
    if (!t.block) diverge(index, fmt::format("thread {} has no thread block", s.tid));
    write_limits(t, s.resumed.tick_limit, s.resumed.event_limit, watch_);
  }
  t.run_started = true;
  fill_syscall_buffer(index, t);
  int sig = s.resumed.signal;
  if (int expected = std::exchange(t.wake_expected, 0);
      expected && s.kind == StopKind::kSyscallExit && !signal_pending_for(t, expected)) {
    // The real rt_sigsuspend standing for the wait would sleep for good.
    diverge(index, fmt::format("thread {} waits for signal {}, which the recording delivered "
                               "at this point, but it is not pending",
                               s.tid, expected));
  }
  if (s.kind == StopKind::kSyscallExit && t.wake_signal) {
    // Into the rt_sigsuspend that stands for a wait (wait_with_mask).
    sig = t.wake_pending = std::exchange(t.wake_signal, 0);
  } else if (t.wake_pending) {
    // Still pending from then: sending it again would queue a second one.
    if (sig == t.wake_pending) sig = 0;
    t.wake_pending = 0;
  }
  if (sig && t.at_seccomp_stop) {
    // A seccomp stop (the syscall buffer's filter makes syscall entries
    // those) drops the signal of the resumption that leaves it: queued
    // instead, as the recorder did (Session::resume); it comes before the
    // syscall waits (a rt_sigsuspend's mask lets it in as it starts).
    ::syscall(SYS_tgkill, t.process->pid, t.task.tid(), sig);
    sig = 0;
  }
  return sig;
}

namespace {
// An exit stop of a thread that SIGKILL ended: sent from outside the
// program (or by the OOM killer) when no signal stop precedes it.
bool killed_by_sigkill(const trace::Stop& s) {
  return s.kind == StopKind::kExit && WIFSIGNALED(s.value) && WTERMSIG(s.value) == SIGKILL;
}
}  // namespace

void ReplayEngine::play_stop(size_t index, const trace::Stop& s) {
  Thread* found = thread_by_vtid(s.tid);
  if (!found || found->dead) {
    diverge(index, fmt::format("thread {} should stop here but does not exist", s.tid));
  }
  Thread& t = *found;
  if (s.kind == StopKind::kExec) {
    play_exec_stop(index, t, s);
    return;
  }
  if (killed_by_sigkill(s) && !t.process->dying) {
    // Killed from outside (or by the OOM killer): no signal stop was
    // recorded, the thread died wherever it stood, possibly just before a
    // syscall it will now make. Nothing in the replay kills it: we do.
    // SIGKILL wakes every thread from its ptrace stop: each runs to its
    // exit stop by itself (a resume would fail, the thread is not stopped).
    t.process->dying = true;
    if (t.process->pid == inferior_.leader()) dying_ = true;
    ::kill(t.process->pid, SIGKILL);
    WaitStatus st = wait_for_thread(t.task.tid());
    if (st.exited() || st.signaled()) {
      // The kernel does not promise the exit stop to a thread killed by
      // SIGKILL; the thread ended as recorded all the same.
      t.dead = true;
      result_.stops++;
      return;
    }
    return complete_stop(index, t, s, st);
  }
  int sig = begin_run(index, t, s);
  if (s.kind == StopKind::kInterrupt) return play_interrupt(index, t, s, sig);
  complete_stop(index, t, s, resume_run(index, t, static_cast<Resume>(s.resumed.how), sig));
}

void ReplayEngine::complete_stop(size_t index, Thread& t, const trace::Stop& s,
                                 const WaitStatus& st) {
  if (st.exited() || st.signaled()) {
    diverge(index, fmt::format("expected a {} stop of thread {}, but {}",
                               trace::stop_kind_name(s.kind), s.tid, st.describe()));
  }
  t.run_started = false;
  t.steps = 0;
  Registers regs = t.task.regs();
  if (s.kind == StopKind::kSyscallExit && t.rewrote_args) {
    // Show the program its own arguments again, as the recording saw them.
    for (int a = 0; a < 6; ++a) set_syscall_arg(regs, a, t.args[a]);
    t.task.set_regs(regs);
    t.rewrote_args = false;
  }
  if (is_copy_ && s.kind == StopKind::kSyscallExit && !t.emulated &&
      (t.nr == SYS_clone || t.nr == SYS_clone3 || t.nr == SYS_set_tid_address) &&
      static_cast<int64_t>(regs.rax) > 0 && s.result > 0) {
    show_recorded_tid(t, s, regs);
  }
  const bool seccomp_stop = st.ptrace_event() == PTRACE_EVENT_SECCOMP;
  t.at_seccomp_stop = seccomp_stop;
  if ((st.syscall_stop() || seccomp_stop) && !t.in_syscall &&
      static_cast<long>(regs.orig_rax) == BKSB_DIVERGENCE_SYSCALL) {
    report_buffer_divergence(index, t);
  }
  auto expect = [&](bool ok, const char* what) {
    if (!ok) {
      diverge(index,
              fmt::format("expected a {} stop of thread {}, found {} ({}) at rip {:#x}",
                          trace::stop_kind_name(s.kind), s.tid, st.describe(), what, regs.rip));
    }
  };
  switch (s.kind) {
    case StopKind::kSyscallEntry:
      expect((st.syscall_stop() || seccomp_stop) && !t.in_syscall, "not a syscall entry");
      if (static_cast<int64_t>(regs.orig_rax) != s.value) {
        diverge(index, fmt::format("thread {} made syscall {} ({}), recorded {} ({})", s.tid,
                                   sys::syscall_name(static_cast<long>(regs.orig_rax)),
                                   regs.orig_rax, sys::syscall_name(s.value), s.value));
      }
      break;
    case StopKind::kSyscallExit:
      expect(st.syscall_stop() && t.in_syscall, "not a syscall exit");
      break;
    case StopKind::kTrap:
      expect(st.stopped() && !st.syscall_stop() && st.stop_signal() == SIGTRAP && t.block,
             "not a runtime trap");
      break;
    case StopKind::kRdtsc:
      expect(st.stopped() &&
                 (st.stop_signal() == SIGSEGV ||
                  (st.stop_signal() == SIGTRAP && t.process->patcher.site_at(regs.rip - 1))),
             "not an rdtsc trap");
      if (st.stop_signal() == SIGTRAP) regs.rip -= 1;  // recorded at the instruction
      break;
    case StopKind::kSignal:
      expect(
          st.stopped() && !st.syscall_stop() && !st.ptrace_event() && st.stop_signal() == s.value,
          "another signal");
      break;
    case StopKind::kClone:
      expect(st.ptrace_event() == PTRACE_EVENT_CLONE, "not a clone");
      break;
    case StopKind::kFork:
      expect(st.ptrace_event() == PTRACE_EVENT_FORK, "not a fork");
      break;
    case StopKind::kVfork:
      expect(st.ptrace_event() == PTRACE_EVENT_VFORK, "not a vfork");
      break;
    case StopKind::kExit:
      expect(st.ptrace_event() == PTRACE_EVENT_EXIT, "not an exit");
      break;
    case StopKind::kExec:
      break;  // play_exec_stop
    case StopKind::kInterrupt:
      break;  // found by its state (play_interrupt, step), checked below
  }
  if ((s.kind == StopKind::kSignal || s.kind == StopKind::kTrap ||
       s.kind == StopKind::kInterrupt) &&
      s.siginfo.size() == sizeof(siginfo_t)) {
    // A signal from outside the program, sent here by the replay (at a
    // signal stop, or in place of a trap's SIGTRAP): the handler gets the
    // siginfo the kernel had queued when recording (a timer's si_value, a
    // sender's pid), not the replay's.
    siginfo_t si{};
    std::memcpy(&si, s.siginfo.data(), sizeof si);
    t.task.set_siginfo(si);
    t.in_place = si;
  } else if (s.kind == StopKind::kSignal) {
    t.in_place = t.task.siginfo();
  } else {
    t.in_place.reset();
  }
  uint64_t ticks = t.block ? ThreadBlockView(t.process->mem, *t.block).ticks() : 0;
  // Where SIGKILL found a thread is timing, not the program's doing: the
  // replay kills it at its last recorded stop instead.
  const bool killed = killed_by_sigkill(s);
  if (ticks != s.ticks && !killed) {
    diverge(index, fmt::format("thread {} is at tick {}, recorded {}", s.tid, ticks, s.ticks));
  }
  // A trap taken with the value watch armed comes from another path
  // through the tick counter's slow path, with other scratch registers
  // (the program's own are saved by the counter and come back intact).
  bool scratch_regs = (s.kind == StopKind::kTrap && t.armed.has_value()) || killed;
  if (s.kind == StopKind::kSignal && regs.orig_rax != s.regs.orig_rax && !restart_pending(regs) &&
      !restart_pending(s.regs)) {
    // Where the kernel dequeued a signal shows in orig_rax alone: on the
    // way out of a syscall it still holds the call's number, at an
    // interrupt it is -1, and which of the two a signal queued at a
    // syscall's exit meets is the machine's timing. With no restart
    // pending it decides nothing (the handler's frame does not hold it,
    // rt_sigreturn sets -1): the thread takes the recorded one.
    regs.orig_rax = s.regs.orig_rax;
    t.task.set_regs(regs);
  }
  if (std::string d = scratch_regs
                          ? std::string()
                          : regs_diff(s.regs, regs, s.kind == StopKind::kSyscallExit && t.emulated);
      !d.empty()) {
    diverge(index,
            fmt::format("thread {} at its {} stop: {}", s.tid, trace::stop_kind_name(s.kind), d));
  }
  check_syscall_buffer_used(index, t, s);
  result_.stops++;
  t.base_ticks = ticks;
  if (s.kind == StopKind::kSyscallEntry) {
    t.held = HeldAt::kSyscallEntry;
  } else if (s.kind == StopKind::kClone || s.kind == StopKind::kFork ||
             s.kind == StopKind::kVfork) {
    t.held.reset();  // a clone's event stop: its syscall exit comes next
  } else {
    t.held = HeldAt::kUserCode;
  }
  switch (s.kind) {
    case StopKind::kSyscallEntry:
      on_entry(index, t, regs);
      break;
    case StopKind::kSyscallExit:
      on_exit(index, t, s, regs);
      break;
    case StopKind::kTrap: {
      ThreadBlockView view(t.process->mem, *t.block);
      if (static_cast<int64_t>(view.trap_reason()) != s.value) {
        diverge(index, fmt::format("thread {} trapped for reason {}, recorded {}", s.tid,
                                   static_cast<int>(view.trap_reason()), s.value));
      }
      view.clear_trap_reason();
      break;
    }
    case StopKind::kRdtsc: {
      bool rdtscp = false;
      if (const PatchSite* site = t.process->patcher.site_at(regs.rip)) {
        rdtscp = site->length == 3;
      } else {
        uint8_t insn[3] = {};
        t.process->mem.read(regs.rip, insn, 3);
        rdtscp = insn[1] == 0x01;
      }
      regs.rax = static_cast<uint64_t>(s.value) & 0xffffffffu;
      regs.rdx = static_cast<uint64_t>(s.value) >> 32;
      if (rdtscp) regs.rcx = 0;
      regs.rip += rdtscp ? 3 : 2;
      t.task.set_regs(regs);
      break;
    }
    case StopKind::kClone:
    case StopKind::kFork:
    case StopKind::kVfork:
      on_new_task(index, t, s);
      break;
    case StopKind::kExec:
      break;
    case StopKind::kExit:
      t.dead = true;
      t.task.resume(Resume::kContinue, 0);
      if (s.result == 1) {
        // The whole process ends here (exit_group or a fatal signal while
        // other processes live on): all its threads are collected now.
        t.process->dying = true;
        collect(*t.process);
      } else if (t.task.tid() != t.process->pid) {
        for (;;) {
          auto w = wait_for(t.task.tid());
          if (!w || w->exited() || w->signaled()) break;
          t.task.resume(Resume::kContinue, 0);
        }
      }
      break;
    case StopKind::kSignal:
    case StopKind::kInterrupt:
      break;
  }
}

void ReplayEngine::die_out(int signal_for_current, pid_t current) {
  dying_ = true;
  // As in the recording, only the thread ending the process moves; the
  // kernel kills the others where they stand.
  if (Thread* t = thread_by_vtid(current); t && !t->dead) {
    t->task.resume(Resume::kContinue, signal_for_current);
  }
  if (!end_status_) end_status_ = inferior_.wait_for_end();
}

void ReplayEngine::play_end(size_t index, const trace::End& e) {
  if (e.interrupted) {
    // The recording stopped here, not the program: so does the replay.
    result_.completed = true;
    result_.interrupted = true;
    return;
  }
  if (!e.exited && e.code == SIGKILL) {
    // SIGKILL (from outside, or the OOM killer) makes no signal stop: the
    // recording saw the program die wherever its threads stood, maybe
    // blocked in syscalls that would never return. Nothing in the replay
    // would kill it, so the replayer does (tests/e2e/faults_test.cc).
    ::kill(inferior_.leader(), SIGKILL);
  }
  die_out(pending_signal_, last_tid_);
  if (!end_status_) throw Error("the program did not end as recorded");
  bool exited = end_status_->exited();
  int code = exited ? end_status_->exit_code() : end_status_->term_signal();
  if (exited != e.exited || code != e.code) {
    diverge(index, fmt::format("the program ended with {} {}, recorded {} {}",
                               exited ? "exit status" : "signal", code,
                               e.exited ? "exit status" : "signal", e.code));
  }
  result_.completed = true;
  result_.exited = exited;
  result_.code = code;
  result_.fatal_message = e.fatal_message;
}

bool ReplayEngine::play_record() {
  const auto& ev = trace_.events();
  if (next_ >= ev.size()) return false;
  size_t i = next_;
  if (const auto* s = std::get_if<trace::Stop>(&ev[i])) {
    play_stop(i, *s);
    pending_signal_ = s->kind == StopKind::kSignal ? static_cast<int>(s->value) : 0;
    last_tid_ = s->kind == StopKind::kExec ? static_cast<int32_t>(s->value) : s->tid;
  } else if (const auto* x = std::get_if<trace::Exec>(&ev[i])) {
    play_exec_image(i, *x);
  } else if (const auto* p = std::get_if<trace::Patch>(&ev[i])) {
    std::vector<PatchSite> sites;
    for (const auto& site : p->sites) sites.push_back({site.addr, site.length});
    // Patched in the process of the stop before it.
    const Thread* last = thread_by_vtid(last_tid_);
    Process& in = last ? *last->process : root();
    in.patcher.apply(in.mem, sites);
  } else if (const auto* code = std::get_if<trace::CodeWrite>(&ev[i])) {
    play_code_write(i, *code);
  } else if (const auto* m = std::get_if<trace::MapEvents>(&ev[i])) {
    result_.map_events += m->events.size();
  } else if (const auto* c = std::get_if<trace::FileChange>(&ev[i])) {
    // The thread is inside the emulated syscall that made the change: its
    // exit is the next stop played.
    backing_.apply(*c);
  } else if (const auto* e = std::get_if<trace::End>(&ev[i])) {
    play_end(i, *e);
  }
  next_ = i + 1;
  if (record_hook_) record_hook_();
  return true;
}

void ReplayEngine::play_until(size_t record) {
  while (next_ < record && play_record()) {
  }
}

std::optional<size_t> ReplayEngine::next_stop_of_thread(int32_t vtid) const {
  return next_stop_index(next_, vtid);
}

int32_t ReplayEngine::next_thread() const {
  const auto& ev = trace_.events();
  for (size_t i = next_; i < ev.size(); ++i) {
    if (const auto* s = std::get_if<trace::Stop>(&ev[i])) return s->tid;
  }
  return 0;
}

void ReplayEngine::after_step(Thread& t) {
  t.held = HeldAt::kUserCode;
  t.steps++;
  if (!t.block) return;
  uint64_t now = ThreadBlockView(t.process->mem, *t.block).ticks();
  if (now > t.base_ticks && !in_tick_section(t, t.task.regs().rip)) {
    // Back in program code with a new tick counted: a canonical point.
    t.base_ticks = now;
    t.steps = 0;
  }
}

bool ReplayEngine::play_until_turn_of(int32_t vtid) {
  // Let the threads that run before it in the recording do so.
  for (;;) {
    if (finished()) return false;
    const auto* s = std::get_if<trace::Stop>(&trace_.events()[next_]);
    if (s && s->tid == vtid) return true;
    play_record();
  }
}

bool ReplayEngine::step(int32_t vtid) {
  if (!play_until_turn_of(vtid)) return false;
  size_t index = next_;
  const auto& s = std::get<trace::Stop>(trace_.events()[index]);
  Thread* found = thread_by_vtid(vtid);
  if (!found || found->dead) return false;
  Thread& t = *found;
  // Inside a syscall (between its entry and exit stops) or at a stop that
  // no instruction leads to: the next "instruction" is the record itself.
  if (t.in_syscall || s.kind == StopKind::kSyscallExit || s.kind == StopKind::kClone ||
      s.kind == StopKind::kFork || s.kind == StopKind::kVfork || s.kind == StopKind::kExec ||
      s.kind == StopKind::kExit) {
    play_record();
    return true;
  }
  Registers regs = t.task.regs();
  uint8_t insn[2] = {};
  t.process->mem.read(regs.rip, insn, 2);
  if (insn[0] == 0x0f && insn[1] == 0x05 && regs.rip != BKSB_UNTRACED_PAGE) {
    // A syscall instruction: never single-step into the kernel (the call
    // would really run); play its entry and exit instead.
    play_record();
    while (!finished()) {
      auto next = next_stop_of_thread(vtid);
      if (!next) break;
      const auto& ns = std::get<trace::Stop>(trace_.events()[*next]);
      if (ns.kind != StopKind::kSyscallExit && ns.kind != StopKind::kClone &&
          ns.kind != StopKind::kFork && ns.kind != StopKind::kVfork && ns.kind != StopKind::kExec) {
        break;
      }
      play_until(*next + 1);
    }
    return true;
  }
  if (s.kind == StopKind::kInterrupt && !t.run_started && s.resumed.signal == 0 &&
      at_interrupt(t, s)) {
    // A run that is over before it starts (see play_interrupt): the next
    // instruction is the next run's.
    play_record();
    return step(vtid);
  }
  int sig = begin_run(index, t, s);
  // A watch trap inside a single step would look like the recorded stop.
  sync_watch(t, std::nullopt);
  if (!t.task.resume(Resume::kSingleStep, sig)) return false;
  WaitStatus st = wait_for_thread(t.task.tid());
  while (is_stray_sigchld(index, t, st)) {
    if (!t.task.resume(Resume::kSingleStep, 0)) return false;
    st = wait_for_thread(t.task.tid());
  }
  if (st.stopped() && st.stop_signal() == SIGTRAP && !st.ptrace_event() && !st.syscall_stop()) {
    siginfo_t si = t.task.siginfo();
    if (si.si_code == TRAP_TRACE || si.si_code == TRAP_HWBKPT) {
      after_step(t);
      if (s.kind == StopKind::kInterrupt && at_interrupt(t, s)) {
        // The first moment with the recorded state: the interrupt stop.
        complete_stop(index, t, s, st);
        pending_signal_ = 0;
        last_tid_ = s.tid;
        next_ = index + 1;
      }
      return true;
    }
  }
  // Anything else is the recorded stop itself (a trap, a fault, ...).
  complete_stop(index, t, s, st);
  pending_signal_ = s.kind == StopKind::kSignal ? static_cast<int>(s.value) : 0;
  last_tid_ = s.tid;
  next_ = index + 1;
  return true;
}

bool ReplayEngine::run_to_tick(int32_t vtid, uint64_t target) {
  if (!play_until_turn_of(vtid)) return false;
  size_t index = next_;
  const auto& s = std::get<trace::Stop>(trace_.events()[index]);
  Thread* found = thread_by_vtid(vtid);
  if (!found || !found->block || found->in_syscall) return false;
  Thread& t = *found;
  if (target <= t.base_ticks) return target == t.base_ticks && t.steps == 0;
  if (s.kind == StopKind::kTrap && s.value == static_cast<int64_t>(abi::TrapReason::kTickLimit) &&
      target >= s.ticks) {
    return false;  // the recorded stop is that tick itself
  }
  if (target > s.ticks) return false;
  int sig = begin_run(index, t, s);
  ThreadBlockView view(t.process->mem, *t.block);
  write_limits(t, target, s.resumed.event_limit, watch_);
  WaitStatus st = resume_run(index, t, Resume::kSyscall, sig);
  bool ours = st.stopped() && !st.syscall_stop() && !st.ptrace_event() &&
              st.stop_signal() == SIGTRAP && view.trap_reason() == abi::TrapReason::kTickLimit &&
              view.ticks() == target;
  if (!ours) {
    // The recorded stop came first after all.
    write_limits(t, s.resumed.tick_limit, s.resumed.event_limit, watch_);
    complete_stop(index, t, s, st);
    next_ = index + 1;
    return false;
  }
  // An extra trap the recording did not have: undo its traces, then walk
  // out of the tick counter to the canonical point.
  if (!in_tick_section(t, t.task.regs().rip)) {
    // The walk below would end at once, at a point that is not canonical.
    diverge(index, fmt::format("thread {} trapped for a tick outside the tick counter's code "
                               "(at {:#x}): a runtime built wrongly?",
                               s.tid, t.task.regs().rip));
  }
  view.clear_trap_reason();
  write_limits(t, s.resumed.tick_limit, s.resumed.event_limit, watch_);
  while (in_tick_section(t, t.task.regs().rip) || t.task.regs().rip == 0) {
    if (!t.task.resume(Resume::kSingleStep, 0)) return false;
    wait_for_thread(t.task.tid());
  }
  t.held = HeldAt::kUserCode;
  t.base_ticks = target;
  t.steps = 0;
  return true;
}

ReplayPosition ReplayEngine::position(int32_t vtid) const {
  ReplayPosition p;
  p.record = next_;
  p.tid = vtid;
  if (const Thread* t = thread_by_vtid(vtid)) {
    p.ticks = t->base_ticks;
    p.steps = t->steps;
  }
  return p;
}

std::vector<int32_t> ReplayEngine::live_threads() const {
  std::vector<int32_t> out;
  for (const auto& [tid, t] : threads_) {
    if (!t.dead && t.started) out.push_back(t.vtid);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool ReplayEngine::has_thread(int32_t vtid) const {
  const Thread* t = thread_by_vtid(vtid);
  return t && !t->dead;
}

Registers ReplayEngine::registers(int32_t vtid) const {
  const Thread* t = thread_by_vtid(vtid);
  if (!t || t->dead) throw Error(fmt::format("thread {} is not alive here", vtid));
  return t->task.regs();
}

std::optional<uint64_t> ReplayEngine::ticks(int32_t vtid) const {
  const Thread* t = thread_by_vtid(vtid);
  if (!t || !t->block || t->dead) return std::nullopt;
  return ThreadBlockView(t->process->mem, *t->block).ticks();
}

std::pair<uint64_t, uint64_t> ReplayEngine::tick_section_after(size_t exec_index,
                                                               const std::string& exe) const {
  return find_tick_section(trace_, exec_index, exe);
}

int32_t ReplayEngine::process_id(int32_t vtid) const {
  const Thread* t = thread_by_vtid(vtid);
  return t ? t->process->vpid : 0;
}

pid_t ReplayEngine::kernel_tid(int32_t vtid) const {
  const Thread* t = thread_by_vtid(vtid);
  return t ? t->task.tid() : 0;
}

ReplayResult ReplayEngine::run(const ReplayOptions& options) {
  options_ = options;
  const auto& ev = trace_.events();
  while (!finished()) {
    size_t i = next_;
    if (options.until_event && i >= *options.until_event) {
      result_.stopped_at = Position{i, last_tid_, 0};
      break;
    }
    const auto* s = std::get_if<trace::Stop>(&ev[i]);
    bool fatal_signal = options.until_fatal && s && s->kind == StopKind::kSignal &&
                        i + 1 < ev.size() && std::holds_alternative<trace::End>(ev[i + 1]);
    play_record();
    if (options.on_progress) options.on_progress(next_, ev.size());
    if (fatal_signal) {
      result_.stopped_at = Position{i, s->tid, s->ticks};
      break;
    }
    if (result_.interrupted) break;
  }
  if (result_.stopped_at) {
    Thread* found = thread_by_vtid(result_.stopped_at->tid);
    Thread& t = found ? *found : thread(inferior_.leader());
    result_.stopped_at->tid = t.vtid;
    result_.regs = t.task.regs();
    if (t.block) result_.stopped_at->ticks = ThreadBlockView(t.process->mem, *t.block).ticks();
    t.process->mem.read(result_.regs.rip, result_.code_at_rip, sizeof result_.code_at_rip);
  } else if (!result_.completed) {
    result_.truncated = true;
  }
  return result_;
}

}  // namespace backstep::replayer
