#include "recorder/recorder.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <optional>
#include <random>
#include <cstring>
#include <fmt/core.h>

#include "base/errors.h"
#include "base/interrupt.h"
#include "ptrace/proc.h"
#include "ptrace/rdtsc_patcher.h"
#include "ptrace/runtime_link.h"
#include "syscalls/syscall_table.h"
#include "trace/trace_writer.h"

namespace backstep::recorder {
namespace {

using trace::Resumption;
using trace::StopKind;
using trace::SwitchReason;

}  // namespace

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "unknown";
}

namespace {

// Signals the kernel raises because of the instruction just executed.
bool is_fault_signal(int sig) {
  return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGTRAP;
}

// Whether the process catches `sig` (from /proc/PID/status SigCgt).
bool catches_signal(pid_t pid, int sig) {
  auto mask = proc_status_field(pid, "SigCgt");
  return mask && (std::stoull(*mask, nullptr, 16) >> (sig - 1)) & 1;
}

bool default_action_kills(int sig) {
  switch (sig) {
    case SIGCHLD:
    case SIGCONT:
    case SIGURG:
    case SIGWINCH:
    case SIGSTOP:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
      return false;
    default:
      return true;
  }
}

struct Thread {
  explicit Thread(pid_t tid) : task(tid), vtid(namespace_tid(tid)) {}
  Task task;
  pid_t vtid;  // the tid the program sees; what the trace records
  enum class State { kStarting, kStopped, kInKernel, kDead } state = State::kStarting;
  bool in_syscall = false;  // between entry and exit stops
  sys::SyscallArgs call{};
  std::optional<int64_t> forced_result;  // the tracer's answer (registration, rseq)
  bool seeded_random = false;            // getrandom answered from the seed
  std::string mapped_path;               // mmap of a file: its path at entry
  std::optional<uint64_t> block;         // ThreadBlock address
  uint64_t ticks = 0;
  uint64_t tick_limit = 0;
  uint64_t ring_drained = 0;  // events consumed: the ring head at the last stop
  uint64_t event_limit = 0;
  uint64_t ring_capacity = abi::kRingCapacity;
  int deliver_signal = 0;               // delivered on the next resume
  int injected_signal = 0;              // resumed from a syscall exit with it: its stop is ours
  std::vector<int> held_signals;        // asynchronous, held for a scheduling point
};

class Session {
 public:
  explicit Session(const RecordOptions& options)
      : options_(options),
        scheduler_(options.scheduler),
        writer_(options.trace_dir),
        inferior_(Inferior::launch(options.program)),
        mem_(inferior_.leader()) {}

  RecordResult run();

 private:
  void loop();
  Thread& thread(pid_t tid) {
    auto it = threads_.find(tid);
    if (it == threads_.end()) {
      it = threads_.emplace(tid, Thread(tid)).first;
      scheduler_.add_thread(tid);
    }
    return it->second;
  }
  void start();
  void resume(Thread& t, Resume how);
  WaitStatus wait_for_thread(pid_t tid);
  void note_other(const WaitStatus& st);
  void on_stop(Thread& t, const WaitStatus& st);
  void on_syscall_entry(Thread& t, Registers& regs);
  void on_syscall_exit(Thread& t, Registers& regs);
  void write_patch(const std::vector<PatchSite>& sites);
  void keep_exec_mappings();
  void record_stop(Thread& t, StopKind kind, const Registers& regs, int64_t value,
                   int64_t result = 0, std::vector<trace::MemWrite> writes = {});
  void drain(Thread& t);
  void switch_from(Thread& t, SwitchReason reason);
  void finish(const WaitStatus& last);
  void die_out();
  std::vector<pid_t> runnable() const;

