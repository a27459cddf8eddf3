#include "recorder/recorder.h"

#include <fmt/core.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "base/errors.h"
#include "base/interrupt.h"
#include "ptrace/cpu_binding.h"
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

// How a thread blocked in the kernel comes back, which decides when the
// scheduler may see it again (see "Blocked threads" in docs/ARCHITECTURE.md).
enum class Wait {
  kNone,
  kFutex,    // FUTEX_WAIT* without a timeout: due when a recorded wake names it
  kTimed,    // a sleep or a wait with a timeout: due after kTimedWaitDecisions decisions
  kUntimed,  // anything else (pipes, sockets, wait4): seen when nothing else can run
};

// Scheduling decisions a timed wait stays invisible to the scheduler: long
// enough for short sleeps to have elapsed, short enough not to starve.
constexpr uint64_t kTimedWaitDecisions = 64;
// Every this many decisions, untimed waits that have already come back are
// let in even though other threads can run: a liveness fallback, the only
// place where wall-clock order decides while threads are runnable.
constexpr uint64_t kUntimedPollDecisions = 256;
// How long the recorder waits for a thread that must come back (a woken
// futex waiter, a new thread's first stop) before it gives up on the
// accounting and goes on without it, rather than hang.
constexpr std::chrono::seconds kDueBound{10};
// How long a timed wait that is due is waited for (it may sleep for long).
constexpr std::chrono::seconds kTimedBound{1};
// How long a thread let into a blocking syscall gets to fall asleep.
constexpr std::chrono::seconds kSettleBound{5};
// How long the running thread may go without a stop while other threads
// wait before the recorder says why nothing moves (see SpinWatch).
constexpr std::chrono::seconds kSpinWarning{5};

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
  bool cloned = false;                   // this clone call made a traced thread
  std::optional<uint64_t> block;         // ThreadBlock address
  uint64_t ticks = 0;
  uint64_t tick_limit = 0;
  uint64_t ring_drained = 0;  // events consumed: the ring head at the last stop
  uint64_t event_limit = 0;
  uint64_t ring_capacity = abi::kRingCapacity;
  int deliver_signal = 0;   // delivered on the next resume
  int injected_signal = 0;  // resumed from a syscall exit with it: its stop is ours
  // Asynchronous, held for a scheduling point, with the siginfo the kernel
  // queued (the stop of the signal sent again carries the recorder's own).
  std::vector<siginfo_t> held_signals;
  std::optional<siginfo_t> injected_info;
  bool from_outside = false;  // the signal stop at hand: one of those (its siginfo is kept)
  // The registers of its last recorded stop when that was a syscall exit:
  // a signal stop with these registers comes before any user code ran.
  std::optional<Registers> exit_regs;
  // While blocked in the kernel (kInKernel) or starting: the stop that
  // brought it back, kept until a deterministic point admits it.
  std::optional<WaitStatus> arrival;
  Wait wait = Wait::kNone;
  uint64_t blocked_at = 0;  // Session::decisions_ when it blocked
  bool due = false;         // queued in Session::due_
  uint64_t clear_tid = 0;   // CLONE_CHILD_CLEARTID / set_tid_address: woken at exit
  // --bind-cpu: the thread runs bound to the recorder's CPU; around its own
  // affinity calls, which thread to bind again or to leave to the program.
  bool bound = false;
  pid_t affinity_rebind = 0;
  pid_t affinity_set = 0;
};

// Backs off while polling for a stop that is about to come: yield first
// (the tracee may share our core), then sleep a little longer each time.
void back_off(int round) {
  if (round < 64) {
    std::this_thread::yield();
  } else {
    std::this_thread::sleep_for(
        std::chrono::microseconds(std::min(1000, 10 << std::min(round - 64, 7))));
  }
}

// Whether `tid` sleeps in the kernel (state S): a futex waiter in that state
// holds or has passed the futex bucket lock, so a later wake finds it queued.
bool asleep_in_kernel(pid_t tgid, pid_t tid) {
  std::ifstream in(fmt::format("/proc/{}/task/{}/stat", tgid, tid));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'S';
}

