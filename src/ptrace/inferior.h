// Starting a program under ptrace, isolated so that a recording can be
// re-executed identically: a fresh PID namespace (thread ids are handed out
// in creation order), no address-space randomization, and rdtsc trapping.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "ptrace/task.h"

namespace backstep {

struct LaunchSpec {
  std::string exe;                // absolute path of the program to exec
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> envp;
  std::string cwd;
  // A process group of its own, away from the terminal's: Ctrl-C then
  // reaches backstep only (a replay must not see signals the recording
  // did not have).
  bool own_process_group = false;
};

// The ptrace options every backstep session uses. EXITKILL: the tracee dies
// with the tracer, so a killed backstep never leaves a stopped program;
// TRACEFORK/VFORK/CLONE: every process and thread the program makes is
// traced too; TRACESECCOMP: the syscall buffer's filter stops traced
// syscalls with PTRACE_EVENT_SECCOMP.
unsigned long backstep_ptrace_options();

// The traced program and the two helper processes that hold its PID
// namespace. Destroying it kills them all and reaps what it can.
class Inferior {
 public:
  // Forks, execs spec.exe traced, and returns with the program's only thread
  // stopped at its PTRACE_EVENT_EXEC stop. Throws Error with a one-line
  // message when the program cannot be started.
  static Inferior launch(const LaunchSpec& spec);

  Inferior(Inferior&& other) noexcept;
  Inferior& operator=(Inferior&&) = delete;
  Inferior(const Inferior&) = delete;
  ~Inferior();

  pid_t leader() const { return leader_; }
  bool in_pid_namespace() const { return in_pid_namespace_; }
  // The namespace holder, a real child of ours: waitpid reports it too.
  pid_t holder() const { return holder_; }
  // A copy of the program forked from inside it (a checkpoint): same PID
  // namespace and holder, which it does not own; destroying it kills and
  // reaps that process only. The original must outlive its copies (the
  // namespace ends with it).
  Inferior adopt_copy(pid_t leader) const {
    return Inferior(holder_, leader, in_pid_namespace_, false);
  }
  // Kills the program now (SIGKILL to the whole namespace).
  void kill();
  // Kills the program and collects the last report of each of `tids` (its
  // threads still alive, the leader last) and of nothing else: other traced
  // processes (checkpoints) may be waiting, stopped, meanwhile.
  void kill_and_reap(const std::vector<pid_t>& tids);
  // While the process is dying (exit_group, a fatal signal): lets every
  // stop that still comes go on, and returns the leader's last status.
  std::optional<WaitStatus> wait_for_end();

 private:
  Inferior(pid_t holder, pid_t leader, bool ns, bool owns_holder = true)
      : holder_(holder), leader_(leader), in_pid_namespace_(ns), owns_holder_(owns_holder) {}
  pid_t holder_ = -1;
  pid_t leader_ = -1;
  bool in_pid_namespace_ = false;
  bool owns_holder_ = true;
};

// The auxiliary vector and AT_RANDOM bytes of a process stopped at its exec
// stop, found by walking the initial stack from rsp.
struct InitialStack {
  struct AuxEntry {
    uint64_t addr;  // where the entry's type word lives
    uint64_t type;
    uint64_t value;
  };
  std::vector<AuxEntry> auxv;
  uint64_t random_addr = 0;  // AT_RANDOM
  static InitialStack read(const AddressSpace& mem, uint64_t rsp);
  // Turns AT_SYSINFO_EHDR into AT_IGNORE so that libc makes real syscalls
  // for clock_gettime, gettimeofday, time and getcpu, which ptrace sees.
  void hide_vdso(const AddressSpace& mem);
  std::vector<std::byte> auxv_bytes() const;
};

// Resolves a program name the way execvp would; throws a one-line Error if
// it does not exist or cannot be executed.
std::string resolve_program(const std::string& name);

}  // namespace backstep