  RecordOptions options_;
  Scheduler scheduler_;
  trace::TraceWriter writer_;
  Inferior inferior_;
  AddressSpace mem_;
  RdtscPatcher patcher_;
  std::map<pid_t, Thread> threads_;
  pid_t current_ = 0;
  Resumption last_resumption_;
  std::map<pid_t, Resumption> resumptions_;
  bool dying_ = false;
  bool done_ = false;
  RecordResult result_;
  std::optional<WaitStatus> end_status_;
  int32_t fatal_tid_ = 0;
  std::set<long> warned_;
  // Under --chaos the program's randomness comes from the seed too (see
  // seeded_bytes), so that a seed alone reproduces a run.
  std::mt19937_64 inputs_rng_{options_.scheduler.seed ^ 0x5eed5eed5eed5eedull};
  uint64_t seeded_tsc_ = 1'000'000'000;
  std::vector<uint8_t> seeded_bytes(size_t n);
  uint64_t read_tsc();
};

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
  Thread& t = thread(leader);
  t.state = Thread::State::kStopped;
  // The exec stop is inside execve: the next stop is its exit.
  t.in_syscall = true;
  t.call.nr = SYS_execve;
  Registers regs = t.task.regs();
  InitialStack stack = InitialStack::read(mem_, regs.rsp);
  stack.hide_vdso(mem_);

  trace::Header h;
  h.exe = options_.program.exe;
  h.argv = options_.program.argv;
  h.envp = options_.program.envp;
  h.cwd = options_.program.cwd;
  h.cpu_model = cpu_model();
  h.scheduler = scheduler_.chaos() ? "chaos" : "fair";
  h.seed = options_.scheduler.seed;
  h.timeslice = options_.scheduler.timeslice;
  h.pid_namespace = inferior_.in_pid_namespace();
  h.start_unix_ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  h.exe_sha = trace::hash_file(options_.program.exe);
  writer_.write(h);

  if (scheduler_.chaos() && stack.random_addr) {
    // AT_RANDOM (the stack protector's and pointer guard's seed) from the
    // scheduler's seed: randomness is an input the seed must fix.
    auto bytes = seeded_bytes(16);
    mem_.write_or_throw(stack.random_addr, bytes.data(), bytes.size());
  }
  trace::Exec x;
  x.tid = t.vtid;
  x.regs = regs;
  x.auxv = stack.auxv_bytes();
  if (stack.random_addr) mem_.read_or_throw(stack.random_addr, x.at_random.data(), 16);
  writer_.write(x);
  keep_exec_mappings();
  write_patch(patcher_.patch_all_mappings(mem_));
  current_ = leader;
  writer_.write(trace::Switch{0, t.vtid, SwitchReason::kStart, 0});
}

std::vector<pid_t> Session::runnable() const {
  std::vector<pid_t> out;
  for (const auto& [tid, t] : threads_) {
    if (t.state == Thread::State::kStopped) out.push_back(tid);
  }
  return out;
}

void Session::resume(Thread& t, Resume how) {
  Resumption r;
  r.how = static_cast<uint8_t>(how);
  r.signal = std::exchange(t.deliver_signal, 0);
  if (t.block) {
    if (t.tick_limit <= t.ticks) t.tick_limit = t.ticks + scheduler_.next_timeslice();
    if (t.event_limit <= t.ring_drained) {
      t.event_limit = t.ring_drained + scheduler_.next_event_gap(t.ring_capacity);
    }
    r.has_block = true;
    r.tick_limit = t.tick_limit;
    r.event_limit = t.event_limit;
    ThreadBlockView(mem_, *t.block).set_limits(r.tick_limit, r.event_limit);
  }
  resumptions_[t.task.tid()] = r;
  if (!t.task.resume(how, r.signal)) t.state = Thread::State::kDead;
}

// Waits until `tid` stops, handling what other threads report meanwhile.
WaitStatus Session::wait_for_thread(pid_t tid) {
  for (;;) {
    auto st = wait_for(-1);
    if (!st) throw Error("lost track of the program (no traced thread left)");
    if (st->tid == inferior_.holder()) continue;
    if (st->tid == tid) {
      // Hold asynchronous signals for a scheduling point that replay can
      // find again; faults and signals the program sent itself are
      // synchronous and recorded where they happen.
      if (st->stopped() && !st->syscall_stop() && !st->ptrace_event() && !dying_) {
        int sig = st->stop_signal();
        siginfo_t si = threads_.at(tid).task.siginfo();
        // si_pid is the sender's pid as the program sees it: 2 inside our
        // PID namespace, the real pid outside one.
        pid_t own_pid = inferior_.in_pid_namespace() ? 2 : inferior_.leader();
        bool self_sent = (si.si_code == SI_TKILL || si.si_code == SI_USER) && si.si_pid == own_pid;
        bool fault = is_fault_signal(sig) && si.si_code > 0;
        bool rdtsc_fault = sig == SIGSEGV && si.si_code == SI_KERNEL;
        Thread& t = threads_.at(tid);
        bool injected = sig == t.injected_signal;
        t.injected_signal = 0;
        if (!fault && !self_sent && !rdtsc_fault && !injected && sig != SIGSTOP) {
          t.held_signals.push_back(sig);
          t.task.resume(Resume::kSyscall, 0);
          continue;
        }
      }
      return *st;
    }
    note_other(*st);
  }
}

