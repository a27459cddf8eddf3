#include "replayer/replay_session.h"

#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <fmt/core.h>

#include "ptrace/inferior.h"
#include "ptrace/rdtsc_patcher.h"
#include "ptrace/runtime_link.h"
#include "syscalls/syscall_table.h"

namespace backstep::replayer {
namespace {

using trace::StopKind;

struct Thread {
  explicit Thread(pid_t tid) : task(tid), vtid(namespace_tid(tid)) {}
  Task task;
  pid_t vtid;  // as the program (and the trace) names it
  bool started = false;  // its first stop was seen
  bool dead = false;
  bool in_syscall = false;
  bool emulated = false;  // the current syscall is answered from the trace
  long nr = 0;
  uint64_t args[6] = {};
  bool rewrote_args = false;  // on_entry changed the arguments (mmap)
  const trace::FileMap* file_map = nullptr;  // mmap of a file being replayed
  std::optional<uint64_t> block;
};

std::string regs_diff(const Registers& want, const Registers& got, bool at_syscall_exit) {
  struct Field {
    const char* name;
    unsigned long long Registers::*member;
  };
  static const Field fields[] = {
      {"rip", &Registers::rip}, {"rsp", &Registers::rsp}, {"rbp", &Registers::rbp},
      {"rax", &Registers::rax}, {"rbx", &Registers::rbx}, {"rcx", &Registers::rcx},
      {"rdx", &Registers::rdx}, {"rsi", &Registers::rsi}, {"rdi", &Registers::rdi},
      {"r8", &Registers::r8},   {"r9", &Registers::r9},   {"r10", &Registers::r10},
      {"r11", &Registers::r11}, {"r12", &Registers::r12}, {"r13", &Registers::r13},
      {"r14", &Registers::r14}, {"r15", &Registers::r15}, {"orig_rax", &Registers::orig_rax},
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

class Session {
 public:
  Session(const trace::Trace& trace, const ReplayOptions& options)
      : trace_(trace), options_(options), inferior_(launch()), mem_(inferior_.leader()) {}
  ReplayResult run();

 private:
  Inferior launch() {
    const trace::Header& h = trace_.header();
    LaunchSpec spec{h.exe, h.argv, h.envp, h.cwd};
    return Inferior::launch(spec);
  }
  Thread& thread(pid_t tid) {
    auto [it, fresh] = threads_.try_emplace(tid, tid);
    if (fresh) by_vtid_[it->second.vtid] = tid;
    return it->second;
  }
  Thread* thread_by_vtid(pid_t vtid) {
    auto it = by_vtid_.find(vtid);
    return it == by_vtid_.end() ? nullptr : &threads_.at(it->second);
  }
  void start();
  void play_stop(size_t index, const trace::Stop& s);
  WaitStatus wait_for_thread(pid_t tid);
  void note_other(const WaitStatus& st);
  void on_entry(size_t index, Thread& t, Registers& regs);
  void on_exit(size_t index, Thread& t, const trace::Stop& s, Registers& regs);
  void echo_output(Thread& t, int64_t result);
  void die_out(int signal_for_current, pid_t current);
  [[noreturn]] void diverge(size_t index, const std::string& what) {
    throw Divergence(fmt::format("replay diverged at event {}: {}", index, what));
  }
  const trace::Stop* next_stop_of(size_t from, pid_t tid, StopKind kind) const;
  const trace::FileMap* file_map_before_exit(size_t from, pid_t tid) const;

  const trace::Trace& trace_;
  ReplayOptions options_;
  Inferior inferior_;
  AddressSpace mem_;
  RdtscPatcher patcher_;
  std::map<pid_t, Thread> threads_;  // by the tracer's tid
  std::map<pid_t, pid_t> by_vtid_;
  ReplayResult result_;
  std::optional<WaitStatus> end_status_;
  bool dying_ = false;
};

void Session::start() {
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
  InitialStack stack = InitialStack::read(mem_, regs.rsp);
  stack.hide_vdso(mem_);
  if (stack.random_addr) mem_.write_or_throw(stack.random_addr, x.at_random.data(), 16);
}

WaitStatus Session::wait_for_thread(pid_t tid) {
  for (;;) {
    auto st = wait_for(-1);
    if (!st) throw Error("lost track of the program (no traced thread left)");
    if (st->tid == inferior_.holder()) continue;
    if (st->tid == tid) return *st;
    note_other(*st);
  }
}

void Session::note_other(const WaitStatus& st) {
  Thread& t = thread(st.tid);
  if (st.exited() || st.signaled()) {
    t.dead = true;
    if (st.tid == inferior_.leader()) end_status_ = st;
    return;
  }
  if (!t.started) {
    t.started = true;  // a new thread's first stop: it waits for its turn
    return;
  }
  if (dying_ && st.stopped()) t.task.resume(Resume::kContinue, 0);
}

const trace::Stop* Session::next_stop_of(size_t from, pid_t tid, StopKind kind) const {
  const auto& ev = trace_.events();
  for (size_t i = from; i < ev.size(); ++i) {
    if (auto* s = std::get_if<trace::Stop>(&ev[i]); s && s->tid == tid) {
      return s->kind == kind ? s : nullptr;
    }
  }
  return nullptr;
}

const trace::FileMap* Session::file_map_before_exit(size_t from, pid_t tid) const {
  const auto& ev = trace_.events();
  for (size_t i = from; i < ev.size(); ++i) {
    if (auto* f = std::get_if<trace::FileMap>(&ev[i]); f && f->tid == tid) return f;
    if (auto* s = std::get_if<trace::Stop>(&ev[i]); s && s->tid == tid) return nullptr;
  }
  return nullptr;
}

// At a syscall entry: let it run, or make the kernel skip it so that its
// recorded result can be applied at the exit.
void Session::on_entry(size_t index, Thread& t, Registers& regs) {
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
    case SYS_rseq:
      execute = false;  // refused while recording too
      break;
    case SYS_kill:
    case SYS_tkill:
    case SYS_tgkill: {
      // A signal the program sends itself must arrive again; nothing else
      // leaves the replay.
      pid_t own = threads_.at(inferior_.leader()).vtid;
      auto target = static_cast<pid_t>(t.args[0]);
      bool self = target == own || (t.nr == SYS_tkill && by_vtid_.count(target) > 0);
      (void)own;
      execute = self;
      break;
    }
    case SYS_exit_group:
      dying_ = true;
      break;
    case SYS_mmap: {
      if (!exit || exit->result < 0) {
        execute = false;
        break;
      }
      // Same address as recorded; file contents come from the trace.
      set_syscall_arg(regs, 0, static_cast<uint64_t>(exit->result));
      uint64_t flags = t.args[3] | MAP_FIXED;
      if (const trace::FileMap* f = file_map_before_exit(index + 1, t.vtid)) {
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
    default:
      break;
  }
  t.emulated = !execute;
  if (t.emulated) {
    regs.orig_rax = static_cast<uint64_t>(-1);
    t.task.set_regs(regs);
  }
}

void Session::on_exit(size_t index, Thread& t, const trace::Stop& s, Registers& regs) {
  t.in_syscall = false;
  if (t.emulated) {
    regs.rax = static_cast<uint64_t>(s.result);
    regs.orig_rax = static_cast<uint64_t>(t.nr);
    t.task.set_regs(regs);
    for (const trace::MemWrite& w : s.writes) mem_.write_or_throw(w.addr, w.data.data(), w.data.size());
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
    mem_.write_or_throw(f.addr, buf.data(), static_cast<size_t>(in.gcount()));
    t.file_map = nullptr;
  }
  if (options_.echo_output && s.result > 0) echo_output(t, s.result);
}

// What the program printed on its terminal, printed again.
void Session::echo_output(Thread& t, int64_t result) {
  if (t.nr != SYS_write && t.nr != SYS_writev) return;
  int fd = static_cast<int>(t.args[0]);
  if (fd != 1 && fd != 2) return;
  std::vector<char> data;
  if (t.nr == SYS_write) {
    data.resize(static_cast<size_t>(result));
    if (!mem_.read(t.args[1], data.data(), data.size())) return;
  } else {
    size_t left = static_cast<size_t>(result);
    for (uint64_t i = 0; i < t.args[2] && left > 0; ++i) {
      iovec iov{};
      if (!mem_.read(t.args[1] + i * sizeof iov, &iov, sizeof iov)) return;
      size_t n = std::min(left, iov.iov_len);
      size_t at = data.size();
      data.resize(at + n);
      if (!mem_.read(reinterpret_cast<uint64_t>(iov.iov_base), data.data() + at, n)) return;
      left -= n;
    }
  }
  std::fflush(stdout);
  [[maybe_unused]] ssize_t w = ::write(fd, data.data(), data.size());
}

void Session::play_stop(size_t index, const trace::Stop& s) {
  Thread* found = thread_by_vtid(s.tid);
  if (!found || found->dead) {
    diverge(index, fmt::format("thread {} should stop here but does not exist", s.tid));
  }
  Thread& t = *found;
  while (!t.started) {
    auto st = wait_for_thread(t.task.tid());
    t.started = true;
    (void)st;
  }
  if (s.resumed.has_block) {
    if (!t.block) diverge(index, fmt::format("thread {} has no thread block", s.tid));
    ThreadBlockView(mem_, *t.block).set_limits(s.resumed.tick_limit, s.resumed.event_limit);
  }
  if (!t.task.resume(static_cast<Resume>(s.resumed.how), s.resumed.signal)) {
    diverge(index, fmt::format("thread {} vanished", s.tid));
  }
  WaitStatus st = wait_for_thread(t.task.tid());
  if (st.exited() || st.signaled()) {
    diverge(index, fmt::format("expected a {} stop of thread {}, but {}",
                               trace::stop_kind_name(s.kind), s.tid, st.describe()));
  }
  Registers regs = t.task.regs();
  if (s.kind == StopKind::kSyscallExit && t.rewrote_args) {
    // Show the program its own arguments again, as the recording saw them.
    for (int a = 0; a < 6; ++a) set_syscall_arg(regs, a, t.args[a]);
    t.task.set_regs(regs);
    t.rewrote_args = false;
  }
  auto expect = [&](bool ok, const char* what) {
    if (!ok) {
      diverge(index, fmt::format("expected a {} stop of thread {}, found {} ({}) at rip {:#x}",
                                 trace::stop_kind_name(s.kind), s.tid, st.describe(), what,
                                 regs.rip));
    }
  };
  switch (s.kind) {
    case StopKind::kSyscallEntry:
      expect(st.syscall_stop() && !t.in_syscall, "not a syscall entry");
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
      expect(st.stopped() && (st.stop_signal() == SIGSEGV ||
                              (st.stop_signal() == SIGTRAP && patcher_.site_at(regs.rip - 1))),
             "not an rdtsc trap");
      if (st.stop_signal() == SIGTRAP) regs.rip -= 1;  // recorded at the instruction
      break;
    case StopKind::kSignal:
      expect(st.stopped() && !st.syscall_stop() && !st.ptrace_event() &&
                 st.stop_signal() == s.value,
             "another signal");
      break;
    case StopKind::kClone:
      expect(st.ptrace_event() == PTRACE_EVENT_CLONE, "not a clone");
      break;
    case StopKind::kExit:
      expect(st.ptrace_event() == PTRACE_EVENT_EXIT, "not an exit");
      break;
  }
  uint64_t ticks = t.block ? ThreadBlockView(mem_, *t.block).ticks() : 0;
  if (ticks != s.ticks) {
    diverge(index, fmt::format("thread {} is at tick {}, recorded {}", s.tid, ticks, s.ticks));
  }
  if (std::string d = regs_diff(s.regs, regs, s.kind == StopKind::kSyscallExit && t.emulated);
      !d.empty()) {
    diverge(index, fmt::format("thread {} at its {} stop: {}", s.tid,
                               trace::stop_kind_name(s.kind), d));
  }
  result_.stops++;
  switch (s.kind) {
    case StopKind::kSyscallEntry:
      on_entry(index, t, regs);
      break;
    case StopKind::kSyscallExit:
      on_exit(index, t, s, regs);
      break;
    case StopKind::kTrap: {
      ThreadBlockView view(mem_, *t.block);
      if (static_cast<int64_t>(view.trap_reason()) != s.value) {
        diverge(index, fmt::format("thread {} trapped for reason {}, recorded {}", s.tid,
                                   static_cast<int>(view.trap_reason()), s.value));
      }
      view.clear_trap_reason();
      break;
    }
    case StopKind::kRdtsc: {
      bool rdtscp = false;
      if (const PatchSite* site = patcher_.site_at(regs.rip)) {
        rdtscp = site->length == 3;
      } else {
        uint8_t insn[3] = {};
        mem_.read(regs.rip, insn, 3);
        rdtscp = insn[1] == 0x01;
      }
      regs.rax = static_cast<uint64_t>(s.value) & 0xffffffffu;
      regs.rdx = static_cast<uint64_t>(s.value) >> 32;
      if (rdtscp) regs.rcx = 0;
      regs.rip += rdtscp ? 3 : 2;
      t.task.set_regs(regs);
      break;
    }
    case StopKind::kClone: {
      Thread& child = thread(static_cast<pid_t>(t.task.event_message()));
      if (child.vtid != s.value) {
        diverge(index, fmt::format("new thread got tid {}, recorded {}", child.vtid, s.value));
      }
      break;
    }
    case StopKind::kExit:
      t.dead = true;
      t.task.resume(Resume::kContinue, 0);
      if (t.task.tid() != inferior_.leader()) {
        for (;;) {
          auto w = wait_for(t.task.tid());
          if (!w || w->exited() || w->signaled()) break;
          t.task.resume(Resume::kContinue, 0);
        }
      }
      break;
    case StopKind::kSignal:
      break;
  }
}

void Session::die_out(int signal_for_current, pid_t current) {
  dying_ = true;
  // As in the recording, only the thread ending the process moves; the
  // kernel kills the others where they stand.
  if (Thread* t = thread_by_vtid(current); t && !t->dead) {
    t->task.resume(Resume::kContinue, signal_for_current);
  }
  while (!end_status_) {
    auto st = wait_for(-1);
    if (!st) break;
    if (st->tid == inferior_.holder()) continue;
    if (st->exited() || st->signaled()) {
      if (st->tid == inferior_.leader()) end_status_ = *st;
      continue;
    }
    if (st->stopped()) Task(st->tid).resume(Resume::kContinue, 0);
  }
}

ReplayResult Session::run() {
  start();
  const auto& ev = trace_.events();
  int pending_signal = 0;
  pid_t signal_tid = 0;
  uint64_t map_events = 0;
  for (size_t i = 2; i < ev.size(); ++i) {
    if (options_.until_event && i >= *options_.until_event) {
      result_.stopped_at = Position{i, signal_tid, 0};
      break;
    }
    if (const auto* s = std::get_if<trace::Stop>(&ev[i])) {
      if (options_.until_fatal && s->kind == StopKind::kSignal && i + 1 < ev.size() &&
          std::holds_alternative<trace::End>(ev[i + 1])) {
        play_stop(i, *s);
        result_.stopped_at = Position{i, s->tid, s->ticks};
        break;
      }
      play_stop(i, *s);
      if (s->kind == StopKind::kSignal) {
        pending_signal = static_cast<int>(s->value);
        signal_tid = s->tid;
      } else {
        pending_signal = 0;
      }
      signal_tid = s->tid;
    } else if (const auto* p = std::get_if<trace::Patch>(&ev[i])) {
      std::vector<PatchSite> sites;
      for (const auto& site : p->sites) sites.push_back({site.addr, site.length});
      patcher_.apply(mem_, sites);
    } else if (const auto* m = std::get_if<trace::MapEvents>(&ev[i])) {
      map_events += m->events.size();
    } else if (const auto* e = std::get_if<trace::End>(&ev[i])) {
      if (e->interrupted) {
        // The recording stopped here, not the program: so does the replay.
        result_.completed = true;
        result_.interrupted = true;
        break;
      }
      die_out(pending_signal, signal_tid);
      if (!end_status_) throw Error("the program did not end as recorded");
      bool exited = end_status_->exited();
      int code = exited ? end_status_->exit_code() : end_status_->term_signal();
      if (exited != e->exited || code != e->code) {
        diverge(i, fmt::format("the program ended with {} {}, recorded {} {}",
                               exited ? "exit status" : "signal", code,
                               e->exited ? "exit status" : "signal", e->code));
      }
      result_.completed = true;
      result_.exited = exited;
      result_.code = code;
      result_.fatal_message = e->fatal_message;
    }
  }
  result_.map_events = map_events;
  if (result_.stopped_at) {
    Thread* found = thread_by_vtid(result_.stopped_at->tid);
    Thread& t = found ? *found : thread(inferior_.leader());
    result_.stopped_at->tid = t.vtid;
    result_.regs = t.task.regs();
    if (t.block) result_.stopped_at->ticks = ThreadBlockView(mem_, *t.block).ticks();
    mem_.read(result_.regs.rip, result_.code_at_rip, sizeof result_.code_at_rip);
  } else if (!result_.completed) {
    result_.truncated = true;
  }
  return result_;
}

}  // namespace

ReplayResult replay(const trace::Trace& trace, const ReplayOptions& options) {
  Session session(trace, options);
  return session.run();
}

}  // namespace backstep::replayer
