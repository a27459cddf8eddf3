// The replay engine: re-executes a recording record by record, and moves
// one thread instruction by instruction inside it.
//
// A *position* names a moment of the replay exactly and stably:
//   records [0, record) have been played; then thread `tid` ran to its
//   canonical point of tick `ticks` (where the tick counter, having counted
//   `ticks`, hands control back to program code), or stayed where its last
//   stop left it when `ticks` is its tick count there; then it executed
//   `steps` more instructions.
// Every moment a user can see is reachable that way, forward, from the
// start; time travel (replayer/time_travel.h) is built on it.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/scratch_dir.h"
#include "ptrace/inferior.h"
#include "ptrace/rdtsc_patcher.h"
#include "ptrace/syscall_injection.h"
#include "ptrace/task.h"
#include "replayer/backing_files.h"
#include "replayer/replay_session.h"
#include "replayer/terminal_fds.h"
#include "trace/trace_reader.h"

namespace backstep::replayer {

struct ReplayPosition {
  uint64_t record = 0;
  int32_t tid = 0;
  uint64_t ticks = 0;
  uint64_t steps = 0;
  auto operator<=>(const ReplayPosition&) const = default;
  // "record:tid:ticks:steps", which parse() reads back.
  std::string str() const;
  static std::optional<ReplayPosition> parse(std::string_view text);
};

class ReplayEngine {
 public:
  explicit ReplayEngine(const trace::Trace& trace, bool echo_output = false);
  ReplayEngine(const ReplayEngine&) = delete;
  ReplayEngine& operator=(const ReplayEngine&) = delete;
  ~ReplayEngine();

  const trace::Trace& trace() const { return trace_; }
  // Records [0, next_record()) have been played.
  size_t next_record() const { return next_; }
  // The End record has been played (or the trace has no more records).
  bool finished() const { return next_ >= trace_.events().size(); }
  // Plays one record; false when none is left.
  bool play_record();
  // Plays records until next_record() == record.
  void play_until(size_t record);
  // The thread of the first Stop record at or after next_record(): the
  // thread that runs next. 0 when there is none.
  int32_t next_thread() const;
  // Index of the next Stop record of `vtid` at or after next_record().
  std::optional<size_t> next_stop_of_thread(int32_t vtid) const;

  // One instruction of `vtid`: plays other threads' records until it is that
  // thread's turn, then single-steps it; a syscall instruction is stepped
  // over whole (its recorded entry and exit). False at the end.
  bool step(int32_t vtid);
  // Runs `vtid` (whose turn it must be) to the canonical point of tick
  // `ticks` in its current run. False if its next stop comes first.
  bool run_to_tick(int32_t vtid, uint64_t ticks);
  // Runs `vtid` until it reaches `pc` (hardware breakpoint) within its
  // current run, `occurrence` times; false if its next stop comes first.
  ReplayPosition position(int32_t vtid) const;

  // Breakpoints planted while threads run toward their recorded stops (in
  // play_record and run_to_tick; step() never plants, its callers compare
  // pc). A hit reports the thread standing on the breakpoint's instruction,
  // not executed yet, with its ticks; `on_hit` may throw to abandon the run
  // (the engine is then unusable), else the thread steps over the
  // instruction and runs on, so that every hit of a run is reported.
  using BreakpointHit = std::function<void(int32_t vtid, uint64_t addr, uint64_t ticks)>;
  void set_breakpoints(std::vector<uint64_t> addrs, BreakpointHit on_hit);
  void clear_breakpoints() { set_breakpoints({}, nullptr); }
  // A software watchpoint on up to 8 bytes, checked by the runtime of
  // instrumented threads at every tick while they run toward their recorded
  // stops (abi::ThreadBlock::watch_*): `on_change` gets the thread and the
  // tick at which it saw the bytes differ from their value at the previous
  // tick (or at the start of the run). Uninstrumented code is not watched.
  struct ValueWatch {
    uint64_t addr = 0;
    uint32_t len = 0;
    bool operator==(const ValueWatch&) const = default;
  };
  using WatchTrap = std::function<void(int32_t vtid, uint64_t ticks)>;
  void set_value_watch(std::optional<ValueWatch> watch, WatchTrap on_change);
  void clear_value_watch() { set_value_watch(std::nullopt, nullptr); }

  // The thread whose run toward its recorded stop has begun and is not
  // over (at most one: threads run one at a time), or 0.
  int32_t running_thread() const;

