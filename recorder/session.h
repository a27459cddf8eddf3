// The recording session: one program run under ptrace, one thread at a
// time, written into a trace. Its work is split by concept over several
// files, as rr splits its RecordSession:
//   session.cc          the loop, resumptions, stops, switches, the end
//   syscall_recorder.cc syscall entries and exits (what they wrote, what
//                       replay needs, which may block)
//   signal_recorder.cc  signals: held for scheduling points, delivered,
//                       faults, runtime traps and rdtsc emulation
//   interrupted_syscalls.cc  syscalls a signal interrupted and the kernel
//                       restarts (restart_syscall)
//   blocked_threads.cc  threads blocked in the kernel: settle, arrival,
//                       admission (see "Blocked threads" in ARCHITECTURE.md)
//   process_tree.cc     new processes, exec, the end of a process
//   preemption.cc       threads that run a wall-clock timeslice without a
//                       stop: interrupted, their instant made findable
//   shared_mappings.cc  mappings of files: the file objects they map, and
//                       what syscalls change in mapped files
#pragma once

#include <linux/futex.h>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "disasm/memory_access.h"
#include "ptrace/cpu_binding.h"
#include "ptrace/inferior.h"
#include "ptrace/proc.h"
#include "ptrace/rdtsc_patcher.h"
#include "ptrace/stop_waiter.h"
#include "ptrace/syscall_sites.h"
#include "recorder/futex_queues.h"
#include "recorder/mapped_files.h"
#include "recorder/recorded_process.h"
#include "recorder/recorded_thread.h"
#include "recorder/recorder.h"
#include "recorder/scheduler.h"
#include "recorder/spin_watch.h"
#include "trace/trace_writer.h"

namespace backstep::recorder {

class Session {
 public:
  explicit Session(const RecordOptions& options);
  RecordResult run();

 private:
  // ---- session.cc ----
  void start();
  void loop();
  void run_until_stop(Thread& t);
  bool killed_under_us(Thread& t);
  Thread& thread(pid_t tid);
  Process& process(pid_t tgid);
  pid_t process_of(pid_t tid) const;
  std::vector<pid_t> runnable() const;
  void resume(Thread& t, Resume how);
  WaitStatus wait_for_thread(pid_t tid);
  void note_other(const WaitStatus& st);
  void on_stop(Thread& t, const WaitStatus& st);
  void on_ptrace_event(Thread& t, const WaitStatus& st, const Registers& regs);
  void record_stop(Thread& t, trace::StopKind kind, const Registers& regs, int64_t value,
                   int64_t result = 0, std::vector<trace::MemWrite> writes = {},
                   std::vector<std::byte> siginfo = {});
  void drain(Thread& t);
  // The Exec record of `t`'s new image (the vDSO hidden, AT_RANDOM seeded
  // under --chaos); the caller writes it.
  trace::Exec new_image(Thread& t, const Registers& regs);
  void keep_exec_mappings(Process& p);
  void write_patch(const std::vector<PatchSite>& sites);
  void switch_from(Thread& t, trace::SwitchReason reason);
  void die_out();
  Process* dying_process();
  bool recording_over() const;
  void warn_once(const std::string& what);
  std::vector<uint8_t> seeded_bytes(size_t n);
  uint64_t read_tsc();

  // ---- syscall_recorder.cc ----
  void on_syscall_stop(Thread& t, Registers& regs);
  void on_syscall_entry(Thread& t, Registers& regs);
  void on_syscall_exit(Thread& t, Registers& regs);
  bool may_block(Thread& t);
  bool open_may_wait(const Thread& t) const;
  void note_affinity_call(Thread& t);
  void after_affinity_call(Thread& t, int64_t result);

  // ---- shared_mappings.cc ----
  void record_file_map(Thread& t, uint64_t addr);
  void record_file_changes(Thread& t, int64_t result);
  void record_shm_attach(Thread& t, uint64_t addr);
  // Whether a mapping of `id` outside [start, end) is live in t's process.
  bool mapped_elsewhere(const Thread& t, FileId id, uint64_t start, uint64_t end);