// Something another thread reported while `current_` ran.
void Session::note_other(const WaitStatus& st) {
  if (!threads_.count(st.tid) && !thread_of_process(st.tid, inferior_.leader())) return;
  Thread& t = thread(st.tid);
  if (st.exited() || st.signaled()) {
    t.state = Thread::State::kDead;
    if (st.tid == inferior_.leader()) end_status_ = st;
    return;
  }
  if (dying_) {
    t.task.resume(Resume::kContinue, 0);
    return;
  }
  if (t.state == Thread::State::kStarting) {
    // A new thread's first stop (PTRACE_EVENT_STOP): it waits to be picked.
    t.state = Thread::State::kStopped;
    return;
  }
  if (st.syscall_stop() && t.state == Thread::State::kInKernel) {
    // A blocking syscall came back.
    Registers regs = t.task.regs();
    on_syscall_exit(t, regs);
    t.state = Thread::State::kStopped;
    return;
  }
  if (st.ptrace_event() == PTRACE_EVENT_EXIT) {
    // Killed while we were not looking: the whole group is going down.
    dying_ = true;
    t.task.resume(Resume::kContinue, 0);
    return;
  }
  if (st.stopped()) {
    // A signal interrupting a blocked thread: hold it, let it go on.
    int sig = st.ptrace_event() ? 0 : st.stop_signal();
    if (sig) t.held_signals.push_back(sig);
    t.task.resume(Resume::kSyscall, 0);
  }
}

void Session::record_stop(Thread& t, StopKind kind, const Registers& regs, int64_t value,
                          int64_t result, std::vector<trace::MemWrite> writes) {
  drain(t);
  trace::Stop s;
  s.tid = t.vtid;
  s.kind = kind;
  s.resumed = resumptions_[t.task.tid()];
  s.ticks = t.ticks;
  s.regs = regs;
  s.value = value;
  s.result = result;
  s.writes = std::move(writes);
  writer_.write(s);
  result_.stops++;
}