  // Inspection.
  std::vector<int32_t> live_threads() const;
  bool has_thread(int32_t vtid) const;
  Registers registers(int32_t vtid) const;
  // The memory of the process thread `vtid` belongs to; without one, of
  // the first process (the program backstep started).
  const AddressSpace& memory() const { return root().mem; }
  const AddressSpace& memory(int32_t vtid) const;
  std::optional<uint64_t> ticks(int32_t vtid) const;
  // The address range of the tick counter's code in the executable.
  std::pair<uint64_t, uint64_t> tick_section() const { return root().tick_section; }
  // The tracer's tid for a vtid (for ptrace requests such as debug registers).
  pid_t kernel_tid(int32_t vtid) const;
  // The process (its pid as the program sees it) of thread `vtid`; 0 if unknown.
  int32_t process_id(int32_t vtid) const;
  const ReplayResult& result() const { return result_; }
  void set_echo(bool echo) { options_.echo_output = echo; }

  // The old linear replay (backstep replay with or without --until-*).
  ReplayResult run(const ReplayOptions& options);

  // ---- Checkpoints ----
  // Whether fork() can copy the replay as it stands: every live thread is
  // held where a copy of it can be made (at a syscall entry, or where
  // resuming it with no signal runs its code), the thread leading the
  // process is alive, and no memory is shared with other processes.
  bool can_fork() const;
  // A copy of the replay at this moment, independent of it from then on:
  // the program forked from inside (by an injected clone), every other
  // thread cloned into the copy and given its registers, FPU state, signal
  // mask, clear-tid address, robust list and signal stack, and this
  // engine's bookkeeping. This engine's threads are left as they were.
  // Null when can_fork() is false; throws Error if the copy fails.
  std::unique_ptr<ReplayEngine> fork();
  // Called after every record played (time travel decides there whether
  // to keep a checkpoint).
  void set_record_hook(std::function<void()> hook) { record_hook_ = std::move(hook); }

 private:
  // One replayed process: its memory and the rdtsc sites patched in it,
  // shared by its threads.
  struct Process {
    Process(pid_t leader, pid_t program_pid) : pid(leader), vpid(program_pid), mem(leader) {}
    pid_t pid;   // the leader's tid, as the tracer sees it
    pid_t vpid;  // as the program (and the trace) names it
    AddressSpace mem;
    RdtscPatcher patcher;
    // The address range of the tick counter's code in its executable.
    std::pair<uint64_t, uint64_t> tick_section{0, 0};
    bool dying = false;             // exit_group or a fatal signal on its way
    std::optional<WaitStatus> end;  // how its leader ended
    // Its descriptors that write to the program's stdout/stderr.
    TerminalFds terminal;
    std::set<int> signal_fds;  // its signalfds, by their recorded numbers
    // SysV shm attachments, replayed as mappings of backing files (shmat,
    // shmdt in replay_syscalls.cc): address -> length. None when a copy is
    // made (no copy is made while memory is shared).
    std::map<uint64_t, uint64_t> shm_attached;
  };
  struct Thread {
    Thread(pid_t tid, pid_t program_tid) : task(tid), vtid(program_tid) {}
    Task task;
    pid_t vtid;                  // as the program (and the trace) names it; 0 until known
    Process* process = nullptr;  // the process it belongs to
    bool started = false;        // its first stop was seen
    bool dead = false;
    bool in_syscall = false;
    bool emulated = false;  // the current syscall is answered from the trace
    long nr = 0;
    uint64_t args[6] = {};
    bool rewrote_args = false;                 // on_entry changed the arguments (mmap)
    const trace::FileMap* file_map = nullptr;  // mmap of a file being replayed
    std::optional<uint64_t> block;
    std::optional<uint64_t> syscallbuf;  // the syscall buffer's header (replay_syscall_buffer.cc)
    bool at_seccomp_stop = false;        // its last stop was a PTRACE_EVENT_SECCOMP (an entry)
    // An execve/execveat run in place of the file the program named (which
    // is gone or changed here): the trace's copy, at a path of the same length.
    std::string exec_stand_in;
    // Inside the current run (between two recorded stops):
    bool run_started = false;         // limits written, resumption signal delivered
    uint64_t base_ticks = 0;          // the canonical tick counted from
    uint64_t steps = 0;               // instructions since then
    std::optional<ValueWatch> armed;  // the value watch its block holds
    // Where the kernel holds it; none at stops a copy cannot reproduce (the
    // exec stop, a clone's event stop).
    std::optional<HeldAt> held;
    // At a signal-delivery stop whose signal the next resumption may
    // deliver (a signal stop, a held signal in place of a trap's or an
    // interrupt's SIGTRAP): that signal's siginfo.
    std::optional<siginfo_t> in_place;
    // The same, when replay holds the thread at the exit of a syscall it
    // injected instead (a stub removed, a copy made): resumed with the
    // signal there, the kernel queues it and stops once more to deliver
    // it. That stop is not the recording's; the signal is passed on at it.
    std::optional<siginfo_t> requeued;
    // Kernel state of the thread that a copy must be given again.
    uint64_t clear_tid = 0;                               // set_tid_address, CLONE_CHILD_CLEARTID
    std::optional<std::pair<uint64_t, uint64_t>> robust;  // set_robust_list
    std::optional<stack_t> altstack;                      // sigaltstack
    pid_t clone_child = 0;                                // the task its clone made
    // A wait with a temporary signal mask that a signal ended (see
    // wait_with_mask): the signal to send with the resume from its entry,
    // then, once sent, the one the recorded resumption must not send again.
    int wake_signal = 0;
    int wake_pending = 0;
    // Or the signal the program sent itself that ends it, pending by then.
    int wake_expected = 0;
  };
  // What a clone or clone3 call asked for.
  struct CloneRequest {
    uint64_t flags = 0;
    uint64_t parent_tid = 0;
    uint64_t child_tid = 0;
  };

