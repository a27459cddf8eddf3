// The program's threads and the tracer's own thread on one CPU: `record`
// (the trace writer's thread on the others), `replay` and `gdbserver`, on the
// CPU they start on unless told another (`--bind-cpu`) or none (`-u`).
//
// The recorder runs one program thread at a time and waits for it at every
// stop, so the program never runs in parallel with itself or with the
// recorder. Left to the scheduler, though, the program thread is woken on
// whichever CPU is idle when the recorder resumes it, which is not the
// recorder's: every stop then wakes the other CPU (a hypervisor exit on a
// VM), and the map-event ring and the program's data move between caches.
// On the 2-CPU benchmark VM, co-location made a map-heavy recording up to
// ~30% faster and a recorded syscall ~25% cheaper when the machine was
// otherwise idle, and gained nothing with the other CPU busy
// (docs/BENCHMARKS.md).
//
// What the program sees: sched_getaffinity still returns the mask it
// started with (the recorder lifts the binding around the call); a thread
// that sets its own affinity keeps it (and is no longer bound). Only
// /proc/PID/status (Cpus_allowed) and the CPU a thread runs on show the
// binding.
//
// On by default, as in rr (which binds to a random CPU): on the CPU the
// recorder starts on, where the kernel just found room for it. The price is
// that the program stays there when another process starts hogging that
// CPU; `record --cpu-unbound` (rr's -u) leaves placement to the kernel, and
// so do parallel hunts, whose recordings would otherwise pile up on one CPU.
// A replay binds only its own thread before launching the program, which
// inherits it: the program's affinity calls are answered from the trace.
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <optional>
#include <vector>

namespace backstep {

class CpuBinding {
 public:
  // Throws Error unless this process may run on `cpu`.
  explicit CpuBinding(int cpu);

  // The binding a recording gets: on `cpu` when given, none when `unbound`
  // or when this process may run on one CPU only (nothing to gain), else on
  // the CPU the caller runs on now.
  static std::optional<CpuBinding> choose(std::optional<int> cpu, bool unbound);

  int cpu() const { return cpu_; }
  // The other CPUs this process may run on (for the trace writer's thread);
  // empty on a single CPU.
  std::vector<int> other_cpus() const;
  // Binds the calling thread (the recorder's).
  void pin_caller() const;
  // Binds a program thread to cpu(), or gives it back the mask the program
  // started with. False when the thread is gone.
  bool bind(pid_t tid) const;
  bool release(pid_t tid) const;

 private:
  cpu_set_t original_;  // this process's mask when the recording began
  int cpu_;
};

}  // namespace backstep
