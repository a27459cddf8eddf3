// Makes rdtsc/rdtscp visible to the tracer.
//
// PR_SET_TSC(PR_TSC_SIGSEGV) is meant to make them fault, but this machine
// kind's hypervisor ignores it (measured: rdtsc runs unfaulted after the
// prctl). So the tracer finds every rdtsc/rdtscp in the executable code the
// program maps (a linear sweep of executable segments with Capstone) and
// replaces its first byte with int3; the SIGTRAP then lets the recorder
// choose the value and replay return the same one. Record and replay patch
// identically, so the program sees the same bytes in both.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ptrace/task.h"

namespace backstep {

struct PatchSite {
  uint64_t addr = 0;
  uint8_t length = 0;  // 2 for rdtsc, 3 for rdtscp
};

class RdtscPatcher {
 public:
  // Patches the sites of `path` mapped at `addr` from file offset `offset`
  // for `length` bytes; returns them.
  std::vector<PatchSite> patch_mapping(const AddressSpace& mem, const std::string& path,
                                       uint64_t offset, uint64_t length, uint64_t addr);
  // Patches every executable file mapping listed in /proc/PID/maps (the
  // executable and its interpreter, mapped by the kernel at exec).
  std::vector<PatchSite> patch_all_mappings(const AddressSpace& mem);
  // Applies sites found elsewhere (by the recorder, read from a trace).
  void apply(const AddressSpace& mem, const std::vector<PatchSite>& sites);
  // The site whose int3 sits at `addr`, if any.
  const PatchSite* site_at(uint64_t addr) const;

 private:
  struct FileSite {
    uint64_t offset;
    uint8_t length;
  };
  const std::vector<FileSite>& sites_of(const std::string& path);
  static std::vector<FileSite> sweep(const std::string& path);

  std::map<std::string, std::vector<FileSite>> by_file_;
  std::map<uint64_t, PatchSite> active_;
};

}  // namespace backstep
