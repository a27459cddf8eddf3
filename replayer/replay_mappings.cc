// ReplayEngine, part: mappings of file objects that have a backing file
// (replayer/backing_files.h). The program's mmap is emulated; in its place
// the thread, held at the mmap's entry, runs three injected syscalls: it
// opens the backing file (by its path in the replayer's directory, as the program's own
// fd was opened: read-only, write-only or both, which decides what a later
// mprotect may allow), maps it where and as the recording did (shared or
// private, same offset and protection), and closes it again. The program
// never sees the descriptor: its own fds are emulated.
#include <fcntl.h>
#include <fmt/core.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "base/errors.h"
#include "replayer/replay_engine.h"

namespace backstep::replayer {

void ReplayEngine::map_backing_file(size_t index, Thread& t, const trace::FileMap& f) {
  const AddressSpace& mem = t.process->mem;
  const std::string path = backing_.file_for(f);
  // The path goes below the stack's red zone, and what was there back.
  const Registers regs = t.task.regs();
  const uint64_t scratch = (regs.rsp - 128 - 512) & ~uint64_t{15};
  std::vector<std::byte> saved(path.size() + 1);
  if (!mem.read(scratch, saved.data(), saved.size()) ||
      !mem.write(scratch, path.c_str(), path.size() + 1)) {
    throw Error(fmt::format("cannot map {}: no room below thread {}'s stack", f.path, t.vtid));
  }
  InjectedResult opened;
  try {
    opened = inject_syscall(
        t.task, mem, HeldAt::kSyscallEntry, SYS_openat,
        {static_cast<uint64_t>(AT_FDCWD), scratch, static_cast<uint64_t>(f.access | O_CLOEXEC)});
  } catch (...) {
    mem.write(scratch, saved.data(), saved.size());
    throw;
  }
  mem.write_or_throw(scratch, saved.data(), saved.size());
  if (opened.value < 0) {
    throw Error(fmt::format("cannot map {}: the program cannot open its backing file ({})", f.path,
                            std::strerror(static_cast<int>(-opened.value))));
  }
  const auto fd = static_cast<uint64_t>(opened.value);
  const uint64_t flags = static_cast<uint32_t>(f.flags) | MAP_FIXED;
  InjectedResult mapped =
      inject_syscall(t.task, mem, HeldAt::kSyscallEntry, SYS_mmap,
                     {f.addr, f.length, static_cast<uint64_t>(f.prot), flags, fd, f.offset});
  inject_syscall(t.task, mem, HeldAt::kSyscallEntry, SYS_close, {fd});
  if (static_cast<uint64_t>(mapped.value) != f.addr) {
    diverge(index, fmt::format("mapping the backing file of {} returned {}, recorded {:#x}", f.path,
                               mapped.value, f.addr));
  }
}

}  // namespace backstep::replayer