// The files the kernel mapped at exec (the program and its interpreter) are
// kept too, so that a trace can be replayed and symbolized where they are
// gone. tid 0 marks them as mapped by exec, not by a syscall.
void Session::keep_exec_mappings() {
  for (const ProcMapping& m : read_proc_maps(inferior_.leader())) {
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
  ThreadBlockView view(mem_, *t.block);
  t.ticks = view.ticks();
  uint64_t head = view.ring_head();
  trace::MapEvents batch{view.events_since(t.ring_drained, head)};
  t.ring_drained = head;
  if (batch.events.empty()) return;
  writer_.write(batch);
  result_.map_events += batch.events.size();
  for (const abi::MapEvent& e : batch.events) {
    if (e.kind == static_cast<uint8_t>(abi::MapEventKind::kFatal)) {
      result_.fatal_message = abi::fatal_message(static_cast<abi::FatalKind>(e.arg0));
      fatal_tid_ = static_cast<int32_t>(e.tid);  // gettid() in the program: a vtid
    }
  }
}

void Session::on_syscall_entry(Thread& t, Registers& regs) {
  t.in_syscall = true;
  t.call.nr = static_cast<long>(regs.orig_rax);
  for (int i = 0; i < 6; ++i) t.call.arg[i] = syscall_arg(regs, i);
  t.forced_result.reset();
  t.mapped_path.clear();
  record_stop(t, StopKind::kSyscallEntry, regs, t.call.nr);

  const long nr = t.call.nr;
  if (nr != abi::kRegisterSyscall && !sys::outputs_known(t.call) && warned_.insert(nr).second) {
    fmt::print(stderr, "backstep: warning: syscall {} ({}): what it writes into memory is not "
                       "recorded; replay may diverge after it\n",
               sys::syscall_name(nr), nr);
  }
  if (nr == abi::kRegisterSyscall) {
    // The runtime announces its ThreadBlock (see runtime/abi.h).
    t.block = t.call.arg[0];
    ThreadBlockView view(mem_, *t.block);
    t.ring_drained = view.ring_head();
    t.ring_capacity = std::max<uint32_t>(1, view.ring_capacity());
    t.tick_limit = 0;
    t.event_limit = 0;
    t.forced_result = 0;
  } else if (nr == SYS_rseq) {
    // Restartable sequences let the kernel move the program counter on
    // preemption, which replay could not reproduce: refuse them.
    t.forced_result = -ENOSYS;
  } else if (nr == SYS_mmap && !(t.call.arg[3] & MAP_ANONYMOUS)) {
    char link[PATH_MAX];
    std::string fd_path = fmt::format("/proc/{}/fd/{}", t.task.tid(),
                                      static_cast<int>(t.call.arg[4]));
    ssize_t n = ::readlink(fd_path.c_str(), link, sizeof link - 1);
    if (n > 0) t.mapped_path.assign(link, static_cast<size_t>(n));
  } else if (nr == SYS_getrandom && scheduler_.chaos()) {
    // Answered from the seed (written at the exit); the kernel skips it.
    t.forced_result = static_cast<int64_t>(t.call.arg[1]);
    t.seeded_random = true;
  } else if (nr == SYS_exit_group) {
    dying_ = true;
  } else if (nr == SYS_execve || nr == SYS_execveat) {
    throw Error("the program called execve: recording across exec is not supported yet");
  }
  if (t.forced_result) {
    regs.orig_rax = static_cast<uint64_t>(-1);  // the kernel skips it
    t.task.set_regs(regs);
  }
}

void Session::on_syscall_exit(Thread& t, Registers& regs) {
  t.in_syscall = false;
  int64_t result = static_cast<int64_t>(regs.rax);
  if (t.forced_result) {
    result = *t.forced_result;
    regs.rax = static_cast<uint64_t>(result);
    t.task.set_regs(regs);
  }
  if (std::exchange(t.seeded_random, false) && result > 0) {
    auto bytes = seeded_bytes(static_cast<size_t>(result));
    if (!mem_.write(t.call.arg[0], bytes.data(), bytes.size())) {
      result = -EFAULT;
      regs.rax = static_cast<uint64_t>(result);
      t.task.set_regs(regs);
    }
  }
  std::vector<trace::MemWrite> writes;
  auto reader = [this](uint64_t addr, void* out, size_t len) { return mem_.read(addr, out, len); };
  for (const sys::MemRegion& r : sys::syscall_outputs(t.call, result, reader)) {
    if (r.len == 0) continue;
    trace::MemWrite w;
    w.addr = r.addr;
    w.data.resize(r.len);
    if (!mem_.read(r.addr, w.data.data(), r.len)) continue;
    writes.push_back(std::move(w));
  }
  if (t.call.nr == SYS_mmap && result >= 0 && !t.mapped_path.empty()) {
    trace::FileMap f;
    f.tid = t.vtid;
    f.addr = static_cast<uint64_t>(result);
    f.length = t.call.arg[1];
    f.prot = static_cast<int32_t>(t.call.arg[2]);
    f.flags = static_cast<int32_t>(t.call.arg[3]);
    f.offset = t.call.arg[5];
    f.path = t.mapped_path;
    struct stat st {};
    if (::stat(f.path.c_str(), &st) == 0) f.file_size = static_cast<uint64_t>(st.st_size);
    f.content = writer_.keep_file(f.path);
    writer_.write(f);
  }
  record_stop(t, StopKind::kSyscallExit, regs, t.call.nr, result, std::move(writes));

  if (t.call.nr == SYS_mmap && result >= 0 && !t.mapped_path.empty() &&
      (t.call.arg[2] & PROT_EXEC)) {
    write_patch(patcher_.patch_mapping(mem_, t.mapped_path, t.call.arg[5], t.call.arg[1],
                                       static_cast<uint64_t>(result)));
  }
}

void Session::on_stop(Thread& t, const WaitStatus& st) {
  Registers regs = t.task.regs();
  if (st.syscall_stop()) {
    if (!t.in_syscall) {
      on_syscall_entry(t, regs);
      const sys::SyscallArgs& call = t.call;
      sys::FdKind fd_kind = sys::FdKind::kUnknown;
      if (sys::takes_blocking_fd(call.nr)) {
        struct stat fst {};
        std::string fd_path =
            fmt::format("/proc/{}/fd/{}", t.task.tid(), static_cast<int>(call.arg[0]));
        if (::stat(fd_path.c_str(), &fst) == 0) {
          fd_kind = S_ISREG(fst.st_mode) ? sys::FdKind::kRegularFile : sys::FdKind::kOther;
        }
      }
      // Opening a FIFO can wait for its other end, but treating every open
      // as a switch point would scatter switches through start-up.
      // clone returns at once, and its PTRACE_EVENT_CLONE stop must be
      // recorded in order, so it is never treated as blocking.
      bool blocks = call.nr != SYS_open && call.nr != SYS_openat && call.nr != SYS_clone &&
                    call.nr != SYS_clone3 && sys::may_block(call, fd_kind);
      if (blocks && call.nr == SYS_futex) {
        // FUTEX_WAIT returns at once when the word already differs.
        int op = static_cast<int>(call.arg[1]) & FUTEX_CMD_MASK;
        if (op == FUTEX_WAIT || op == FUTEX_WAIT_BITSET) {
          uint32_t word = 0;
          if (mem_.read(call.arg[0], &word, 4) && word != static_cast<uint32_t>(call.arg[2])) {
            blocks = false;
          }
        }
      }
      if (blocks && !dying_) {
        resume(t, Resume::kSyscall);
        t.state = Thread::State::kInKernel;
        switch_from(t, SwitchReason::kBlocked);
      }
      return;
    }
    on_syscall_exit(t, regs);
    if (!t.held_signals.empty()) {
      // A syscall exit is a point replay finds again: resuming from it with
      // a signal queues the signal, which then stops the thread once more
      // (recorded as its delivery) before any user code runs.
      t.deliver_signal = t.injected_signal = t.held_signals.front();
      t.held_signals.erase(t.held_signals.begin());
    }
    if (t.call.nr == SYS_sched_yield) {
      switch_from(t, SwitchReason::kYield);
    } else if (scheduler_.should_switch(SwitchReason::kChaos)) {
      switch_from(t, SwitchReason::kChaos);
    }
    return;
  }
  switch (st.ptrace_event()) {
    case PTRACE_EVENT_CLONE: {
      Thread& child = thread(static_cast<pid_t>(t.task.event_message()));
      record_stop(t, StopKind::kClone, regs, child.vtid);

      return;
    }
    case PTRACE_EVENT_EXIT: {
      auto status = static_cast<int64_t>(t.task.event_message());
      record_stop(t, StopKind::kExit, regs, status);
      t.state = Thread::State::kDead;
      t.task.resume(Resume::kContinue, 0);
      if (t.task.tid() != inferior_.leader()) {
        // Reap it now: the kernel clears its tid word (what pthread_join
        // waits for) on the way out, and replay must see the same memory.
        for (;;) {
          auto w = wait_for(t.task.tid());
          if (!w || w->exited() || w->signaled()) break;
          t.task.resume(Resume::kContinue, 0);
        }
      }
      scheduler_.remove_thread(t.task.tid());
      switch_from(t, SwitchReason::kExited);
      return;
    }
    case PTRACE_EVENT_STOP:
      return;  // a group stop: nothing to record
    case PTRACE_EVENT_EXEC:
      throw Error("the program called execve: recording across exec is not supported yet");
    default:
      break;
  }
  int sig = st.stop_signal();
  if (sig == SIGTRAP) {
    if (const PatchSite* site = patcher_.site_at(regs.rip - 1)) {
      uint64_t tsc = read_tsc();
      regs.rip = site->addr;
      record_stop(t, StopKind::kRdtsc, regs, static_cast<int64_t>(tsc));
      regs.rax = tsc & 0xffffffffu;
      regs.rdx = tsc >> 32;
      if (site->length == 3) regs.rcx = 0;
      regs.rip = site->addr + site->length;
      t.task.set_regs(regs);
      return;
    }
  }
  if (sig == SIGTRAP && t.block) {
    ThreadBlockView view(mem_, *t.block);
    abi::TrapReason reason = view.trap_reason();
    if (reason != abi::TrapReason::kNone) {
      view.clear_trap_reason();
      record_stop(t, StopKind::kTrap, regs, static_cast<int64_t>(reason));
      if (!t.held_signals.empty()) {
        // A scheduling point replay finds again: deliver one held signal.
        t.deliver_signal = t.held_signals.front();
        t.held_signals.erase(t.held_signals.begin());
      }
      if (reason == abi::TrapReason::kTickLimit) {
        switch_from(t, SwitchReason::kTimeslice);
      } else if (reason == abi::TrapReason::kMapEvent &&
                 scheduler_.should_switch(SwitchReason::kMapEvent)) {
        switch_from(t, SwitchReason::kMapEvent);
      }
      return;
    }
  }
  if (sig == SIGSEGV) {
    uint8_t insn[3] = {};
    mem_.read(regs.rip, insn, 3);
    bool rdtsc = insn[0] == 0x0f && insn[1] == 0x31;
    bool rdtscp = insn[0] == 0x0f && insn[1] == 0x01 && insn[2] == 0xf9;
    if (rdtsc || rdtscp) {
      uint64_t tsc = read_tsc();
      record_stop(t, StopKind::kRdtsc, regs, static_cast<int64_t>(tsc));
      regs.rax = tsc & 0xffffffffu;
      regs.rdx = tsc >> 32;
      if (rdtscp) regs.rcx = 0;
      regs.rip += rdtsc ? 2 : 3;
      t.task.set_regs(regs);
      return;
    }
  }
  siginfo_t si = t.task.siginfo();
  record_stop(t, StopKind::kSignal, regs, sig, si.si_code);
  t.deliver_signal = sig;
  if (default_action_kills(sig) && !catches_signal(t.task.tid(), sig)) dying_ = true;
}

void Session::switch_from(Thread& t, SwitchReason reason) {
  if (!scheduler_.should_switch(reason)) return;
  std::vector<pid_t> ready = runnable();
  if (ready.empty()) return;
  pid_t next = scheduler_.pick(ready, t.task.tid());
  if (next == t.task.tid()) return;
  Thread& n = threads_.at(next);
  writer_.write(trace::Switch{t.vtid, n.vtid, reason, t.ticks});
  if (n.block) n.tick_limit = n.ticks + scheduler_.next_timeslice();
  current_ = next;
}

// Lets the group finish dying after exit_group or a fatal signal; nothing
// after that is scheduled, so nothing is recorded.
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
  while (!end_status_) {
    check_interrupt();
    if (dying_) {
      die_out();
      break;
    }
    Thread* t = nullptr;
    if (auto it = threads_.find(current_);
        it != threads_.end() && it->second.state == Thread::State::kStopped) {
      t = &it->second;
    } else {
      std::vector<pid_t> ready = runnable();
      if (ready.empty()) {
        // Everyone is blocked in the kernel (or starting): wait for one.
        bool any_alive = false;
        for (auto& [tid, th] : threads_) any_alive |= th.state != Thread::State::kDead;
        if (!any_alive) break;
        auto st = wait_for(-1);
        if (!st) break;
        if (st->tid != inferior_.holder()) note_other(*st);
        continue;
      }
      pid_t next = scheduler_.pick(ready, current_);
      auto from = threads_.find(current_);
      t = &threads_.at(next);
      writer_.write(trace::Switch{from == threads_.end() ? 0 : from->second.vtid, t->vtid,
                                  SwitchReason::kBlocked, 0});
      current_ = next;
    }
    resume(*t, Resume::kSyscall);
    if (t->state == Thread::State::kDead) continue;
    WaitStatus st = wait_for_thread(t->task.tid());
    if (st.exited() || st.signaled()) {
      t->state = Thread::State::kDead;
      if (st.tid == inferior_.leader()) end_status_ = st;
      continue;
    }
    if (dying_) {
      t->task.resume(Resume::kContinue, 0);
      continue;
    }
    on_stop(*t, st);
  }
}

}  // namespace

RecordResult record(const RecordOptions& options) {
  Session session(options);
  return session.run();
}

}  // namespace backstep::recorder