  // The copy made by fork(): the same trace, the forked process.
  ReplayEngine(const ReplayEngine& source, Inferior copy);
  Thread& adopt_thread(pid_t tid, const Thread& source);
  CloneRequest clone_request(const Thread& t) const;
  // In a copy, the kernel's thread ids differ from the recorded ones: the
  // program is shown the recorded ones (clone results and the ids they
  // write), and its signals to itself are sent to the copy's threads.
  void show_recorded_tid(Thread& t, const trace::Stop& s, Registers& regs);
  bool reaches_own_group(const Thread& t) const;
  void aim_self_signal(Thread& t, Registers& regs);

  // The thread with kernel id `tid`, made known on first sight.
  Thread& thread(pid_t tid);
  Thread* thread_by_vtid(pid_t vtid);
  const Thread* thread_by_vtid(pid_t vtid) const;
  void start();
  int begin_run(size_t index, Thread& t, const trace::Stop& s);
  void play_stop(size_t index, const trace::Stop& s);
  void complete_stop(size_t index, Thread& t, const trace::Stop& s, const WaitStatus& st);
  WaitStatus wait_for_thread(pid_t tid);
  // Waits for a new thread's first stop, unless it was seen already.
  void await_first_stop(Thread& t);
  void note_other(const WaitStatus& st);
  // Whether a task that reported belongs to the replayed program's tree.
  bool in_tree(pid_t tid) const;

