// A range of a stopped tracee's private anonymous memory moved onto a memfd
// that the tracer maps too, so that the tracer reads and writes it with
// plain loads and stores instead of /proc/PID/mem or process_vm_readv. The
// syscall buffer (recorder/syscall_buffer.cc) is the one user: megabytes of
// buffered reads cross it, and a copy through the kernel per drain cost
// about as much as the program's own work.
//
// Made with syscalls injected into the tracee (ptrace/syscall_injection.h):
// memfd_create, ftruncate, mmap(MAP_SHARED | MAP_FIXED) over the range,
// close. Nothing of it reaches the program: its memory keeps its contents
// and address, the descriptor is gone before it runs again. A fork copies
// the mapping as shared, not copy-on-write: the child's copy must be made
// private to it again (SharedRegion::make with its own contents) before it
// runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "ptrace/task.h"

namespace backstep {

class SharedRegion {
 public:
  // Moves [addr, addr + len) of `task` (stopped where a resumption with no
  // signal runs user code: a syscall exit, a new task's first stop) onto a
  // fresh memfd holding `contents` followed by zeros (what the range must
  // hold, usually what it holds now). Returns null, with the tracee as it
  // was, if the kernel refuses a step; throws Error if the thread does not
  // come back from an injected call.
  static std::unique_ptr<SharedRegion> make(const Task& task, const AddressSpace& mem,
                                            uint64_t addr, size_t len,
                                            std::span<const std::byte> contents);
  SharedRegion(const SharedRegion&) = delete;
  SharedRegion& operator=(const SharedRegion&) = delete;
  ~SharedRegion();

  uint64_t tracee_addr() const { return addr_; }
  size_t size() const { return len_; }
  std::byte* data() const { return data_; }
  // Whether [addr, addr + len) of the tracee lies inside.
  bool covers(uint64_t addr, size_t len) const {
    return addr >= addr_ && len <= len_ && addr - addr_ <= len_ - len;
  }
  std::byte* at(uint64_t addr) const { return data_ + (addr - addr_); }

 private:
  SharedRegion(uint64_t addr, size_t len, std::byte* data) : addr_(addr), len_(len), data_(data) {}
  uint64_t addr_;
  size_t len_;
  std::byte* data_;  // the tracer's own mapping of the memfd
};

}  // namespace backstep