bool same_regs(const Registers& a, const Registers& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// How a blocking syscall comes back (see Wait).
Wait classify_wait(const sys::SyscallArgs& call) {
  const uint64_t* a = call.arg;
  switch (call.nr) {
    case SYS_futex:
      switch (a[1] & FUTEX_CMD_MASK) {
        case FUTEX_WAIT:
        case FUTEX_WAIT_BITSET:
          return a[3] ? Wait::kTimed : Wait::kFutex;
        default:
          return Wait::kUntimed;
      }
    case SYS_nanosleep:
    case SYS_clock_nanosleep:
      return Wait::kTimed;
    case SYS_poll:
      return static_cast<int>(a[2]) >= 0 ? Wait::kTimed : Wait::kUntimed;
    case SYS_epoll_wait:
    case SYS_epoll_pwait:
      return static_cast<int>(a[3]) >= 0 ? Wait::kTimed : Wait::kUntimed;
    case SYS_ppoll:
      return a[2] ? Wait::kTimed : Wait::kUntimed;
    case SYS_select:
    case SYS_pselect6:
      return a[4] ? Wait::kTimed : Wait::kUntimed;
    default:
      return Wait::kUntimed;
  }
}

// Says, once, that the running thread has gone a long time without a stop
// while others wait. Threads of an uninstrumented program switch only at
// syscalls and signals, so one that spins waiting for another thread
// (`while (!ready) {}`) never gives the others a turn and the recording
// hangs; without this the user sees nothing at all. Runs on a thread of
// its own because the recorder is blocked in waitpid meanwhile.
class SpinWatch {
 public:
  SpinWatch()
      : thread_([this](std::stop_token stop) {
          uint64_t seen = 0;
          auto since = std::chrono::steady_clock::now();
          std::mutex mutex;
          std::condition_variable_any wake;
          std::unique_lock lock(mutex);
          // Woken at once by the stop request: the recording's end waits
          // for no sleep to finish.
          for (;;) {
            wake.wait_for(lock, stop, std::chrono::milliseconds(100), [] { return false; });
            if (stop.stop_requested()) return;
            uint64_t now_seen = stops_.load(std::memory_order_relaxed);
            auto now = std::chrono::steady_clock::now();
            if (now_seen != seen || waiting_ == 0) {
              seen = now_seen;
              since = now;
              continue;
            }
            if (now - since < kSpinWarning) continue;
            fmt::print(stderr,
                       "backstep: warning: thread {} has run {} s without a syscall while {} "
                       "other thread(s) wait; threads of a program built without "
                       "backstep_instrument switch only at syscalls and signals, so a thread "
                       "that spins waiting for another is never preempted (see README, \"What "
                       "the instrumentation adds\"). Ctrl-C ends the recording and keeps the "
                       "trace.\n",
                       running_.load(), kSpinWarning.count(), waiting_.load());
            return;
          }
        }) {}
  // Around the wait for the running thread's next stop.
  void running(int32_t vtid, int others) {
    running_ = vtid;
    waiting_ = others;
  }
  void stopped() {
    waiting_ = 0;
    stops_.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  std::atomic<uint64_t> stops_{0};
  std::atomic<int32_t> running_{0};
  std::atomic<int> waiting_{0};
  std::jthread thread_;  // last: stopped and joined before the counters go
};

class Session {
 public:
  explicit Session(const RecordOptions& options)
      : options_(options),
        scheduler_(options.scheduler),
        binding_(CpuBinding::choose(options.bind_cpu, options.cpu_unbound)),
        writer_(options.trace_dir, binding_ ? binding_->other_cpus() : std::vector<int>{}),
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
                   int64_t result = 0, std::vector<trace::MemWrite> writes = {},
                   std::vector<std::byte> siginfo = {});
  void drain(Thread& t);
  void switch_from(Thread& t, SwitchReason reason);
  void finish(const WaitStatus& last);
  void die_out();
  std::vector<pid_t> runnable() const;

  // Blocked threads (see "Blocked threads" in docs/ARCHITECTURE.md).
  void settle(Thread& t);
  bool await_arrival(Thread& t, std::chrono::milliseconds bound);
  void make_due(Thread& t);
  void admit(Thread& t);
  void admit_due();
  bool admit_any_arrived();
  void note_futex_wake(const sys::SyscallArgs& call, int64_t result);
  int64_t wake_waiters(uint64_t addr, int64_t n, uint32_t bitset);
  void requeue_waiters(uint64_t from, uint64_t to, int64_t n);
  void forget_waiter(pid_t tid);
  void note_clone(Thread& parent, Thread& child);
  void note_affinity_call(Thread& t);
  void after_affinity_call(Thread& t, int64_t result);
  void warn_once(const std::string& what);

  RecordOptions options_;
  Scheduler scheduler_;
  std::optional<CpuBinding> binding_;
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
  // What the next drain reads into: a buffer the writer is done with when it
  // has one (a ring's worth is 1 MiB; fresh memory costs a fault per page).
  trace::MapEventBuffer ring_events_;
  std::set<long> warned_;
  std::set<std::string> warned_text_;
  SpinWatch spin_watch_;
  // Futex waiters per address, in the order they blocked: the kernel queues
  // waiters of equal priority FIFO, and only one thread runs at a time, so
  // this order is the kernel's.
  struct FutexWaiter {
    pid_t tid;
    uint32_t bitset;
  };
  std::map<uint64_t, std::deque<FutexWaiter>> futex_waiters_;
  std::deque<pid_t> due_;   // must come back before the next decision, in this order
  uint64_t decisions_ = 0;  // scheduling decisions made: the recording's clock
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
  if (binding_) {
    binding_->pin_caller();
    t.bound = binding_->bind(leader);
  }
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
  h.scheduler = scheduler_.forced() ? "forced" : scheduler_.chaos() ? "chaos" : "fair";
  h.seed = options_.scheduler.seed;
  h.timeslice = options_.scheduler.timeslice;
  h.pid_namespace = inferior_.in_pid_namespace();
  h.start_unix_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
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
    if (const ForcedSwitch* f = scheduler_.next_forced(t.vtid); f && f->at_limit) {
      // Stop exactly where the forced switch was made.
      if (f->ticks > t.ticks) t.tick_limit = std::min(t.tick_limit, f->ticks);
      if (f->events > t.ring_drained) t.event_limit = std::min(t.event_limit, f->events);
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
        if (std::optional<siginfo_t> info = std::exchange(t.injected_info, std::nullopt);
            injected && info) {
          // The handler gets what the kernel queued, not the recorder's copy.
          t.task.set_siginfo(*info);
          t.from_outside = true;
        }
        Resumption& resumed = resumptions_[tid];
        if (!fault && !self_sent && !rdtsc_fault && !injected && sig != SIGSTOP &&
            resumed.signal == 0 && t.exit_regs && same_regs(*t.exit_regs, t.task.regs())) {
          // Dequeued on the way out of a syscall, before any user code ran:
          // typically the signal that interrupted it (pause, sigsuspend, a
          // wait returning -ERESTART*). That point is a syscall exit, which
          // replay finds again, so it is recorded as if the recorder had
          // sent the signal with this resumption (as held signals are).
          // Holding it instead would let the kernel restart the syscall and
          // sleep again for good, with the signal never delivered.
          resumed.signal = sig;
          t.from_outside = true;
          return *st;
        }
        if (!fault && !self_sent && !rdtsc_fault && !injected && sig != SIGSTOP) {
          t.held_signals.push_back(si);
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
  if (t.state == Thread::State::kStarting ||
      (st.syscall_stop() && t.state == Thread::State::kInKernel)) {
    // A new thread's first stop, or a blocking syscall came back. When that
    // happens depends on the wall clock, so it is only kept here; the
    // thread joins the runnable set at a deterministic point (admit_due).
    t.arrival = st;
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
    if (sig) t.held_signals.push_back(t.task.siginfo());
    t.task.resume(Resume::kSyscall, 0);
  }
}

void Session::record_stop(Thread& t, StopKind kind, const Registers& regs, int64_t value,
                          int64_t result, std::vector<trace::MemWrite> writes,
                          std::vector<std::byte> siginfo) {
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
  s.siginfo = std::move(siginfo);
  t.from_outside = false;
  writer_.write(s);
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

void Session::on_syscall_entry(Thread& t, Registers& regs) {
  t.in_syscall = true;
  t.call.nr = static_cast<long>(regs.orig_rax);
  for (int i = 0; i < 6; ++i) t.call.arg[i] = syscall_arg(regs, i);
  t.forced_result.reset();
  t.mapped_path.clear();
  t.cloned = false;
  record_stop(t, StopKind::kSyscallEntry, regs, t.call.nr);

  const long nr = t.call.nr;
  if (nr != abi::kRegisterSyscall && !sys::outputs_known(t.call) && warned_.insert(nr).second) {
    fmt::print(stderr,
               "backstep: warning: syscall {} ({}): what it writes into memory is not "
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
  if (binding_) after_affinity_call(t, result);
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
  if (t.call.nr == SYS_futex && result > 0) note_futex_wake(t.call, result);
  if (t.call.nr == SYS_set_tid_address) t.clear_tid = t.call.arg[0];
  bool clone_call = t.call.nr == SYS_clone || t.call.nr == SYS_clone3 || t.call.nr == SYS_fork ||
                    t.call.nr == SYS_vfork;
  if (clone_call && result > 0 && !t.cloned) {
    // A child process (fork, vfork, posix_spawn for system() or popen()):
    // not traced, so it runs natively and replay does not make it again.
    warn_once(
        "the program started a child process; it runs unrecorded, and replay reproduces "
        "only this process (what it saw of the child: pipes, wait status, SIGCHLD)");
  }

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
        t.wait = classify_wait(call);
        t.blocked_at = decisions_;
        settle(t);
        if (t.arrival) {
          // It came straight back (EAGAIN, a ready fd): deterministic, since
          // nothing else ran meanwhile. A timed wait keeps its rule, as
          // whether a short sleep ends before we look is not.
          if (t.wait != Wait::kTimed) make_due(t);
        } else if (call.nr == SYS_futex && (call.arg[1] & FUTEX_CMD_MASK) != FUTEX_LOCK_PI &&
                   t.wait != Wait::kUntimed) {
          int op = static_cast<int>(call.arg[1]) & FUTEX_CMD_MASK;
          uint32_t bitset =
              op == FUTEX_WAIT_BITSET ? static_cast<uint32_t>(call.arg[5]) : FUTEX_BITSET_MATCH_ANY;
          futex_waiters_[call.arg[0]].push_back({t.task.tid(), bitset});
        }
        switch_from(t, SwitchReason::kBlocked);
      }
      return;
    }
    on_syscall_exit(t, regs);
    if (!t.held_signals.empty()) {
      // A syscall exit is a point replay finds again: resuming from it with
      // a signal queues the signal, which then stops the thread once more
      // (recorded as its delivery) before any user code runs.
      t.deliver_signal = t.injected_signal = t.held_signals.front().si_signo;
      t.injected_info = t.held_signals.front();
      t.held_signals.erase(t.held_signals.begin());
    }
    if (t.call.nr == SYS_sched_yield) {
      switch_from(t, SwitchReason::kYield);
    } else if (scheduler_.forced() || scheduler_.should_switch(SwitchReason::kChaos)) {
      switch_from(t, SwitchReason::kChaos);
    }
    return;
  }
  switch (st.ptrace_event()) {
    case PTRACE_EVENT_CLONE: {
      Thread& child = thread(static_cast<pid_t>(t.task.event_message()));
      child.bound = t.bound;  // a new thread starts with its creator's affinity
      t.cloned = true;
      record_stop(t, StopKind::kClone, regs, child.vtid);
      note_clone(t, child);

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
        // On the way out the kernel cleared the clear-tid word and woke one
        // waiter on it (pthread_join): it is due like any woken waiter.
        if (t.clear_tid) wake_waiters(t.clear_tid, 1, FUTEX_BITSET_MATCH_ANY);
      }
      forget_waiter(t.task.tid());
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
        t.deliver_signal = t.held_signals.front().si_signo;
        t.held_signals.erase(t.held_signals.begin());
      }
      if (reason == abi::TrapReason::kTickLimit) {
        switch_from(t, SwitchReason::kTimeslice);
      } else if (reason == abi::TrapReason::kMapEvent &&
                 (scheduler_.forced() || scheduler_.should_switch(SwitchReason::kMapEvent))) {
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
  std::vector<std::byte> info;
  if (std::exchange(t.from_outside, false)) {
    auto* bytes = reinterpret_cast<const std::byte*>(&si);
    info.assign(bytes, bytes + sizeof si);
  }
  record_stop(t, StopKind::kSignal, regs, sig, si.si_code, {}, std::move(info));
  t.deliver_signal = sig;
  if (default_action_kills(sig) && !catches_signal(t.task.tid(), sig)) dying_ = true;
}

void Session::switch_from(Thread& t, SwitchReason reason) {
  int32_t forced_to =
      scheduler_.forced() ? scheduler_.take_forced(t.vtid, t.ticks, t.ring_drained) : 0;
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
void Session::settle(Thread& t) {
  auto deadline = std::chrono::steady_clock::now() + kSettleBound;
  for (int round = 0; !t.arrival && t.state != Thread::State::kDead; ++round) {
    if (auto st = wait_for(t.task.tid(), /*nohang=*/true)) {
      note_other(*st);
      continue;
    }
    if (asleep_in_kernel(inferior_.leader(), t.task.tid())) return;
    if (std::chrono::steady_clock::now() > deadline) {
      warn_once("a thread entering a blocking syscall neither slept nor came back in time");
      return;
    }
    back_off(round);
  }
}

// Waits (bounded) for the stop that brings `t` back.
bool Session::await_arrival(Thread& t, std::chrono::milliseconds bound) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  for (int round = 0; !t.arrival && t.state != Thread::State::kDead; ++round) {
    check_interrupt();
    if (auto st = wait_for(t.task.tid(), /*nohang=*/true)) {
      note_other(*st);
      continue;
    }
    if (std::chrono::steady_clock::now() > deadline) return false;
    back_off(round);
  }
  return t.arrival.has_value();
}

void Session::make_due(Thread& t) {
  if (t.due || t.state == Thread::State::kDead) return;
  t.due = true;
  due_.push_back(t.task.tid());
}

// Brings a thread whose stop has arrived into the runnable set: a blocking
// syscall's exit is recorded here, at a point the schedule decides.
void Session::admit(Thread& t) {
  std::optional<WaitStatus> st = std::exchange(t.arrival, std::nullopt);
  forget_waiter(t.task.tid());
  t.wait = Wait::kNone;
  if (t.due) {
    t.due = false;
    std::erase(due_, t.task.tid());
  }
  if (!st || t.state == Thread::State::kDead) return;
  if (t.state == Thread::State::kInKernel) {
    Registers regs = t.task.regs();
    on_syscall_exit(t, regs);
  }
  t.state = Thread::State::kStopped;
}

// Before each scheduling decision: every thread known to be coming back
// (woken futex waiters, new threads, timed waits whose turn came) joins the
// runnable set, waited for if need be, so the set is a function of the run.
void Session::admit_due() {
  for (auto& [tid, t] : threads_) {
    if (t.state == Thread::State::kInKernel && t.wait == Wait::kTimed &&
        decisions_ - t.blocked_at >= kTimedWaitDecisions) {
      make_due(t);
    }
  }
  while (!due_.empty()) {
    Thread& t = threads_.at(due_.front());
    auto bound = t.wait == Wait::kTimed ? std::chrono::milliseconds(kTimedBound)
                                        : std::chrono::milliseconds(kDueBound);
    if (t.state != Thread::State::kDead && !t.arrival && !await_arrival(t, bound)) {
      // Not back: a long sleep, or the wake accounting was wrong. Go on
      // without it rather than hang; it is seen later by the other rules.
      due_.pop_front();
      t.due = false;
      t.blocked_at = decisions_;
      if (t.wait != Wait::kTimed) {
        warn_once("a woken thread did not come back in time; this schedule may not repeat");
      }
      continue;
    }
    admit(t);
  }
  if (decisions_ > 0 && decisions_ % kUntimedPollDecisions == 0) {
    bool untimed = false;
    for (auto& [tid, t] : threads_) {
      untimed |= t.state == Thread::State::kInKernel && t.wait == Wait::kUntimed;
    }
    if (untimed) {
      while (auto st = wait_for(-1, /*nohang=*/true)) {
        if (st->tid != inferior_.holder()) note_other(*st);
      }
      for (auto& [tid, t] : threads_) {
        if (t.arrival && t.wait == Wait::kUntimed) admit(t);
      }
    }
  }
}

// Nothing can run: admits one thread whose stop already came, if any.
bool Session::admit_any_arrived() {
  for (auto& [tid, t] : threads_) {
    if (t.arrival && t.state != Thread::State::kDead) {
      admit(t);
      return true;
    }
  }
  return false;
}

// A futex call that returned n > 0 woke (or requeued) n waiters: the first
// ones queued on its address(es), as the kernel does.
void Session::note_futex_wake(const sys::SyscallArgs& call, int64_t result) {
  const uint64_t* a = call.arg;
  switch (static_cast<int>(a[1]) & FUTEX_CMD_MASK) {
    case FUTEX_WAKE:
      wake_waiters(a[0], result, FUTEX_BITSET_MATCH_ANY);
      break;
    case FUTEX_WAKE_BITSET:
      wake_waiters(a[0], result, static_cast<uint32_t>(a[5]));
      break;
    case FUTEX_WAKE_OP: {
      // Up to val on uaddr first, the rest on uaddr2.
      int64_t first = wake_waiters(a[0], std::min<int64_t>(result, static_cast<int32_t>(a[2])),
                                   FUTEX_BITSET_MATCH_ANY);
      wake_waiters(a[4], result - first, FUTEX_BITSET_MATCH_ANY);
      break;
    }
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
      // Up to val woken, the rest moved to uaddr2's queue.
      int64_t woken = wake_waiters(a[0], std::min<int64_t>(result, static_cast<int32_t>(a[2])),
                                   FUTEX_BITSET_MATCH_ANY);
      requeue_waiters(a[0], a[4], result - woken);
      break;
    }
    default:
      break;
  }
}

int64_t Session::wake_waiters(uint64_t addr, int64_t n, uint32_t bitset) {
  auto it = futex_waiters_.find(addr);
  if (it == futex_waiters_.end()) return 0;
  int64_t woken = 0;
  auto& queue = it->second;
  for (auto w = queue.begin(); w != queue.end() && woken < n;) {
    if ((w->bitset & bitset) == 0) {
      ++w;
      continue;
    }
    auto t = threads_.find(w->tid);
    if (t != threads_.end()) make_due(t->second);
    w = queue.erase(w);
    ++woken;
  }
  if (queue.empty()) futex_waiters_.erase(it);
  return woken;
}

void Session::requeue_waiters(uint64_t from, uint64_t to, int64_t n) {
  auto it = futex_waiters_.find(from);
  if (it == futex_waiters_.end() || n <= 0) return;
  auto& queue = it->second;
  auto& target = futex_waiters_[to];
  for (; n > 0 && !queue.empty(); --n) {
    target.push_back(queue.front());
    queue.pop_front();
  }
  if (queue.empty()) futex_waiters_.erase(from);
  if (target.empty()) futex_waiters_.erase(to);
}

void Session::forget_waiter(pid_t tid) {
  for (auto it = futex_waiters_.begin(); it != futex_waiters_.end();) {
    std::erase_if(it->second, [tid](const FutexWaiter& w) { return w.tid == tid; });
    it = it->second.empty() ? futex_waiters_.erase(it) : std::next(it);
  }
}

// A new thread: its first stop must be in before the next decision, and its
// clear-tid word (the kernel's wake at its exit) is remembered.
void Session::note_clone(Thread& parent, Thread& child) {
  const sys::SyscallArgs& call = parent.call;
  uint64_t flags = 0;
  uint64_t child_tid = 0;
  if (call.nr == SYS_clone) {
    flags = call.arg[0];
    child_tid = call.arg[3];  // x86-64: clone(flags, stack, ptid, ctid, tls)
  } else if (call.nr == SYS_clone3) {
    uint64_t args[3] = {};  // struct clone_args: flags, pidfd, child_tid
    if (call.arg[1] >= sizeof args && mem_.read(call.arg[0], args, sizeof args)) {
      flags = args[0];
      child_tid = args[2];
    }
  }
  if (flags & CLONE_CHILD_CLEARTID) child.clear_tid = child_tid;
  if (child.state == Thread::State::kStarting) make_due(child);
}

// --bind-cpu is the recorder's business: the program's view of its affinity
// stays the mask it started with (ptrace/cpu_binding.h). A query about a
// bound thread runs with the binding lifted; a thread whose affinity the
// program sets keeps what it set.
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

void Session::warn_once(const std::string& what) {
  if (warned_text_.insert(what).second) fmt::print(stderr, "backstep: warning: {}\n", what);
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
      admit_due();
      std::vector<pid_t> ready = runnable();
      if (ready.empty()) {
        // Everyone is blocked in the kernel (or starting): the first to
        // come back runs. Which one that is can depend on the wall clock
        // when several could (two sleepers, a pipe fed from outside).
        bool any_alive = false;
        for (auto& [tid, th] : threads_) any_alive |= th.state != Thread::State::kDead;
        if (!any_alive) break;
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
    resume(*t, Resume::kSyscall);
    if (t->state == Thread::State::kDead) continue;
    int others = 0;
    for (const auto& [tid, th] : threads_) {
      others += th.state != Thread::State::kDead && &th != t;
    }
    spin_watch_.running(t->vtid, others);
    WaitStatus st = wait_for_thread(t->task.tid());
    spin_watch_.stopped();
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
