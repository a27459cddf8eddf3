// Session, part: the loop that runs one thread at a time, the stops it
// records, the switches the scheduler decides, and the end of the run.
#include "recorder/session.h"

#include <fmt/core.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <x86intrin.h>

#include <chrono>
#include <cstring>

#include "base/errors.h"
#include "base/interrupt.h"
#include "preload/syscallbuf_abi.h"
#include "ptrace/proc.h"
#include "ptrace/runtime_link.h"

namespace backstep::recorder {

using trace::Resumption;
using trace::StopKind;
using trace::SwitchReason;

Session::Session(const RecordOptions& options)
    : options_(with_syscall_buffer(options)),
      scheduler_(options.scheduler),
      binding_(CpuBinding::choose(options.bind_cpu, options.cpu_unbound)),
      writer_(options.trace_dir, binding_ ? binding_->other_cpus() : std::vector<int>{}),
      inferior_(Inferior::launch(options_.program)) {}

Thread& Session::thread(pid_t tid) {
  auto it = threads_.find(tid);
  if (it == threads_.end()) {
    it = threads_.emplace(tid, Thread(tid)).first;
    it->second.process = &process(process_of(tid));
    scheduler_.add_thread(tid);
  }
  return it->second;
}

Process& Session::process(pid_t tgid) {
  std::unique_ptr<Process>& p = processes_[tgid];
  if (!p) p = std::make_unique<Process>(tgid);
  return *p;
}

// The process of a traced thread: its thread group, from /proc (a thread
// can report before the event that made it has been handled).
pid_t Session::process_of(pid_t tid) const {
  auto tgid = proc_status_field(tid, "Tgid");
  return tgid ? static_cast<pid_t>(std::stol(*tgid)) : inferior_.leader();
}

std::vector<uint8_t> Session::seeded_bytes(size_t n) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = inputs_rng_();
    std::memcpy(out.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return out;
}

// The value an rdtsc returns: the real counter, or under --chaos a counter
// that advances by seeded amounts, so that a seed alone reproduces a run.
uint64_t Session::read_tsc() {
  if (scheduler_.chaos()) return seeded_tsc_ += 1000 + inputs_rng_() % 1000;
  unsigned aux = 0;
  return __rdtscp(&aux);
}

void Session::start() {
  pid_t leader = inferior_.leader();
  process(leader);
  Thread& t = thread(leader);
  t.state = Thread::State::kStopped;
  if (binding_) {
    binding_->pin_caller();
    t.bound = binding_->bind(leader);
  }
  // The exec stop is inside execve: the next stop is its exit.
  t.in_syscall = true;
  t.call.nr = SYS_execve;
  Registers regs = t.task.regs();

  trace::Header h;
  h.exe = options_.program.exe;
  h.argv = options_.program.argv;
  h.envp = options_.program.envp;
  h.cwd = options_.program.cwd;
  h.cpu_model = cpu_model();
  h.scheduler = scheduler_.forced() ? "forced" : scheduler_.chaos() ? "chaos" : "fair";
  h.seed = options_.scheduler.seed;
  h.timeslice = options_.scheduler.timeslice;
  h.pid_namespace = inferior_.in_pid_namespace();
  h.start_unix_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
  h.exe_sha = trace::hash_file(options_.program.exe);
  writer_.write(h);
  writer_.write(new_image(t, regs));
  keep_exec_mappings(*t.process);
  write_patch(t.process->patcher.patch_all_mappings(t.process->mem));
  current_ = leader;
  writer_.write(trace::Switch{0, t.vtid, SwitchReason::kStart, 0});
}

trace::Exec Session::new_image(Thread& t, const Registers& regs) {
  const AddressSpace& mem = t.process->mem;
  InitialStack stack = InitialStack::read(mem, regs.rsp);
  stack.hide_vdso(mem);
  if (scheduler_.chaos() && stack.random_addr) {
    // AT_RANDOM (the stack protector's and pointer guard's seed) from the
    // scheduler's seed: randomness is an input the seed must fix.
    auto bytes = seeded_bytes(16);
    mem.write_or_throw(stack.random_addr, bytes.data(), bytes.size());
  }
  trace::Exec x;
  x.tid = t.vtid;
  x.regs = regs;
  x.auxv = stack.auxv_bytes();
  if (stack.random_addr) mem.read_or_throw(stack.random_addr, x.at_random.data(), 16);
  return x;
}

std::vector<pid_t> Session::runnable() const {
  std::vector<pid_t> out;
  for (const auto& [tid, t] : threads_) {
    if (t.state == Thread::State::kStopped) out.push_back(tid);
  }
  return out;
}

void Session::resume(Thread& t, Resume how) {
  // A fork child, about to run for the first time, gets a buffer of its own.
  if (t.buffer_at_fork) share_syscall_buffer(t, *std::exchange(t.buffer_at_fork, std::nullopt));
  // Under the syscall buffer's seccomp filter, traced syscalls stop by
  // themselves (PTRACE_EVENT_SECCOMP); PTRACE_SYSCALL would stop at the
  // buffered ones too. From a syscall entry, only PTRACE_SYSCALL gives its exit.
  if (how == Resume::kSyscall && t.seccomp && !t.in_syscall) how = Resume::kContinue;
  Resumption r;
  r.how = static_cast<uint8_t>(how);
  r.signal = std::exchange(t.deliver_signal, 0);
  if (t.block) {
    if (t.tick_limit <= t.ticks) t.tick_limit = t.ticks + scheduler_.next_timeslice();
    if (t.event_limit <= t.ring_drained) {
      t.event_limit = t.ring_drained + scheduler_.next_event_gap(t.ring_capacity);
    }
    if (const ForcedSwitch* f = scheduler_.next_forced(t.vtid); f && f->at_limit) {
      // Stop exactly where the forced switch was made, by the limit that
      // stopped it there: a map event is published at some point of its
      // tick, after the tick limit would have stopped the thread.
      if (!f->at_event && f->ticks > t.ticks) t.tick_limit = std::min(t.tick_limit, f->ticks);
      if (f->at_event && f->events > t.ring_drained) {
        t.event_limit = std::min(t.event_limit, f->events);
      }
    }
    r.has_block = true;
    r.tick_limit = t.tick_limit;
    r.event_limit = t.event_limit;
    ThreadBlockView(t.process->mem, *t.block).set_limits(r.tick_limit, r.event_limit);
  }
  resumptions_[t.task.tid()] = r;
  t.has_run = true;
  int sig = r.signal;
  if (sig && std::exchange(t.at_seccomp_stop, false)) {
    // A seccomp stop (the syscall buffer's filter makes syscall entries
    // those) drops the signal of the resumption that leaves it: queued
    // instead, it interrupts the call as one sent from a syscall-entry stop
    // does. Its delivery stop is recognized as injected_signal's; replay
    // does the same (ReplayEngine::begin_run).
    ::syscall(SYS_tgkill, t.process->tgid, t.task.tid(), sig);
    sig = 0;
  }
  t.at_seccomp_stop = false;
  if (!t.task.resume(how, sig)) t.state = Thread::State::kDead;
}

// Waits until `tid` stops, handling what other threads report meanwhile.
WaitStatus Session::wait_for_thread(pid_t tid) {
  for (;;) {
    auto st = wait_for(-1);
    if (!st) throw Error("lost track of the program (no traced thread left)");
    if (st->tid == inferior_.holder()) continue;
    if (st->tid != tid) {
      if (is_exec_of(tid, *st)) return *st;  // its exec, under the leader's tid
      note_other(*st);
      continue;
    }
    Thread& t = threads_.at(tid);
    if (st->ptrace_event() == PTRACE_EVENT_STOP && !t.process->dying) {
      // A SIGCONT sent to the program makes every seized thread report this
      // on its way to user code (a group-stop notification). Nothing of the
      // program's: on, with the resumption that led here left as recorded.
      t.task.resume(onward(t), 0);
      continue;
    }
    if (hold_async_signal(t, *st) || abort_buffered_call(t, *st)) continue;
    return *st;
  }
}

// Something another thread reported while `current_` ran.
void Session::note_other(const WaitStatus& st) {
  if (!threads_.count(st.tid) && !in_tree(st.tid)) return;
  Thread& t = thread(st.tid);
  if (st.exited() || st.signaled()) {
    note_death(t, st);
    return;
  }
  if (t.process->dying || (t.state == Thread::State::kDead && st.stopped())) {
    t.task.resume(Resume::kContinue, 0);
    return;
  }
  if (t.state == Thread::State::kStarting ||
      (st.syscall_stop() && t.state == Thread::State::kInKernel)) {
    // A new thread's first stop, or a blocking syscall came back. When that
    // happens depends on the wall clock, so it is only kept here; the
    // thread joins the runnable set at a deterministic point (admit_due).
    t.arrival = st;
    return;
  }
  if (st.ptrace_event() == PTRACE_EVENT_EXIT) {
    t.task.resume(Resume::kContinue, 0);
    if (t.process->execing) {
      // Killed by another thread's exec: the caller's exec stop follows.
      t.state = Thread::State::kDead;
      return;
    }
    // Killed while we were not looking: the whole group is going down.
    t.process->dying = true;
    return;
  }
  if (st.stopped()) {
    // A signal interrupting a blocked thread: hold it, let it go on.
    int sig = st.ptrace_event() ? 0 : st.stop_signal();
    if (sig) t.held_signals.push_back(t.task.siginfo());
    t.task.resume(onward(t), 0);
  }
}

void Session::record_stop(Thread& t, StopKind kind, const Registers& regs, int64_t value,
                          int64_t result, std::vector<trace::MemWrite> writes,
                          std::vector<std::byte> siginfo) {
  drain(t);
  if (kind == StopKind::kSyscallExit && t.buffer_drained_at_entry) {
    // Drained at this call's entry, and no code of the thread ran since:
    // its buffer holds nothing new (one read of its header less at the
    // exit of every blocking call). What the call mapped is published.
    if (published_files_ != files_.generation()) publish_mapped_files();
  } else {
    drain_syscall_buffer(t);
  }
  // Not after calls whose other side runs on this thread's buffer (a vfork
  // child) or that set it up.
  const long nr = t.call.nr;
  t.buffer_drained_at_entry = kind == StopKind::kSyscallEntry && nr != SYS_vfork &&
                              nr != SYS_clone && nr != SYS_clone3 && nr != SYS_fork &&
                              nr != SYS_execve && nr != SYS_execveat && nr != BKSB_REGISTER_SYSCALL;
  trace::Stop s;
  s.tid = t.vtid;
  s.kind = kind;
  s.resumed = resumptions_[t.task.tid()];
  s.ticks = t.ticks;
  s.regs = regs;
  s.value = value;
  s.result = result;
  s.writes = std::move(writes);
  s.siginfo = std::move(siginfo);
  t.from_outside = false;
  writer_.write(s);
  if (kind == StopKind::kSyscallEntry) t.syscall_entries++;
  if (kind == StopKind::kSyscallExit) {
    t.exit_regs = regs;
  } else {
    t.exit_regs.reset();
  }
  result_.stops++;
}

// The files the kernel mapped at exec (the program and its interpreter) are
// kept too, so that a trace can be replayed and symbolized where they are
// gone. tid 0 marks them as mapped by exec, not by a syscall.
void Session::keep_exec_mappings(Process& p) {
  for (const ProcMapping& m : read_proc_maps(p.tgid)) {
    if (!m.is_file()) continue;
    trace::FileMap f;
    f.addr = m.start;
    f.length = m.end - m.start;
    f.prot = (m.perms[0] == 'r' ? PROT_READ : 0) | (m.perms[1] == 'w' ? PROT_WRITE : 0) |
             (m.executable() ? PROT_EXEC : 0);
    f.flags = MAP_PRIVATE;
    f.offset = m.offset;
    f.path = m.path;
    struct stat st {};
    if (::stat(m.path.c_str(), &st) == 0) f.file_size = static_cast<uint64_t>(st.st_size);
    f.content = writer_.keep_file(m.path);
    writer_.write(f);
  }
}

void Session::write_patch(const std::vector<PatchSite>& sites) {
  if (sites.empty()) return;
  trace::Patch p;
  for (const PatchSite& s : sites) p.sites.push_back({s.addr, s.length});
  writer_.write(p);
}

void Session::drain(Thread& t) {
  if (!t.block) return;
  ThreadBlockView view(t.process->mem, *t.block);
  abi::ThreadBlock block = view.snapshot();
  t.ticks = block.ticks;
  uint64_t head = block.ring_head;
  view.read_events(block, t.ring_drained, head, ring_events_);
  t.ring_drained = head;
  if (ring_events_.empty()) return;
  result_.map_events += ring_events_.size();
  for (const abi::MapEvent& e : ring_events_) {
    if (e.kind == static_cast<uint8_t>(abi::MapEventKind::kFatal)) {
      result_.fatal_message = abi::fatal_message(static_cast<abi::FatalKind>(e.arg0));
      fatal_tid_ = static_cast<int32_t>(e.tid);  // gettid() in the program: a vtid
    }
  }
  // Encoded and compressed on the writer's thread while the program runs on.
  trace::MapEventBuffer next = writer_.spare_events();
  writer_.write_map_events(std::exchange(ring_events_, std::move(next)));
}

void Session::on_stop(Thread& t, const WaitStatus& st) {
  Registers regs = t.task.regs();
  t.at_seccomp_stop = st.ptrace_event() == PTRACE_EVENT_SECCOMP;
  if (st.syscall_stop()) {
    on_syscall_stop(t, regs);
  } else if (st.ptrace_event() == PTRACE_EVENT_SECCOMP) {
    // A traced syscall's entry under the syscall buffer's filter. After an
    // entry stop (PTRACE_SYSCALL) it comes once more: the exit is next.
    if (!t.in_syscall) on_syscall_stop(t, regs);
  } else if (st.ptrace_event()) {
    on_ptrace_event(t, st, regs);
  } else {
    on_signal_stop(t, st, regs);
  }
}

void Session::on_ptrace_event(Thread& t, const WaitStatus& st, const Registers& regs) {
  switch (st.ptrace_event()) {
    case PTRACE_EVENT_CLONE:
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK:
      on_new_task(t, st.ptrace_event(), regs);
      return;
    case PTRACE_EVENT_EXIT: {
      auto status = static_cast<int64_t>(t.task.event_message());
      record_stop(t, StopKind::kExit, regs, status);
      t.state = Thread::State::kDead;
      t.task.resume(Resume::kContinue, 0);
      if (t.task.tid() != t.process->tgid) {
        // Reap it now: the kernel clears its tid word (what pthread_join
        // waits for) on the way out, and replay must see the same memory.
        for (;;) {
          auto w = wait_for(t.task.tid());
          if (!w) break;
          if (w->exited() || w->signaled()) {
            note_death(t, *w);
            break;
          }
          t.task.resume(Resume::kContinue, 0);
        }
        // On the way out the kernel cleared the clear-tid word and woke one
        // waiter on it (pthread_join): it is due like any woken waiter.
        if (t.clear_tid) {
          make_due(futexes_.wake(futex_space(t, t.clear_tid, false), t.clear_tid, 1,
                                 FUTEX_BITSET_MATCH_ANY));
        }
      }
      futexes_.forget(t.task.tid());
      scheduler_.remove_thread(t.task.tid());
      switch_from(t, SwitchReason::kExited);
      return;
    }
    case PTRACE_EVENT_STOP:
      return;  // a group stop: nothing to record
    case PTRACE_EVENT_EXEC:
      on_exec(t, st);
      return;
    default:
      break;
  }
}

void Session::switch_from(Thread& t, SwitchReason reason) {
  int32_t forced_to = scheduler_.forced() ? scheduler_.take_forced(t.vtid, t.ticks, t.ring_drained,
                                                                   t.syscall_entries)
                                          : 0;
  if (!forced_to && !scheduler_.should_switch(reason)) return;
  admit_due();
  std::vector<pid_t> ready = runnable();
  if (ready.empty()) return;
  ++decisions_;
  pid_t next = 0;
  for (pid_t r : ready) {
    if (forced_to && threads_.at(r).vtid == forced_to) next = r;
  }
  if (!next) next = scheduler_.pick(ready, t.task.tid());
  if (next == t.task.tid()) return;
  Thread& n = threads_.at(next);
  writer_.write(trace::Switch{t.vtid, n.vtid, reason, t.ticks});
  if (n.block) n.tick_limit = n.ticks + scheduler_.next_timeslice();
  current_ = next;
}

// A thread just let into a blocking syscall: waits until it sleeps in the
// kernel or comes back. Only then may another thread run, so that whether
// it blocked, and where it is queued (a futex), never depends on timing.

void Session::warn_once(const std::string& what) {
  if (warned_text_.insert(what).second) fmt::print(stderr, "backstep: warning: {}\n", what);
}

// Lets the group finish dying after exit_group or a fatal signal; nothing
// after that is scheduled, so nothing is recorded.

// The process a thread is ending (exit_group, a fatal signal) or that was
// killed from outside, not yet collected.
Process* Session::dying_process() {
  for (auto& [pid, p] : processes_) {
    if (p->dying && !p->ended) return p.get();
  }
  return nullptr;
}

// The first process has ended and no thread of the program is left: like
// rr, the recording waits for every process of the tree.
bool Session::recording_over() const {
  if (!end_status_) return false;
  for (const auto& [tid, t] : threads_) {
    if (t.state != Thread::State::kDead) return false;
  }
  return true;
}

void Session::die_out() {
  // Only the thread that is ending the process moves: the kernel kills the
  // others where they are, as it will in replay, so none of them runs code
  // that would go unrecorded.
  if (auto it = threads_.find(current_); it != threads_.end()) {
    Thread& t = it->second;
    if (t.state != Thread::State::kDead) {
      t.task.resume(Resume::kContinue, std::exchange(t.deliver_signal, 0));
    }
  }
  if (!end_status_) end_status_ = inferior_.wait_for_end();
}

RecordResult Session::run() {
  start();
  try {
    loop();
  } catch (const Interrupted&) {
    // Ctrl-C: the program dies with us; the trace keeps what happened.
    inferior_.kill();
    result_.interrupted = true;
    end_status_.reset();
  }
  trace::End end;
  if (end_status_) {
    end.exited = end_status_->exited();
    end.code = end.exited ? end_status_->exit_code() : end_status_->term_signal();
  } else {
    end.exited = false;
    end.code = SIGKILL;
    end.interrupted = true;
  }
  end.fatal_message = result_.fatal_message;
  end.fatal_tid = fatal_tid_;
  writer_.write(end);
  writer_.close();
  result_.trace_dir = options_.trace_dir;
  result_.exited = end.exited;
  result_.code = end.code;
  return result_;
}

void Session::loop() {
  while (!recording_over()) {
    check_interrupt();
    if (Process* p = dying_process()) {
      auto ender = threads_.find(p->ender);
      if (p->tgid == inferior_.leader() && !other_processes_alive(*p)) {
        // The last process: it ends the recording (the End record says how).
        if (ender != threads_.end()) current_ = p->ender;
        die_out();
        break;
      }
      if (ender != threads_.end() && ender->second.state != Thread::State::kDead) {
        end_process(ender->second);
      } else {
        collect(*p);
      }
      continue;
    }
    Thread* t = nullptr;
    if (auto it = threads_.find(current_);
        it != threads_.end() && it->second.state == Thread::State::kStopped) {
      t = &it->second;
    } else {
      admit_due();
      std::vector<pid_t> ready = runnable();
      if (ready.empty()) {
        // Everyone is blocked in the kernel (or starting): the first to
        // come back runs. Which one that is can depend on the wall clock
        // when several could (two sleepers, a pipe fed from outside).
        bool any_alive = false;
        for (auto& [tid, th] : threads_) any_alive |= th.state != Thread::State::kDead;
        if (!any_alive) {
          // All seen dead (SIGKILL from outside need not stop a thread at
          // its exit): the leader's last report tells how the program ended.
          die_out();
          break;
        }
        if (admit_any_arrived()) continue;
        auto st = wait_for(-1);
        if (!st) break;
        if (st->tid != inferior_.holder()) note_other(*st);
        continue;
      }
      ++decisions_;
      pid_t next = scheduler_.pick(ready, current_);
      auto from = threads_.find(current_);
      t = &threads_.at(next);
      writer_.write(trace::Switch{from == threads_.end() ? 0 : from->second.vtid, t->vtid,
                                  SwitchReason::kBlocked, 0});
      current_ = next;
    }
    try {
      run_until_stop(*t);
    } catch (const SystemError& e) {
      if (e.error_number() != ESRCH || !killed_under_us(*t)) throw;
    }
  }
}

// Runs `t`, the one thread let run, to its next stop and records that stop.
void Session::run_until_stop(Thread& t) {
  note_running(t);
  resume(t, Resume::kSyscall);
  if (t.state == Thread::State::kDead) return;
  int others = 0;
  for (const auto& [tid, th] : threads_) {
    others += th.state != Thread::State::kDead && &th != &t;
  }
  spin_watch_.running(t.vtid, others);
  std::optional<WaitStatus> waited = wait_or_preempt(t);
  spin_watch_.stopped();
  if (!waited) return;  // interrupted, recorded, switched
  WaitStatus st = *waited;
  if (st.tid != t.task.tid()) {
    on_exec(t, st);  // an exec by a thread that was not the leader
    return;
  }
  if (st.exited() || st.signaled()) {
    note_death(t, st);
    return;
  }
  if (t.process->dying && t.task.tid() != t.process->ender) {
    t.task.resume(Resume::kContinue, 0);
    return;
  }
  on_stop(t, st);
}

// ptrace said `t` is gone (ESRCH) while it stood stopped for us: a SIGKILL
// from outside woke it between its stop and our look at it. What that stop
// was is lost with it, as it is for the program; its death is what is left
// to record. False if it is in fact alive (the error was ours).
bool Session::killed_under_us(Thread& t) {
  spin_watch_.stopped();
  if (t.reaped) return true;
  for (;;) {
    auto st = wait_for(t.task.tid());
    if (!st) return false;
    if (st->exited() || st->signaled()) {
      note_death(t, *st);
      return true;
    }
    if (st->ptrace_event() != PTRACE_EVENT_EXIT) return false;
    t.task.resume(Resume::kContinue, 0);
  }
}

}  // namespace backstep::recorder
