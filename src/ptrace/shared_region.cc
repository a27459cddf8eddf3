#include "ptrace/shared_region.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <array>
#include <cstring>
#include <vector>

#include "base/errors.h"
#include "base/unique_fd.h"
#include "ptrace/syscall_injection.h"

namespace backstep {
namespace {

int64_t inject(const Task& task, const AddressSpace& mem, long nr,
               std::array<uint64_t, 6> args = {}) {
  return inject_syscall(task, mem, HeldAt::kUserCode, nr, args).value;
}

bool failed(int64_t r) { return r < 0 && r >= -4095; }

}  // namespace

std::unique_ptr<SharedRegion> SharedRegion::make(const Task& task, const AddressSpace& mem,
                                                 uint64_t addr, size_t len,
                                                 std::span<const std::byte> contents) {
  if (len == 0 || len % 4096 != 0 || addr % 4096 != 0 || contents.size() > len ||
      contents.size() < 16) {
    return nullptr;
  }
  // memfd_create's name, written over the range's first bytes (its
  // contents come back from `contents` below).
  static constexpr char kName[] = "backstep-shared";
  if (!mem.write(addr, kName, sizeof kName)) return nullptr;
  const int64_t fd = inject(task, mem, SYS_memfd_create, {addr, MFD_CLOEXEC});
  if (failed(fd)) {
    mem.write(addr, contents.data(), sizeof kName);
    return nullptr;
  }
  auto close_in_tracee = [&] { inject(task, mem, SYS_close, {static_cast<uint64_t>(fd)}); };
  std::byte* view = nullptr;
  if (!failed(inject(task, mem, SYS_ftruncate, {static_cast<uint64_t>(fd), len}))) {
    UniqueFd mine(
        ::open(fmt::format("/proc/{}/fd/{}", task.tid(), fd).c_str(), O_RDWR | O_CLOEXEC));
    if (mine) {
      void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, mine.get(), 0);
      if (p != MAP_FAILED) view = static_cast<std::byte*>(p);
    }
  }
  if (view) {
    std::memcpy(view, contents.data(), contents.size());  // the rest: zeros, from ftruncate
    const int64_t at = inject(
        task, mem, SYS_mmap,
        {addr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, static_cast<uint64_t>(fd), 0});
    if (static_cast<uint64_t>(at) != addr) {
      ::munmap(view, len);
      view = nullptr;
      // A MAP_FIXED that fails may have unmapped the range already.
      if (!mem.write(addr, contents.data(), contents.size())) {
        close_in_tracee();
        throw Error(
            fmt::format("thread {}: memory at {:#x} was lost while it was being shared "
                        "with the tracer",
                        task.tid(), addr));
      }
    }
  }
  close_in_tracee();
  if (!view) {
    mem.write(addr, contents.data(), sizeof kName);
    return nullptr;
  }
  return std::unique_ptr<SharedRegion>(new SharedRegion(addr, len, view));
}

SharedRegion::~SharedRegion() { ::munmap(data_, len_); }

}  // namespace backstep