  // ---- replay_processes.cc ----
  // At a fork, vfork or clone event stop: the new task, a thread or the
  // first thread of a new process.
  void on_new_task(size_t index, Thread& parent, const trace::Stop& s);
  // The exec stop (StopKind::kExec) of `t`: runs it there and takes the
  // new image in (the caller may come back under the leader's tid).
  void play_exec_stop(size_t index, Thread& t, const trace::Stop& s);
  // A mid-trace Exec record: the new image as the program must see it.
  void play_exec_image(size_t index, const trace::Exec& x);
  // At the entry of a recorded successful exec: the file to run.
  void prepare_exec(size_t index, Thread& t, Registers& regs, size_t exec_stop);
  // Every thread of a process that is ending is collected.
  void collect(Process& p);
  std::pair<uint64_t, uint64_t> tick_section_after(size_t exec_index, const std::string& exe) const;
  // A SIGCHLD the kernel sent a replayed parent because a replayed child
  // ended: the recorded one (if any) is delivered by the recorded
  // resumption, so this one is dropped unless the recorded stop is one.
  bool is_stray_sigchld(size_t index, Thread& t, const WaitStatus& st) const;
  void on_entry(size_t index, Thread& t, Registers& regs);
  void on_exit(size_t index, Thread& t, const trace::Stop& s, Registers& regs);
  void play_end(size_t index, const trace::End& e);
  void echo_output(Thread& t, int64_t result);
  void die_out(int signal_for_current, pid_t current);
  [[noreturn]] void diverge(size_t index, const std::string& what);
  // The first stop of thread `vtid` at or after record `from`; next_stop_of
  // only when it is of `kind`.
  std::optional<size_t> next_stop_index(size_t from, int32_t vtid) const;
  const trace::Stop* next_stop(size_t from, int32_t vtid) const;
  const trace::Stop* next_stop_of(size_t from, pid_t tid, trace::StopKind kind) const;
  int signal_ending_wait(size_t entry_index, pid_t tid) const;
  int pending_signal_ending_wait(size_t entry_index, pid_t tid) const;
  bool signal_pending_for(const Thread& t, int sig) const;
  // replay_signals.cc
  void take_consumed_signals(Thread& t, const trace::Stop& exit);
  void take_pending_signal(Thread& t, int sig);
  bool wait_with_mask(size_t index, Thread& t, Registers& regs);
  const trace::FileMap* file_map_before_exit(size_t from, pid_t tid) const;
  // replay_mappings.cc: maps f's backing file in place of the mmap that
  // thread t has entered (record `index`), which is then emulated.
  void map_backing_file(size_t index, Thread& t, const trace::FileMap& f);
  static bool in_tick_section(const Thread& t, uint64_t pc) {
    return pc >= t.process->tick_section.first && pc < t.process->tick_section.second;
  }
  Process& root() { return *processes_.at(inferior_.leader()); }
  const Process& root() const { return *processes_.at(inferior_.leader()); }
  Process& process(pid_t pid);
  pid_t process_of(pid_t tid) const;
  void after_step(Thread& t);
  // The first register that differs, as a divergence message ("" if none).
  static std::string regs_difference(const Registers& want, const Registers& got);
  // Resumes `t` as `how` and waits for its next stop, reporting and stepping
  // over planted breakpoints on the way.
  WaitStatus resume_run(size_t index, Thread& t, Resume how, int signal);
  bool is_breakpoint_hit(Thread& t, const WaitStatus& st) const;
  // Writes a run's limits into t's block, with `watch` armed (or none).
  void write_limits(Thread& t, uint64_t tick_limit, uint64_t event_limit,
                    const std::optional<ValueWatch>& watch);
  // Brings t's block to watch `want`, keeping its run's real limits: for a
  // run begun under another watch, and for single steps (never watched).
  void sync_watch(Thread& t, const std::optional<ValueWatch>& want);
  // ---- replay_syscall_buffer.cc ----
  const trace::SyscallBuffer* buffer_records_for(size_t index, int32_t vtid) const;
  void on_buffer_registration(Thread& t);
  // Before t's run toward stop `index`: the buffered calls recorded in it.
  void fill_syscall_buffer(size_t index, Thread& t);
  // At the stop: all of them made.
  void check_syscall_buffer_used(size_t index, Thread& t, const trace::Stop& s);
  [[noreturn]] void report_buffer_divergence(size_t index, Thread& t);
  void after_buffered_calls(Thread& t, const trace::SyscallBuffer& b);
  void play_code_write(size_t index, const trace::CodeWrite& c);
  // Plays other threads' records until the next Stop record is vtid's.
  bool play_until_turn_of(int32_t vtid);

  // ---- replay_preemption.cc: kInterrupt stops ----
  // Runs t (its run begun, `sig` to deliver) to the first moment of the run
  // with the recorded state of `s`; a divergence if it meets another stop
  // first or does not get there in time.
  void play_interrupt(size_t index, Thread& t, const trace::Stop& s, int sig);
  // Whether t stands at the instant `s` recorded (empty), else what differs.
  std::string interrupt_mismatch(Thread& t, const trace::Stop& s) const;
  bool at_interrupt(Thread& t, const trace::Stop& s) const {
    return interrupt_mismatch(t, s).empty();
  }
  // While play_interrupt runs the thread: resume_run plants an int3 at `pc`
  // too, returns at once when it is hit, and gives up at `deadline`.
  struct Seek {
    size_t index = 0;
    uint64_t pc = 0;
    std::chrono::steady_clock::time_point deadline;
    bool hit = false;
    bool plant = true;  // false while a ConditionalBreakpoint watches pc instead
  };
  WaitStatus wait_for_thread_until(size_t index, pid_t tid);

  const trace::Trace& trace_;
  ReplayOptions options_;
  Inferior inferior_;
  // Every process of the program, by the tracer's pid of its leader; kept
  // after they end (threads point at them).
  std::map<pid_t, std::unique_ptr<Process>> processes_;
  std::map<pid_t, Thread> threads_;  // by the tracer's tid
  std::map<pid_t, pid_t> by_vtid_;
  ReplayResult result_;
  std::optional<WaitStatus> end_status_;
  bool dying_ = false;
  size_t next_ = 2;  // Header and Exec are played by the constructor
  int pending_signal_ = 0;
  pid_t last_tid_ = 0;
  std::vector<uint64_t> breakpoints_;
  BreakpointHit on_breakpoint_;
  std::optional<Seek> seek_;
  std::optional<ValueWatch> watch_;
  WatchTrap on_watch_;
  bool is_copy_ = false;        // a fork()ed copy: kernel thread ids are not the recorded ones
  bool multi_process_ = false;  // the trace has more than one process: no copies
  std::vector<std::unique_ptr<ScratchDir>> stand_ins_;  // files run in place of execed ones
  std::function<void()> record_hook_;
  BackingFiles backing_;
};

}  // namespace backstep::replayer
