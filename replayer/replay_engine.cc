#include "replayer/replay_engine.h"

#include <elf.h>
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
#include <map>

#include "base/interrupt.h"
#include "ptrace/inferior.h"
#include "ptrace/proc.h"
#include "ptrace/rdtsc_patcher.h"
#include "ptrace/runtime_link.h"
#include "replayer/executable_stand_in.h"
#include "syscalls/syscall_table.h"

namespace backstep::replayer {
namespace {

using trace::StopKind;

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

// The executable's tick-counter section (abi::kTickSection), relocated.
std::pair<uint64_t, uint64_t> find_tick_section(const trace::Trace& trace) {
  const trace::Header& h = trace.header();
  uint64_t load = 0;
  std::string file;
  for (const auto& e : trace.events()) {
    if (const auto* f = std::get_if<trace::FileMap>(&e);
        f && f->tid == 0 && f->path == h.exe && f->offset == 0) {
      load = f->addr;
      file = trace.file_copy(f->content).string();
      break;
    }
  }
  if (file.empty()) return {0, 0};
  std::ifstream in(file, std::ios::binary);
  Elf64_Ehdr eh{};
  if (!in.read(reinterpret_cast<char*>(&eh), sizeof eh)) return {0, 0};
  std::vector<Elf64_Shdr> sections(eh.e_shnum);
  in.seekg(static_cast<std::streamoff>(eh.e_shoff));
  in.read(reinterpret_cast<char*>(sections.data()),
          static_cast<std::streamsize>(sections.size() * sizeof(Elf64_Shdr)));
  if (!in || eh.e_shstrndx >= sections.size()) return {0, 0};
  const Elf64_Shdr& names = sections[eh.e_shstrndx];
  std::string strtab(names.sh_size, '\0');
  in.seekg(static_cast<std::streamoff>(names.sh_offset));
  in.read(strtab.data(), static_cast<std::streamsize>(strtab.size()));
  uint64_t bias = eh.e_type == ET_DYN ? load : 0;
  for (const Elf64_Shdr& sh : sections) {
    if (sh.sh_name < strtab.size() &&
        std::strcmp(strtab.c_str() + sh.sh_name, abi::kTickSection) == 0) {
      return {bias + sh.sh_addr, bias + sh.sh_addr + sh.sh_size};
    }
  }
  return {0, 0};
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
    : trace_(trace), inferior_(launch(trace)), mem_(inferior_.leader()) {
  options_.echo_output = echo_output;
  tick_section_ = find_tick_section(trace_);
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
  if (fresh && it->second.vtid != 0) by_vtid_[it->second.vtid] = tid;
  return it->second;
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
  InitialStack stack = InitialStack::read(mem_, regs.rsp);
  stack.hide_vdso(mem_);
  if (stack.random_addr) mem_.write_or_throw(stack.random_addr, x.at_random.data(), 16);
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
  if (!threads_.count(st.tid) && !thread_of_process(st.tid, inferior_.leader())) return;
  Thread& t = thread(st.tid);
  if (st.exited() || st.signaled()) {
    t.dead = true;
    if (st.tid == inferior_.leader()) end_status_ = st;
    return;
  }
  if (!t.started) {
    t.started = true;  // a new thread's first stop: it waits for its turn
    t.held = HeldAt::kUserCode;
    return;
  }
  if (dying_ && st.stopped()) t.task.resume(Resume::kContinue, 0);
}

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
  bool delivered = s && s->kind == StopKind::kSignal && s->resumed.signal == s->value;
  return delivered ? static_cast<int>(s->value) : 0;
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
      if (t.args[5] && mem_.read(t.args[5], data, sizeof data)) {
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
  if (!sig) return false;
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
      if (t.args[0] && mem_.read(t.args[0], &ss, sizeof ss)) t.altstack = ss;
      break;
    }
    case SYS_exit_group:
      dying_ = true;
      break;
    case SYS_clone:
    case SYS_clone3:
    case SYS_fork:
    case SYS_vfork:
      // Only the tasks the recorder traced are made again: its threads,
      // whose clone stop follows. A child process (fork, vfork, posix_spawn
      // in system() and popen()) ran untraced and unrecorded; made for real
      // here it would run again, with none of its inputs, and signal the
      // replay at times of its own. Its result (the recorded pid) and what
      // the parent saw of it (wait4, pipes, SIGCHLD) are in the trace.
      execute = execute && next_stop_of(index + 1, t.vtid, StopKind::kClone) != nullptr;
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
      mem_.write_or_throw(w.addr, w.data.data(), w.data.size());
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
void ReplayEngine::echo_output(Thread& t, int64_t result) {
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
  int sig = s.resumed.signal;
  if (s.kind == StopKind::kSyscallExit && t.wake_signal) {
    // Into the rt_sigsuspend that stands for a wait (wait_with_mask).
    sig = t.wake_pending = std::exchange(t.wake_signal, 0);
  } else if (t.wake_pending) {
    // Still pending from then: sending it again would queue a second one.
    if (sig == t.wake_pending) sig = 0;
    t.wake_pending = 0;
  }
  return sig;
}

void ReplayEngine::play_stop(size_t index, const trace::Stop& s) {
  Thread* found = thread_by_vtid(s.tid);
  if (!found || found->dead) {
    diverge(index, fmt::format("thread {} should stop here but does not exist", s.tid));
  }
  Thread& t = *found;
  int sig = begin_run(index, t, s);
  complete_stop(index, t, s, resume_run(index, t, static_cast<Resume>(s.resumed.how), sig));
}

namespace {

// int3 written over each breakpoint's first byte for as long as it lives.
// Addresses not mapped (yet) are skipped: nothing can execute there.
class PlantedBreakpoints {
 public:
  PlantedBreakpoints(const AddressSpace& mem, const std::vector<uint64_t>& addrs, uint64_t skip)
      : mem_(mem) {
    for (uint64_t a : addrs) {
      uint8_t orig = 0;
      if (a == skip || !mem_.read(a, &orig, 1)) continue;
      if (orig == kInt3) continue;  // planted twice, or an rdtsc site
      const uint8_t int3 = kInt3;
      if (mem_.write(a, &int3, 1)) saved_.emplace_back(a, orig);
    }
  }
  ~PlantedBreakpoints() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it)
      mem_.write(it->first, &it->second, 1);
  }
  PlantedBreakpoints(const PlantedBreakpoints&) = delete;
  PlantedBreakpoints& operator=(const PlantedBreakpoints&) = delete;

 private:
  static constexpr uint8_t kInt3 = 0xcc;
  const AddressSpace& mem_;
  std::vector<std::pair<uint64_t, uint8_t>> saved_;
};

bool is_syscall_insn(const AddressSpace& mem, uint64_t pc) {
  uint8_t insn[2] = {};
  return mem.read(pc, insn, 2) && insn[0] == 0x0f && insn[1] == 0x05;
}

}  // namespace

void ReplayEngine::set_value_watch(std::optional<ValueWatch> watch, WatchTrap on_change) {
  watch_ = watch;
  on_watch_ = std::move(on_change);
}

void ReplayEngine::write_limits(Thread& t, uint64_t tick_limit, uint64_t event_limit,
                                const std::optional<ValueWatch>& watch) {
  ThreadBlockView view(mem_, *t.block);
  view.set_limits(tick_limit, event_limit);
  uint64_t value = 0;
  if (watch && mem_.read(watch->addr, &value, watch->len)) {
    view.set_watch(watch->addr, watch->len, value, tick_limit);
    t.armed = watch;
  } else if (t.armed) {
    view.clear_watch();
    t.armed.reset();
  }
}

void ReplayEngine::sync_watch(Thread& t, const std::optional<ValueWatch>& want) {
  if (!t.block || t.armed == want) return;
  // A run begun under another watch (or none): the limits it has, or keeps
  // in watch_limit while armed, are its real ones.
  ThreadBlockView view(mem_, *t.block);
  uint64_t limit = t.armed ? view.watch_limit() : view.tick_limit();
  write_limits(t, limit, view.event_limit(), want);
}

void ReplayEngine::set_breakpoints(std::vector<uint64_t> addrs, BreakpointHit on_hit) {
  breakpoints_ = std::move(addrs);
  on_breakpoint_ = std::move(on_hit);
}

int32_t ReplayEngine::running_thread() const {
  for (const auto& [tid, t] : threads_) {
    if (t.run_started && !t.dead) return t.vtid;
  }
  return 0;
}

bool ReplayEngine::is_breakpoint_hit(Thread& t, const WaitStatus& st) const {
  if (!st.stopped() || st.syscall_stop() || st.ptrace_event() || st.stop_signal() != SIGTRAP) {
    return false;
  }
  uint64_t at = t.task.regs().rip - 1;
  if (std::find(breakpoints_.begin(), breakpoints_.end(), at) == breakpoints_.end()) return false;
  return t.task.siginfo().si_code == SI_KERNEL;
}

WaitStatus ReplayEngine::resume_run(size_t index, Thread& t, Resume how, int signal) {
  uint64_t skip = 0;  // a breakpoint on a syscall instruction, passed over once
  if (how != Resume::kSingleStep) sync_watch(t, watch_);
  for (;;) {
    WaitStatus st;
    {
      std::optional<PlantedBreakpoints> planted;
      if (!breakpoints_.empty() && how != Resume::kSingleStep)
        planted.emplace(mem_, breakpoints_, skip);
      if (!t.task.resume(how, signal)) diverge(index, fmt::format("thread {} vanished", t.vtid));
      st = wait_for_thread(t.task.tid());
    }
    signal = 0;
    skip = 0;
    if (t.armed && st.stopped() && !st.syscall_stop() && !st.ptrace_event() &&
        st.stop_signal() == SIGTRAP) {
      ThreadBlockView view(mem_, *t.block);
      if (view.trap_reason() == abi::TrapReason::kWatch) {
        view.clear_trap_reason();
        if (on_watch_) on_watch_(t.vtid, view.ticks());
        continue;  // on from the trap, inside the tick counter
      }
    }
    if (!is_breakpoint_hit(t, st)) return st;
    Registers regs = t.task.regs();
    regs.rip -= 1;
    t.task.set_regs(regs);
    if (on_breakpoint_) {
      on_breakpoint_(t.vtid, regs.rip, t.block ? ThreadBlockView(mem_, *t.block).ticks() : 0);
    }
    if (is_syscall_insn(mem_, regs.rip)) {
      // Single-stepping it would run the syscall for real: let the run
      // reach its recorded syscall stop with this one breakpoint lifted.
      skip = regs.rip;
      continue;
    }
    // Over the breakpoint's own instruction, unplanted, then on.
    if (!t.task.resume(Resume::kSingleStep, 0)) diverge(index, "a thread vanished");
    WaitStatus stepped = wait_for_thread(t.task.tid());
    bool traced_step = stepped.stopped() && stepped.stop_signal() == SIGTRAP &&
                       !stepped.syscall_stop() && !stepped.ptrace_event() &&
                       t.task.siginfo().si_code == TRAP_TRACE;
    if (!traced_step) return stepped;  // that instruction was the recorded stop (a fault, ...)
  }
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
  auto expect = [&](bool ok, const char* what) {
    if (!ok) {
      diverge(index,
              fmt::format("expected a {} stop of thread {}, found {} ({}) at rip {:#x}",
                          trace::stop_kind_name(s.kind), s.tid, st.describe(), what, regs.rip));
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
      expect(
          st.stopped() && !st.syscall_stop() && !st.ptrace_event() && st.stop_signal() == s.value,
          "another signal");
      if (s.siginfo.size() == sizeof(siginfo_t)) {
        // A signal from outside the program, sent here by the replay: the
        // handler gets the siginfo the kernel had queued when recording
        // (a timer's si_value, a sender's pid), not the replay's.
        siginfo_t si{};
        std::memcpy(&si, s.siginfo.data(), sizeof si);
        t.task.set_siginfo(si);
      }
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
  // A trap taken with the value watch armed comes from another path
  // through the tick counter's slow path, with other scratch registers
  // (the program's own are saved by the counter and come back intact).
  bool scratch_regs = s.kind == StopKind::kTrap && t.armed.has_value();
  if (std::string d = scratch_regs
                          ? std::string()
                          : regs_diff(s.regs, regs, s.kind == StopKind::kSyscallExit && t.emulated);
      !d.empty()) {
    diverge(index,
            fmt::format("thread {} at its {} stop: {}", s.tid, trace::stop_kind_name(s.kind), d));
  }
  result_.stops++;
  t.base_ticks = ticks;
  if (s.kind == StopKind::kSyscallEntry) {
    t.held = HeldAt::kSyscallEntry;
  } else if (s.kind == StopKind::kClone) {
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
      if (is_copy_) {
        child.vtid = static_cast<pid_t>(s.value);
        by_vtid_[child.vtid] = child.task.tid();
      } else if (child.vtid != s.value) {
        diverge(index, fmt::format("new thread got tid {}, recorded {}", child.vtid, s.value));
      }
      CloneRequest c = clone_request(t);
      if (c.flags & CLONE_CHILD_CLEARTID) child.clear_tid = c.child_tid;
      t.clone_child = child.task.tid();
      // Its first stop, now: from this record on, the thread exists and can
      // be inspected, whenever the kernel got round to stopping it.
      await_first_stop(child);
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
    last_tid_ = s->tid;
  } else if (const auto* p = std::get_if<trace::Patch>(&ev[i])) {
    std::vector<PatchSite> sites;
    for (const auto& site : p->sites) sites.push_back({site.addr, site.length});
    patcher_.apply(mem_, sites);
  } else if (const auto* m = std::get_if<trace::MapEvents>(&ev[i])) {
    result_.map_events += m->events.size();
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
  uint64_t now = ThreadBlockView(mem_, *t.block).ticks();
  if (now > t.base_ticks && !in_tick_section(t.task.regs().rip)) {
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
      s.kind == StopKind::kExit) {
    play_record();
    return true;
  }
  Registers regs = t.task.regs();
  uint8_t insn[2] = {};
  mem_.read(regs.rip, insn, 2);
  if (insn[0] == 0x0f && insn[1] == 0x05) {
    // A syscall instruction: never single-step into the kernel (the call
    // would really run); play its entry and exit instead.
    play_record();
    while (!finished()) {
      auto next = next_stop_of_thread(vtid);
      if (!next) break;
      const auto& ns = std::get<trace::Stop>(trace_.events()[*next]);
      if (ns.kind != StopKind::kSyscallExit && ns.kind != StopKind::kClone) break;
      play_until(*next + 1);
    }
    return true;
  }
  int sig = begin_run(index, t, s);
  // A watch trap inside a single step would look like the recorded stop.
  sync_watch(t, std::nullopt);
  if (!t.task.resume(Resume::kSingleStep, sig)) return false;
  WaitStatus st = wait_for_thread(t.task.tid());
  if (st.stopped() && st.stop_signal() == SIGTRAP && !st.ptrace_event() && !st.syscall_stop()) {
    siginfo_t si = t.task.siginfo();
    if (si.si_code == TRAP_TRACE || si.si_code == TRAP_HWBKPT) {
      after_step(t);
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
  ThreadBlockView view(mem_, *t.block);
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
  if (!in_tick_section(t.task.regs().rip)) {
    // The walk below would end at once, at a point that is not canonical.
    diverge(index, fmt::format("thread {} trapped for a tick outside the tick counter's code "
                               "(at {:#x}): a runtime built wrongly?",
                               s.tid, t.task.regs().rip));
  }
  view.clear_trap_reason();
  write_limits(t, s.resumed.tick_limit, s.resumed.event_limit, watch_);
  while (in_tick_section(t.task.regs().rip) || t.task.regs().rip == 0) {
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
  return ThreadBlockView(mem_, *t->block).ticks();
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
    if (t.block) result_.stopped_at->ticks = ThreadBlockView(mem_, *t.block).ticks();
    mem_.read(result_.regs.rip, result_.code_at_rip, sizeof result_.code_at_rip);
  } else if (!result_.completed) {
    result_.truncated = true;
  }
  return result_;
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
    if (t.args[1] >= sizeof a && mem_.read(t.args[0], a, sizeof a)) {
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
  if (c.flags & CLONE_PARENT_SETTID) mem_.write_value(c.parent_tid, id);
  // The child writes its id itself before its first stop, which the clone
  // stop waited for.
  if ((c.flags & CLONE_CHILD_SETTID) && t.clone_child) mem_.write_value(c.child_tid, id);
}

void ReplayEngine::aim_self_signal(Thread& t, Registers& regs) {
  // Recorded ids name the program's threads; the kernel knows these
  // processes' by other numbers (the same ones only in the launched process).
  auto kernel_view = [&](uint64_t vtid) -> uint64_t {
    const Thread* target = thread_by_vtid(static_cast<pid_t>(vtid));
    return target ? static_cast<uint64_t>(namespace_tid(target->task.tid())) : vtid;
  };
  const uint64_t own = threads_.at(inferior_.leader()).vtid;
  const uint64_t own_kernel = static_cast<uint64_t>(namespace_tid(inferior_.leader()));
  uint64_t args[2] = {t.args[0], t.args[1]};
  if (t.nr == SYS_kill || t.nr == SYS_tgkill) {
    if (args[0] == own) args[0] = own_kernel;
    if (t.nr == SYS_tgkill) args[1] = kernel_view(args[1]);
  } else {
    args[0] = kernel_view(args[0]);
  }
  if (args[0] == t.args[0] && args[1] == t.args[1]) return;
  set_syscall_arg(regs, 0, args[0]);
  set_syscall_arg(regs, 1, args[1]);
  t.task.set_regs(regs);
  t.rewrote_args = true;
}

// ---- Checkpoints ----

namespace {

// Memory shared with another process would be shared with the copy too, and
// a checkpoint must not change when the replay runs on.
bool has_shared_writable_memory(pid_t pid) {
  std::ifstream maps(fmt::format("/proc/{}/maps", pid));
  std::string line;
  while (std::getline(maps, line)) {
    size_t sp = line.find(' ');
    if (sp == std::string::npos || line.size() < sp + 5) continue;
    std::string_view perms(line.data() + sp + 1, 4);
    if (perms[1] == 'w' && perms[3] == 's') return true;
  }
  return false;
}

// A signal sent but not delivered yet (a self-kill between its syscall and
// its delivery) stays with the process: a copy would not have it. Each
// thread's own pending set, and the process's shared one (any thread's
// status shows it).
bool has_pending_signals(const std::vector<pid_t>& tids) {
  auto pending = [](pid_t tid, const char* field) {
    auto v = proc_status_field(tid, field);
    return !v || std::stoull(*v, nullptr, 16) != 0;
  };
  for (pid_t tid : tids) {
    if (pending(tid, "SigPnd")) return true;
  }
  return tids.empty() || pending(tids.front(), "ShdPnd");
}

}  // namespace

bool ReplayEngine::can_fork() const {
  if (dying_ || finished() || end_status_) return false;
  auto leader = threads_.find(inferior_.leader());
  if (leader == threads_.end() || leader->second.dead) return false;
  std::vector<pid_t> alive;
  for (const auto& [tid, t] : threads_) {
    if (t.dead) continue;
    alive.push_back(tid);
    if (!t.started || !t.held || t.vtid == 0) return false;
    // Held at the entry of a wait_with_mask, or with its signal pending.
    if (t.wake_signal || t.wake_pending) return false;
    // A signal to itself about to be sent names this process's kernel ids.
    if (*t.held == HeldAt::kSyscallEntry && !t.emulated &&
        (t.nr == SYS_kill || t.nr == SYS_tkill || t.nr == SYS_tgkill)) {
      return false;
    }
    if (!t.run_started) {
      // Its next run begins with the signal delivered then, which a new
      // thread's first resumption could not carry.
      if (auto n = next_stop_of_thread(t.vtid);
          n && std::get<trace::Stop>(trace_.events()[*n]).resumed.signal != 0) {
        return false;
      }
    }
  }
  return !has_pending_signals(alive) && !has_shared_writable_memory(inferior_.leader());
}

ReplayEngine::ReplayEngine(const ReplayEngine& source, Inferior copy)
    : trace_(source.trace_),
      options_(source.options_),
      inferior_(std::move(copy)),
      mem_(inferior_.leader()),
      patcher_(source.patcher_),
      result_(source.result_),
      end_status_(source.end_status_),
      dying_(source.dying_),
      next_(source.next_),
      pending_signal_(source.pending_signal_),
      last_tid_(source.last_tid_),
      tick_section_(source.tick_section_),
      is_copy_(true) {}

ReplayEngine::Thread& ReplayEngine::adopt_thread(pid_t tid, const Thread& source) {
  Thread& t = threads_.try_emplace(tid, tid, source.vtid).first->second;
  t = source;
  t.task = Task(tid);
  t.clone_child = 0;
  by_vtid_[t.vtid] = tid;
  return t;
}

std::unique_ptr<ReplayEngine> ReplayEngine::fork() {
  if (!can_fork()) return nullptr;
  // Half-made, the copy would be lost and the source's leader left inside
  // an injected syscall.
  InterruptDeferral defer;
  Thread& leader = threads_.at(inferior_.leader());
  const Registers leader_regs = leader.task.regs();
  // The process, forked by its leader. No exit signal: the copy's end must
  // not signal the program it came from.
  InjectedResult forked = inject_syscall(leader.task, mem_, *leader.held, SYS_clone);
  if (forked.value <= 0 || forked.created <= 0) {
    throw Error(fmt::format("cannot copy the replayed program (clone returned {})", forked.value));
  }
  wait_for_new_task(forked.created);
  std::unique_ptr<ReplayEngine> copy(new ReplayEngine(*this, inferior_.adopt_copy(forked.created)));
  const AddressSpace& cmem = copy->mem_;
  // The copy was made with a syscall instruction over the leader's code.
  uint8_t code[2] = {};
  mem_.read_or_throw(leader_regs.rip, code, sizeof code);
  cmem.write_or_throw(leader_regs.rip, code, sizeof code);

  // Its only thread stands for the leader; the others are cloned into it.
  // Each is adopted at once, so that a failure kills and reaps them all.
  std::vector<std::pair<const Thread*, Thread*>> pairs{
      {&leader, &copy->adopt_thread(forked.created, leader)}};
  const Task first(forked.created);
  for (const auto& [tid, t] : threads_) {
    if (t.dead || &t == &leader) continue;
    constexpr uint64_t kThread =
        CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
    InjectedResult made = inject_syscall(first, cmem, HeldAt::kUserCode, SYS_clone, {kThread});
    if (made.value <= 0 || made.created <= 0) {
      throw Error(fmt::format("cannot copy thread {} (clone returned {})", t.vtid, made.value));
    }
    Thread& twin = copy->adopt_thread(made.created, t);
    wait_for_new_task(made.created);
    pairs.emplace_back(&t, &twin);
  }
  for (const auto& [source, twin] : pairs) {
    Thread& t = *twin;
    const Registers regs = source->task.regs();
    // Neither a fork nor a clone passes these on.
    if (t.clear_tid) {
      inject_syscall(t.task, cmem, HeldAt::kUserCode, SYS_set_tid_address, {t.clear_tid});
    }
    if (t.robust) {
      inject_syscall(t.task, cmem, HeldAt::kUserCode, SYS_set_robust_list,
                     {t.robust->first, t.robust->second});
    }
    if (t.altstack && t.task.tid() != forked.created) {
      // The stack_t goes below the red zone, and the bytes there come back.
      uint64_t at = (regs.rsp - 256) & ~uint64_t{15};
      auto saved = cmem.read_bytes(at, sizeof(stack_t));
      cmem.write_value(at, *t.altstack);
      inject_syscall(t.task, cmem, HeldAt::kUserCode, SYS_sigaltstack, {at, 0});
      cmem.write_or_throw(at, saved.data(), saved.size());
    }
    t.task.set_blocked_signals(source->task.blocked_signals());
    t.task.set_xstate(source->task.xstate());
    if (*t.held == HeldAt::kSyscallEntry) {
      reenter_syscall(t.task, cmem, regs);
    } else {
      t.task.set_regs(regs);
    }
  }
  return copy;
}

}  // namespace backstep::replayer