  // ---- signal_recorder.cc ----
  // At a signal stop of the running thread: true when the signal is held
  // for a later scheduling point (the thread has been let go again).
  bool hold_async_signal(Thread& t, const WaitStatus& st);
  void on_signal_stop(Thread& t, const WaitStatus& st, Registers& regs);
  bool emulate_rdtsc(Thread& t, int sig, Registers& regs);
  bool on_runtime_trap(Thread& t, Registers& regs);
  std::optional<siginfo_t> take_held_signal(Thread& t, uint64_t blocked);
  void deliver_held_signal(Thread& t, uint64_t blocked);
  std::vector<std::byte> deliver_held_signal_in_place(Thread& t);
  bool delivery_ends_process(Thread& t);
  bool held_signal_waiting(Thread& t);
  void deliver_held_signal_at_exit(Thread& t);
  void deliver_held_signal_at_entry(Thread& t);

  // ---- interrupted_syscalls.cc ----
  void save_restart_writes(Thread& t);
  void undo_restart_writes(Thread& t);

  // ---- syscall_buffer.cc ----
  static RecordOptions with_syscall_buffer(const RecordOptions& options);
  void on_buffer_registration(Thread& t);
  void drain_syscall_buffer(Thread& t);
  // After a thread's buffer is registered (at the registration's exit), or
  // before a fork child first runs: the buffer becomes memory the recorder
  // maps too (buffer_view), holding `contents` (empty: its header, which is
  // all a buffer just registered holds: the rest of a fresh mapping is zeros).
  void share_syscall_buffer(Thread& t, std::vector<std::byte> contents = {});
  // Tells every process's library which files are mapped (their writes
  // must be traced); `only`: just that process (it has just registered).
  void publish_mapped_files(const Process* only = nullptr);
  // Whether `t`, stopped with `regs`, is inside the buffer's path: the
  // library's code (which replay runs differently), its stack (libc's
  // memcpy called from it) or the untraced syscall instruction. No
  // interrupt is recorded there (replay could not find the instant).
  bool in_syscall_buffer(const Thread& t, const Registers& regs) const;
  // A thread that the wall clock preempts inside the buffer's path (a loop
  // of buffered calls): its buffer is turned off, so that its next call
  // stops; the buffer is on again at that stop, and its exit is a switch.
  void yield_at_next_call(Thread& t);
  // How a thread goes on where nothing of the recording changes: to its
  // syscall's exit, else to its next traced stop (under the buffer's
  // filter PTRACE_SYSCALL would stop at the buffered calls too).
  static Resume onward(const Thread& t) {
    return t.seccomp && !t.in_syscall ? Resume::kContinue : Resume::kSyscall;
  }
  // At a traced syscall's entry (exit: true, at its exit).
  void patch_syscall_site(Thread& t, const Registers& regs, bool exit);
  void pause_buffer_for_vfork(Thread& t, bool paused);
  void note_handler_entry(Thread& t, int sig);
  // A signal raised by a buffered call (at BKSB_UNTRACED_IP): dropped, and
  // the call made again traced (the kernel raises it there once more).
  bool abort_buffered_call(Thread& t, const WaitStatus& st);

  // ---- blocked_threads.cc ----
  void block_in_kernel(Thread& t);
  void settle(Thread& t);
  bool await_arrival(Thread& t, std::chrono::milliseconds bound);
  void make_due(Thread& t);
  void make_due(const std::vector<pid_t>& tids);
  // Which futex space (FutexQueues) the word at `addr` of `t`'s process is
  // in for an operation with `private_op`: its process's, unless the op is
  // not private and the word lies in memory mapped shared.
  static pid_t futex_space(const Thread& t, uint64_t addr, bool private_op);
  static pid_t futex_space(const Thread& t) {
    return futex_space(t, t.call.arg[0], (t.call.arg[1] & FUTEX_PRIVATE_FLAG) != 0);
  }
  void admit(Thread& t);
  void admit_due();
  bool admit_any_arrived();
  void note_clone(Thread& parent, Thread& child);

