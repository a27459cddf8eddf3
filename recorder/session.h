// The recording session: one program run under ptrace, one thread at a
// time, written into a trace. Its work is split by concept over several
// files, as rr splits its RecordSession:
//   session.cc          the loop, resumptions, stops, switches, the end
//   syscall_recorder.cc syscall entries and exits (what they wrote, what
//                       replay needs, which may block)
//   signal_recorder.cc  signals: held for scheduling points, delivered,
//                       faults, runtime traps and rdtsc emulation
//   blocked_threads.cc  threads blocked in the kernel: settle, arrival,
//                       admission (see "Blocked threads" in ARCHITECTURE.md)
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "ptrace/cpu_binding.h"
#include "ptrace/inferior.h"
#include "ptrace/proc.h"
#include "ptrace/rdtsc_patcher.h"
#include "ptrace/syscall_sites.h"
#include "recorder/futex_queues.h"
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
  void keep_exec_mappings();
  void write_patch(const std::vector<PatchSite>& sites);
  void switch_from(Thread& t, trace::SwitchReason reason);
  void die_out();
  void warn_once(const std::string& what);
  std::vector<uint8_t> seeded_bytes(size_t n);
  uint64_t read_tsc();

  // ---- syscall_recorder.cc ----
  void on_syscall_stop(Thread& t, Registers& regs);
  void on_syscall_entry(Thread& t, Registers& regs);
  void on_syscall_exit(Thread& t, Registers& regs);
  bool may_block(Thread& t);
  void note_affinity_call(Thread& t);
  void after_affinity_call(Thread& t, int64_t result);

  // ---- signal_recorder.cc ----
  // At a signal stop of the running thread: true when the signal is held
  // for a later scheduling point (the thread has been let go again).
  bool hold_async_signal(Thread& t, const WaitStatus& st);
  void on_signal_stop(Thread& t, const WaitStatus& st, Registers& regs);
  bool emulate_rdtsc(Thread& t, int sig, Registers& regs);
  bool on_runtime_trap(Thread& t, Registers& regs);
  void deliver_held_signal_at_exit(Thread& t);

  // ---- syscall_buffer.cc ----
  static RecordOptions with_syscall_buffer(const RecordOptions& options);
  void on_buffer_registration(Thread& t);
  void drain_syscall_buffer(Thread& t);
  // At a traced syscall's entry (exit: true, at its exit).
  void patch_syscall_site(Thread& t, const Registers& regs, bool exit);
  void pause_buffer_for_vfork(Thread& t, bool paused);
  void note_handler_entry(Thread& t, int sig);
  // A signal raised by a buffered call (at BKSB_UNTRACED_IP): dropped, and
  // the call made again traced (the kernel raises it there once more).
  bool abort_buffered_call(Thread& t, const WaitStatus& st);
  // A stop of a child process (traced only so that its inherited seccomp
  // filter finds a tracer): let it go on. False if `st` is not one.
  bool babysit_child(const WaitStatus& st);

  // ---- blocked_threads.cc ----
  void block_in_kernel(Thread& t);
  void settle(Thread& t);
  bool await_arrival(Thread& t, std::chrono::milliseconds bound);
  void make_due(Thread& t);
  void make_due(const std::vector<pid_t>& tids);
  void admit(Thread& t);
  void admit_due();
  bool admit_any_arrived();
  void note_clone(Thread& parent, Thread& child);

  RecordOptions options_;
  Scheduler scheduler_;
  std::optional<CpuBinding> binding_;
  trace::TraceWriter writer_;
  Inferior inferior_;
  // Every process of the program, by the tracer's view of its pid; kept
  // after they end (threads point at them).
  std::map<pid_t, std::unique_ptr<Process>> processes_;
  std::map<pid_t, Thread> threads_;
  pid_t current_ = 0;
  std::map<pid_t, trace::Resumption> resumptions_;
  bool dying_ = false;
  RecordResult result_;
  std::optional<WaitStatus> end_status_;
  int32_t fatal_tid_ = 0;
  // What the next drain reads into: a buffer the writer is done with when it
  // has one (a ring's worth is 1 MiB; fresh memory costs a fault per page).
  trace::MapEventBuffer ring_events_;
  std::set<long> warned_;
  std::set<std::string> warned_text_;
  SpinWatch spin_watch_;
  FutexQueues futexes_;
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
  };
  std::map<pid_t, BufferState> buffers_;
  SyscallSites sites_;
};

}  // namespace backstep::recorder
