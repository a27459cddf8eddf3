// Session, part: mappings of files. Each mmap of a file records a FileMap
// with the file's content at that moment (read through the program's own
// fd, so that unlinked files, memfds and shm objects are kept too) and the
// file object it maps (recorder/mapped_files.h). A syscall that changes a
// mapped file (write, pwrite, ftruncate, open with O_TRUNC, ...) changes
// what the mappings show, but replay emulates it: its effect on the file is
// recorded as a FileChange, which replay applies to the object's backing
// file. Writes through the mappings themselves need nothing: in replay the
// mappings alias as they did.
#include <fcntl.h>
#include <fmt/core.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fstream>

#include "base/errors.h"
#include "base/unique_fd.h"
#include "ptrace/proc.h"
#include "recorder/session.h"

namespace backstep::recorder {
namespace {

bool maps_shared(uint64_t flags) {
  uint64_t type = flags & MAP_TYPE;
  return type == MAP_SHARED || type == MAP_SHARED_VALIDATE;
}

bool is(const ProcMapping& m, FileId id) {
  return m.dev_major == major(id.dev) && m.dev_minor == minor(id.dev) && m.inode == id.ino;
}

// The file position and status flags of the program's fd (its fdinfo).
struct FdInfo {
  uint64_t pos = 0;
  uint64_t flags = 0;
};

std::optional<FdInfo> fd_info(pid_t tid, int fd) {
  std::ifstream in(fmt::format("/proc/{}/fdinfo/{}", tid, fd));
  std::string key;
  FdInfo info;
  bool pos = false;
  bool flags = false;
  while (in >> key) {
    if (key == "pos:") {
      pos = static_cast<bool>(in >> info.pos);
    } else if (key == "flags:") {
      flags = static_cast<bool>(in >> std::oct >> info.flags >> std::dec);
    }
  }
  if (!pos || !flags) return std::nullopt;
  return info;
}

std::vector<std::byte> read_range(int fd, uint64_t offset, uint64_t len) {
  std::vector<std::byte> data(len);
  size_t got = 0;
  while (got < len) {
    ssize_t n = ::pread(fd, data.data() + got, len - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  data.resize(got);
  return data;
}

}  // namespace

bool Session::mapped_elsewhere(const Thread& t, FileId id, uint64_t start, uint64_t end) {
  for (const ProcMapping& m : read_proc_maps(t.process->tgid)) {
    if (is(m, id) && (m.end <= start || m.start >= end)) return true;
  }
  return false;
}

void Session::record_file_map(Thread& t, uint64_t addr) {
  const int fd = static_cast<int>(t.call.arg[4]);
  const std::string link = fmt::format("/proc/{}/fd/{}", t.task.tid(), fd);
  const uint64_t length = t.call.arg[1];
  const uint64_t flags = t.call.arg[3];
  const bool shared = maps_shared(flags);
  struct stat st {};
  if (::stat(link.c_str(), &st) != 0) {
    throw Error(fmt::format("cannot record the mapping of {}: it cannot be read", t.mapped_path));
  }
  if (!S_ISREG(st.st_mode)) {
    throw Error(fmt::format("the program mapped {}, which is not a regular file: not supported yet",
                            t.mapped_path));
  }
  const FileId id{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  const uint64_t end = addr + ((length + 4095) & ~uint64_t{4095});
  bool live_elsewhere = false;
  if (shared || files_.object(id)) {
    std::vector<ProcMapping> maps = read_proc_maps(t.process->tgid);
    if (shared) {
      // Aliasing is decided by the identity fstat gives, and whether the
      // file is still mapped by the one /proc shows: they must agree (an
      // overlay file system, say, may show the layer's file).
      bool agrees = false;
      for (const ProcMapping& m : maps) agrees = agrees || (m.start == addr && is(m, id));
      if (!agrees) {
        throw Error(fmt::format(
            "cannot tell which file the shared mapping of {} at {:#x} maps (/proc shows "
            "another device or inode than the program's fd): not supported",
            t.mapped_path, addr));
      }
    }
    for (const ProcMapping& m : maps) {
      live_elsewhere = live_elsewhere || (is(m, id) && (m.end <= addr || m.start >= end));
    }
  }
  trace::FileMap f;
  f.tid = t.vtid;
  f.addr = addr;
  f.length = length;
  f.prot = static_cast<int32_t>(t.call.arg[2]);
  f.flags = static_cast<int32_t>(flags);
  f.offset = t.call.arg[5];
  f.path = t.mapped_path;
  f.file_size = static_cast<uint64_t>(st.st_size);
  f.object = files_.note_map(id, shared, live_elsewhere);
  f.dev = id.dev;
  f.ino = id.ino;
  if (auto info = fd_info(t.task.tid(), fd))
    f.access = static_cast<uint8_t>(info->flags & O_ACCMODE);
  try {
    f.content = writer_.keep_open_file(t.mapped_path, link, /*reuse=*/!files_.ever_shared(id));
  } catch (const std::exception& e) {
    throw Error(fmt::format("cannot record the mapping of {}: {}", t.mapped_path, e.what()));
  }
  writer_.write(f);
}

// shmat: a SysV shm segment is a file of the kernel's shm file system, one
// with no fd to read it through. Recorded as a FileMap of that file (its
// content read from the new attachment), so that replay maps a backing file
// for it and attachments of one segment alias as mappings of one file do.
void Session::record_shm_attach(Thread& t, uint64_t addr) {
  const ProcMapping* seg = nullptr;
  std::vector<ProcMapping> maps = read_proc_maps(t.process->tgid);
  for (const ProcMapping& m : maps) seg = m.start == addr ? &m : seg;
  struct shmid_ds ds {};
  if (!seg || seg->inode == 0 || ::shmctl(static_cast<int>(t.call.arg[0]), IPC_STAT, &ds) != 0) {
    throw Error(fmt::format("cannot find the SysV shm segment {} attached at {:#x}",
                            static_cast<int>(t.call.arg[0]), addr));
  }
  const FileId id{makedev(seg->dev_major, seg->dev_minor), seg->inode};
  const uint64_t size = ds.shm_segsz;
  const uint64_t end = addr + ((size + 4095) & ~uint64_t{4095});
  bool live_elsewhere = false;
  for (const ProcMapping& m : maps) {
    live_elsewhere = live_elsewhere || (is(m, id) && (m.end <= addr || m.start >= end));
  }
  const auto shmflg = static_cast<int>(t.call.arg[2]);
  std::vector<std::byte> content(size);
  if (!t.process->mem.read_bulk(addr, content.data(), content.size())) {
    throw Error(fmt::format("cannot read the SysV shm segment attached at {:#x}", addr));
  }
  trace::FileMap f;
  f.tid = t.vtid;
  f.addr = addr;
  f.length = size;
  f.prot = (shmflg & SHM_RDONLY) ? PROT_READ : PROT_READ | PROT_WRITE;
  if (shmflg & SHM_EXEC) f.prot |= PROT_EXEC;
  f.flags = MAP_SHARED;
  f.path = seg->path + " (deleted)";
  f.file_size = size;
  f.object = files_.note_map(id, /*shared=*/true, live_elsewhere);
  f.dev = id.dev;
  f.ino = id.ino;
  f.access = static_cast<uint8_t>((shmflg & SHM_RDONLY) ? O_RDONLY : O_RDWR);
  f.content = writer_.keep_content(content);
  writer_.write(f);
}

// At a syscall's exit: what it changed in a mapped file, as a FileChange.
void Session::record_file_changes(Thread& t, int64_t result) {
  if (result < 0) return;
  const uint64_t* a = t.call.arg;
  enum class What { kRange, kWhole, kSize } what = What::kWhole;
  int fd = -1;
  std::string path;  // truncate(2) names the file instead
  switch (t.call.nr) {
    case SYS_write:
    case SYS_writev:
    case SYS_pwrite64:
    case SYS_pwritev:
    case SYS_pwritev2:
      if (result == 0 || !t.fd_file) return;  // not a regular file
      fd = static_cast<int>(a[0]);
      what = What::kRange;
      break;
    case SYS_ftruncate:
      fd = static_cast<int>(a[0]);
      what = What::kSize;
      break;
    case SYS_fallocate:  // may punch holes, zero, collapse or insert ranges
    case SYS_sendfile:
      fd = static_cast<int>(a[0]);
      break;
    case SYS_copy_file_range:
    case SYS_splice:
      if (result == 0) return;
      fd = static_cast<int>(a[2]);
      break;
    case SYS_open:
    case SYS_openat:
    case SYS_openat2:
    case SYS_creat: {
      uint64_t oflags = t.call.nr == SYS_open     ? a[1]
                        : t.call.nr == SYS_openat ? a[2]
                        : t.call.nr == SYS_creat  ? uint64_t{O_TRUNC}
                                                  : 0;
      if (t.call.nr == SYS_openat2)
        t.process->mem.read(a[2], &oflags, sizeof oflags);  // open_how.flags
      if (!(oflags & O_TRUNC)) return;
      fd = static_cast<int>(result);
      what = What::kSize;
      break;
    }
    case SYS_truncate:
      path = t.process->mem.read_string(a[0], 4096);
      if (path.empty()) return;
      if (path[0] != '/') path = fmt::format("/proc/{}/cwd/{}", t.task.tid(), path);
      what = What::kSize;
      break;
    default:
      return;
  }
  if (path.empty()) path = fmt::format("/proc/{}/fd/{}", t.task.tid(), fd);
  FileId id;
  if (what == What::kRange) {
    id = *t.fd_file;
  } else {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
    id = {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  }
  std::optional<uint32_t> object = files_.object(id);
  if (!object) return;
  if (!mapped_elsewhere(t, id, 0, 0)) {
    files_.forget(id);
    return;
  }
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!file || ::fstat(file.get(), &st) != 0) {
    throw Error(fmt::format("cannot read {} after {} changed it, while it is mapped",
                            t.mapped_path.empty() ? path : t.mapped_path,
                            sys::syscall_name(t.call.nr)));
  }
  trace::FileChange c;
  c.tid = t.vtid;
  c.object = *object;
  c.size = static_cast<uint64_t>(st.st_size);
  if (what == What::kWhole) {
    c.data = read_range(file.get(), 0, c.size);
  } else if (what == What::kRange) {
    auto info = fd_info(t.task.tid(), fd);
    if (!info) throw Error(fmt::format("cannot read the file position of fd {}", fd));
    auto n = static_cast<uint64_t>(result);
    const bool positional = t.call.nr == SYS_pwrite64 || t.call.nr == SYS_pwritev ||
                            (t.call.nr == SYS_pwritev2 && static_cast<int64_t>(a[3]) != -1);
    const bool append =
        (info->flags & O_APPEND) || (t.call.nr == SYS_pwritev2 && (a[5] & RWF_APPEND));
    // O_APPEND writes at the end even when given a position (pwrite(2), BUGS).
    c.offset = append ? c.size - n : positional ? a[3] : info->pos - n;
    c.data = read_range(file.get(), c.offset, n);
  }
  writer_.write(std::move(c));
}

}  // namespace backstep::recorder