  // ---- process_tree.cc ----
  bool in_tree(pid_t tid) const;
  bool alive(const Process& p) const;
  bool other_processes_alive(const Process& p) const;
  void on_new_task(Thread& parent, int event, const Registers& regs);
  void end_of_vfork(Process& p);
  void note_exec_call(Thread& t);
  bool is_exec_of(pid_t tid, const WaitStatus& st) const;
  void on_exec(Thread& caller, const WaitStatus& st);
  void end_process(Thread& t);
  void collect(Process& p);
  void note_death(Thread& t, const WaitStatus& st);
  void after_process_end(Process& p);
  // ---- preemption.cc ----
  // Waits for the running thread's next stop; when it runs a wall-clock
  // timeslice without one while another thread could run, interrupts it,
  // records where (a kInterrupt stop) and lets the scheduler switch, and
  // then returns nothing.
  std::optional<WaitStatus> wait_or_preempt(Thread& t);
  void note_running(Thread& t);
  bool used_up_timeslice(Thread& t);
  std::optional<WaitStatus> wait_for_thread_until(pid_t tid,
                                                  StopWaiter::Clock::time_point deadline);
  bool others_could_run(const Thread& t) const;
  bool newcomer_waiting(const Thread& t) const;
  // At the stop PTRACE_INTERRUPT brought: records the instant (kRecorded),
  // or leaves `stop` to handle as usual (the thread met a real stop while
  // the recorder looked at its loop), or lets the thread go on (kRunning).
  enum class Preemption { kRecorded, kStopped, kRunning };
  Preemption preempt(Thread& t, std::chrono::microseconds ran, WaitStatus& stop);
  WaitStatus clear_interrupt_wakeup(Thread& t);

  RecordOptions options_;
  Scheduler scheduler_;
  std::optional<CpuBinding> binding_;
  // Before writer_: every thread the recorder starts must block SIGCHLD.
  StopWaiter waiter_;
  trace::TraceWriter writer_;
  Inferior inferior_;
  // Every process of the program, by the tracer's view of its pid; kept
  // after they end (threads point at them).
  std::map<pid_t, std::unique_ptr<Process>> processes_;
  std::map<pid_t, Thread> threads_;
  pid_t current_ = 0;
  std::map<pid_t, trace::Resumption> resumptions_;
  RecordResult result_;
  std::optional<WaitStatus> end_status_;
  int32_t fatal_tid_ = 0;
  // What the next drain reads into: a buffer the writer is done with when it
  // has one (a ring's worth is 1 MiB; fresh memory costs a fault per page).
  trace::MapEventBuffer ring_events_;
  std::set<long> warned_;
  std::set<std::string> warned_text_;
  SpinWatch spin_watch_;
  // The thread that runs, since when, and its CPU time then (preemption.cc).
  pid_t running_ = 0;
  std::chrono::steady_clock::time_point running_since_;
  uint64_t running_cpu_ = 0;
  // running_cpu_ as read when running_ was switched to, until its first run
  // starts (wait_or_preempt): the thread has not run in between.
  std::optional<uint64_t> switched_in_cpu_;
  FutexQueues futexes_;
  MappedFiles files_;
  std::deque<pid_t> due_;   // must come back before the next decision, in this order
  uint64_t decisions_ = 0;  // scheduling decisions made: the recording's clock
  // Under --chaos the program's randomness comes from the seed too (see
  // seeded_bytes), so that a seed alone reproduces a run.
  std::mt19937_64 inputs_rng_{options_.scheduler.seed ^ 0x5eed5eed5eed5eedull};
  uint64_t seeded_tsc_ = 1'000'000'000;
  // Per process (by tgid): the syscall buffer's patch slots (in the preload
  // library's text) and the sites looked at so far (patched or not).
  struct BufferState {
    uint64_t slots = 0;
    uint64_t hook = 0;
    uint32_t next_slot = 0;
    std::set<uint64_t> seen_sites;
    std::vector<ProcMapping> maps;  // cached /proc/PID/maps, read again when a site is not in it
    uint64_t files = 0;             // the library's bksb_mapped_files
    uint64_t text_start = 0;        // the library's mappings
    uint64_t text_end = 0;
  };
  uint64_t published_files_ = 0;  // MappedFiles::generation() the libraries were told
  std::map<pid_t, BufferState> buffers_;
  SyscallSites sites_;
  std::optional<AccessDecoder> decoder_;  // stores of a preempted loop
};

}  // namespace backstep::recorder
