#include "ptrace/cpu_binding.h"

#include <fmt/core.h>

#include "base/errors.h"

namespace backstep {
namespace {

cpu_set_t only(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return set;
}

bool set_affinity(pid_t tid, const cpu_set_t& set) {
  if (::sched_setaffinity(tid, sizeof set, &set) == 0) return true;
  if (errno == ESRCH) return false;
  throw_errno(fmt::format("binding thread {} to CPUs", tid));
}

}  // namespace

CpuBinding::CpuBinding(int cpu) : cpu_(cpu) {
  CPU_ZERO(&original_);
  if (::sched_getaffinity(0, sizeof original_, &original_) != 0) {
    throw_errno("reading the recorder's CPU affinity");
  }
  if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &original_)) {
    throw Error(fmt::format("--bind-cpu {}: not a CPU this process may run on", cpu));
  }
}

std::optional<CpuBinding> CpuBinding::choose(std::optional<int> cpu, bool unbound) {
  if (cpu) return std::optional<CpuBinding>(std::in_place, *cpu);
  if (unbound) return std::nullopt;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2) {
    return std::nullopt;
  }
  int here = ::sched_getcpu();
  if (here < 0 || here >= CPU_SETSIZE || !CPU_ISSET(here, &allowed)) return std::nullopt;
  return std::optional<CpuBinding>(std::in_place, here);
}

std::vector<int> CpuBinding::other_cpus() const {
  std::vector<int> out;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (c != cpu_ && CPU_ISSET(c, &original_)) out.push_back(c);
  }
  return out;
}

void CpuBinding::pin_caller() const { set_affinity(0, only(cpu_)); }

bool CpuBinding::bind(pid_t tid) const { return set_affinity(tid, only(cpu_)); }

bool CpuBinding::release(pid_t tid) const { return set_affinity(tid, original_); }

}  // namespace backstep
