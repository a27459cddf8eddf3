// Session, part: the syscall buffer (src/preload). The preloaded library
// performs common syscalls without ptrace stops and logs them into a
// per-thread buffer; here the recorder registers each thread's buffer,
// copies what it holds into the trace at the thread's every stop (before the
// Stop record, as map events are drained), patches glibc's syscall sites
// into the library. See docs/ARCHITECTURE.md, "The syscall
// buffer".
#include <fmt/core.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "base/errors.h"
#include "preload/syscallbuf_abi.h"
#include "ptrace/proc.h"
#include "recorder/session.h"
#include "recorder/signal_disposition.h"
#include "trace/buffered_syscalls.h"

namespace backstep::recorder {
namespace {

// Where the library is: BACKSTEP_PRELOAD, else where the build put it.
std::string preload_library() {
  if (const char* env = std::getenv("BACKSTEP_PRELOAD"); env && *env) return env;
#ifdef BACKSTEP_PRELOAD_PATH
  return BACKSTEP_PRELOAD_PATH;
#else
  return {};
#endif
}

// The syscalls the library may buffer (it decides per call from the
// arguments): only their sites are worth patching.
bool may_be_buffered(long nr) {
  switch (nr) {
    case SYS_read:
    case SYS_write:
    case SYS_pread64:
    case SYS_pwrite64:
    case SYS_writev:
    case SYS_recvfrom:
    case SYS_sendto:
    case SYS_clock_gettime:
    case SYS_gettimeofday:
    case SYS_time:
    case SYS_getpid:
    case SYS_gettid:
    case SYS_getppid:
    case SYS_getuid:
    case SYS_geteuid:
    case SYS_getgid:
    case SYS_getegid:
    case SYS_getpgrp:
    case SYS_poll:
    case SYS_epoll_wait:
    case SYS_lseek:
    case SYS_stat:
    case SYS_lstat:
    case SYS_fstat:
    case SYS_newfstatat:
    case SYS_statx:
    case SYS_open:
    case SYS_openat:
    case SYS_close:
    case SYS_access:
    case SYS_faccessat:
    case SYS_faccessat2:
    case SYS_readlink:
    case SYS_readlinkat:
    case SYS_getcwd:
    case SYS_getdents64:
    case SYS_madvise:
    case SYS_getrandom:
    case SYS_fcntl:
    case SYS_ioctl:
    case SYS_futex:
      return true;
    default:
      return false;
  }
}

void put_rel32(std::vector<std::byte>& code, uint64_t from_next, uint64_t to) {
  auto rel = static_cast<int32_t>(static_cast<int64_t>(to - from_next));
  const auto* b = reinterpret_cast<const std::byte*>(&rel);
  code.insert(code.end(), b, b + 4);
}

bool fits_rel32(uint64_t from_next, uint64_t to) {
  auto d = static_cast<int64_t>(to - from_next);
  return d >= INT32_MIN && d <= INT32_MAX;
}

}  // namespace

RecordOptions Session::with_syscall_buffer(const RecordOptions& options) {
  RecordOptions out = options;
  if (!options.syscall_buffer) return out;
  std::string lib = preload_library();
  if (lib.empty() || !std::filesystem::exists(lib)) {
    fmt::print(stderr,
               "backstep: warning: the syscall buffer's library ({}) is missing: recording "
               "every syscall with ptrace stops\n",
               lib.empty() ? "libbackstep_preload.so" : lib);
    return out;
  }
  // After the program's own preloads, so that their interposers win as
  // they do natively.
  auto& env = out.program.envp;
  auto it = std::find_if(env.begin(), env.end(),
                         [](const std::string& e) { return e.starts_with("LD_PRELOAD="); });
  if (it == env.end()) {
    env.push_back("LD_PRELOAD=" + lib);
  } else {
    *it += (it->size() > std::strlen("LD_PRELOAD=") ? ":" : "") + lib;
  }
  return out;
}

// BKSB_REGISTER_SYSCALL: a thread announces its buffer (arg2 = 0), or that
// the library's seccomp filter is in place (arg2 = 1).
void Session::on_buffer_registration(Thread& t) {
  t.forced_result = -EINVAL;
  bksb_header h{};
  uint64_t addr = t.call.arg[0];
  if (!t.process->mem.read(addr, &h, sizeof h) || h.magic != BKSB_MAGIC ||
      h.version != BKSB_VERSION)
    return;
  t.forced_result = 0;
  if (t.call.arg[2] == 1) {
    // From the exit of this call on, the thread runs with PTRACE_CONT.
    t.seccomp = true;
    return;
  }
  t.syscallbuf = addr;
  uint32_t control[2] = {BKSB_MODE_RECORD,
                         scheduler_.chaos() ? uint32_t{BKSB_FLAG_NO_GETRANDOM} : 0u};
  t.process->mem.write_or_throw(addr + offsetof(bksb_header, mode), control, sizeof control);
  BufferState& b = buffers_[t.process->tgid];
  if (!b.hook) {
    b.slots = h.slots;
    b.hook = h.hook;
    std::string library;
    for (const ProcMapping& m : read_proc_maps(t.process->tgid)) {
      if (m.start <= h.hook && h.hook < m.end) library = m.path;
    }
    for (const ProcMapping& m : read_proc_maps(t.process->tgid)) {
      if (library.empty() || m.path != library) continue;
      b.text_start = b.text_start ? std::min(b.text_start, m.start) : m.start;
      b.text_end = std::max(b.text_end, m.end);
    }
  }
  if (h.files && b.files != h.files) {
    b.files = h.files;
    publish_mapped_files(t.process);
  }
}

bool Session::in_syscall_buffer(const Thread& t, const Registers& regs) const {
  if (regs.rip >= BKSB_UNTRACED_PAGE && regs.rip < BKSB_UNTRACED_PAGE + 4096) return true;
  if (t.syscallbuf && regs.rsp < *t.syscallbuf && regs.rsp >= *t.syscallbuf - BKSB_STACK_BYTES) {
    return true;
  }
  auto it = buffers_.find(t.process->tgid);
  return it != buffers_.end() && regs.rip >= it->second.text_start &&
         regs.rip < it->second.text_end;
}

void Session::yield_at_next_call(Thread& t) {
  if (!t.syscallbuf || t.buffer_paused) return;
  t.yield_at_next_call = true;
  uint32_t mode = BKSB_MODE_OFF;
  t.process->mem.write_or_throw(*t.syscallbuf + offsetof(bksb_header, mode), &mode, sizeof mode);
}

void Session::publish_mapped_files(const Process* only) {
  published_files_ = files_.generation();
  std::vector<FileId> ids = files_.tracked();
  bksb_mapped_files table{};
  table.count = static_cast<uint32_t>(std::min<size_t>(ids.size(), BKSB_MAPPED_FILES_MAX));
  table.overflow = ids.size() > BKSB_MAPPED_FILES_MAX ? 1 : 0;
  for (uint32_t i = 0; i < table.count; ++i) table.ids[i] = {ids[i].dev, ids[i].ino};
  const size_t bytes = offsetof(bksb_mapped_files, ids) + table.count * sizeof table.ids[0];
  for (const auto& [tgid, p] : processes_) {
    if ((only && p.get() != only) || p->ended) continue;
    auto it = buffers_.find(tgid);
    if (it == buffers_.end() || !it->second.files) continue;
    // A process that has just gone cannot buffer anything any more.
    p->mem.write(it->second.files, &table, bytes);
  }
}

// At every stop of a thread with a buffer: what it buffered since its last
// stop goes into the trace, before the Stop record.
void Session::drain_syscall_buffer(Thread& t) {
  if (published_files_ != files_.generation()) publish_mapped_files();
  if (!t.syscallbuf) return;
  if (t.yield_at_next_call && !t.buffer_paused) {
    // Stopped at last (yield_at_next_call): buffering again from here.
    uint32_t mode = BKSB_MODE_RECORD;
    t.process->mem.write_or_throw(*t.syscallbuf + offsetof(bksb_header, mode), &mode, sizeof mode);
  }
  const uint64_t addr = *t.syscallbuf;
  const SharedRegion* view = t.buffer_view.get();
  bksb_header h{};
  if (view) {
    std::memcpy(&h, view->data(), sizeof h);
  } else {
    t.process->mem.read_or_throw(addr, &h, sizeof h);
  }
  if (h.used > h.capacity || h.drained > h.used) {
    throw Error(
        fmt::format("thread {}: the syscall buffer's header is damaged (used {}, drained {})",
                    t.vtid, h.used, h.drained));
  }
  if (h.used > h.drained) {
    trace::SyscallBuffer b;
    b.tid = t.vtid;
    // Storage the writer has used before, a whole buffer's worth, so that
    // the spares fit every drain (fresh pages cost a fault each).
    b.records = writer_.spare_bytes();
    b.records.reserve(BKSB_BUFFER_BYTES);
    if (view) {
      trace::assign_bytes(b.records, {view->data() + sizeof h + h.drained, h.used - h.drained});
    } else {
      b.records.resize(h.used - h.drained);
      if (!t.process->mem.read_bulk(addr + sizeof h + h.drained, b.records.data(),
                                    b.records.size())) {
        throw Error(fmt::format("thread {}: cannot read its syscall buffer", t.vtid));
      }
    }
    for (const trace::BufferedCall& c : trace::parse_buffered_calls(b.records)) {
      result_.buffered_syscalls++;
      if (c.nr == SYS_futex && c.result > 0) {
        // Buffered wakes make waiters due as traced ones do.
        sys::SyscallArgs call{c.nr, {}};
        std::memcpy(call.arg, c.args, sizeof call.arg);
        make_due(futexes_.note_wake(
            futex_space(t, c.args[0], (c.args[1] & FUTEX_PRIVATE_FLAG) != 0), call, c.result));
      }
    }
    result_.buffered_bytes += b.records.size();
    writer_.write(std::move(b));
  }
  // Inside a buffered call (a traced call of its own, a signal) the library
  // still writes after `used`: only mark what is in the trace.
  uint32_t pos[2] = {h.busy ? h.used : 0u, h.busy ? h.used : 0u};
  if (pos[0] != h.used || pos[1] != h.drained) {
    if (view) {
      std::memcpy(view->data() + offsetof(bksb_header, used), pos, sizeof pos);
    } else {
      t.process->mem.write_or_throw(addr + offsetof(bksb_header, used), pos, sizeof pos);
    }
  }
}

void Session::share_syscall_buffer(Thread& t, std::vector<std::byte> contents) {
  // A thread with a SIGKILL pending (a fork child its parent killed before
  // it ever ran) would die inside the injected calls: it runs no code of
  // its own again, so its buffer may stay as it is.
  for (const char* field : {"SigPnd", "ShdPnd"}) {
    auto mask = proc_status_field(t.task.tid(), field);
    if (mask && has_signal(std::stoull(*mask, nullptr, 16), SIGKILL)) return;
  }
  const uint64_t addr = *t.syscallbuf;
  if (contents.empty()) contents = t.process->mem.read_bytes(addr, sizeof(bksb_header));
  t.buffer_view = SharedRegion::make(t.task, t.process->mem, addr, BKSB_BUFFER_BYTES, contents);
}

// At a traced syscall's entry (a seccomp stop): if its site is one the
// buffer can take over (ptrace/syscall_sites.h) and the library may buffer
// its number, the site becomes a jump to a slot that calls the library's
// hook. Recorded as a CodeWrite after the entry's Stop; replay writes the
// same bytes at the same point.
//
// A `syscall; cmp` site is patched at the call's exit instead, and the
// thread, which would come back into the middle of the new jump, goes on
// from the cmp in the slot (recorded with the CodeWrite).
void Session::patch_syscall_site(Thread& t, const Registers& regs, bool exit) {
  BufferState& state = buffers_[t.process->tgid];
  if (!state.hook || !t.syscallbuf || state.next_slot >= BKSB_SLOT_COUNT) return;
  if (exit && regs.rip != t.call_rip) return;  // not back where it entered (a signal, sigreturn)
  // A call a signal interrupted may be restarted: the kernel would step back
  // two bytes from wherever the thread is then.
  if (exit && static_cast<int64_t>(regs.rax) <= -512 && static_cast<int64_t>(regs.rax) >= -516)
    return;
  const uint64_t syscall_at = regs.rip - 2;
  if (state.seen_sites.count(syscall_at)) return;
  const long nr = t.call.nr;
  if (!may_be_buffered(nr)) {
    state.seen_sites.insert(syscall_at);
    return;
  }
  const ProcMapping* mapping = nullptr;
  for (int pass = 0; pass < 2 && !mapping; ++pass) {
    if (pass == 1) state.maps = read_proc_maps(t.process->tgid);
    for (const ProcMapping& m : state.maps) {
      if (syscall_at >= m.start && syscall_at + 2 <= m.end) mapping = &m;
    }
  }
  std::optional<SyscallSite> found;
  if (mapping && mapping->is_file() && mapping->executable() &&
      !(syscall_at >= state.hook && syscall_at < state.slots + BKSB_SLOT_BYTES * BKSB_SLOT_COUNT)) {
    found = sites_.at(mapping->path, mapping->offset + (syscall_at - mapping->start));
  }
  if (!found || found->nr != static_cast<uint32_t>(nr)) {
    state.seen_sites.insert(syscall_at);
    return;
  }
  const bool cmp_after = found->kind == SyscallSite::kCmpAfter;
  if (cmp_after != exit) return;  // at the other stop
  // The bytes replaced: the mov before the syscall, or the syscall and the
  // cmp after it.
  const uint64_t from = cmp_after ? syscall_at : syscall_at - 5;
  const uint64_t to = cmp_after ? syscall_at + 8 : syscall_at;
  const uint64_t back = cmp_after ? to : syscall_at + 2;  // where the slot returns
  for (auto& [tid, other] : threads_) {
    if (other.process != t.process || other.state == Thread::State::kDead ||
        other.state == Thread::State::kStarting) {
      continue;
    }
    // A handler's frame may hold a return into the syscall site it
    // interrupted: a cmp made part of a jump would be no instruction
    // start then. Such sites wait until no handler runs.
    if (cmp_after && other.handler_frames > 0) return;
    // A thread inside this syscall comes back after the instruction.
    if (cmp_after && other.in_syscall && other.call_rip == syscall_at + 2) {
      if (&other != &t) return;
    }
    // Threads in the kernel are past any site; stopped ones must not stand
    // inside the replaced bytes.
    if (&other == &t || other.state != Thread::State::kStopped) continue;
    uint64_t pc = other.task.regs().rip;
    if (pc > from && pc < to) return;
  }
  // Read only now: a site two threads keep blocking in (a pipe's ends read
  // in turn) is turned down at every exit, and every syscall counts there.
  uint8_t code[8] = {};
  if (!t.process->mem.read(from, code, to - from)) return;
  const uint64_t slot = state.slots + uint64_t{state.next_slot} * BKSB_SLOT_BYTES;
  if (!fits_rel32(from + 5, slot) || !fits_rel32(slot + 32, state.hook) ||
      !fits_rel32(slot + 32, back)) {
    state.seen_sites.insert(syscall_at);
    return;
  }
  std::vector<std::byte> s;
  auto bytes = [&](std::initializer_list<uint8_t> b) {
    for (uint8_t x : b) s.push_back(static_cast<std::byte>(x));
  };
  bytes({0x48, 0x8d, 0x64, 0x24, 0x80});  // lea -128(%rsp),%rsp: past the red zone
  if (!cmp_after) {
    bytes({0xb8});  // mov $nr,%eax
    s.insert(s.end(), reinterpret_cast<const std::byte*>(code + 1),
             reinterpret_cast<const std::byte*>(code + 5));
  }
  bytes({0xe8});  // call hook
  put_rel32(s, slot + s.size() + 4, state.hook);
  bytes({0x48, 0x8d, 0xa4, 0x24, 0x80, 0x00, 0x00, 0x00});  // lea 128(%rsp),%rsp
  if (cmp_after) {
    s.insert(s.end(), reinterpret_cast<const std::byte*>(code + 2),
             reinterpret_cast<const std::byte*>(code + 8));  // the cmp
  }
  bytes({0xe9});  // jmp back, past the syscall (and the cmp)
  put_rel32(s, slot + s.size() + 4, back);
  std::vector<std::byte> jmp{std::byte{0xe9}};
  put_rel32(jmp, from + 5, slot);
  if (cmp_after) {
    for (uint8_t x : {0x0f, 0x1f, 0x00}) jmp.push_back(static_cast<std::byte>(x));  // nopl (%rax)
  }
  state.seen_sites.insert(syscall_at);
  state.next_slot++;
  trace::CodeWrite w;
  w.writes.push_back({slot, std::move(s)});
  w.writes.push_back({from, std::move(jmp)});
  for (const trace::MemWrite& m : w.writes)
    t.process->mem.write_or_throw(m.addr, m.data.data(), m.data.size());
  if (cmp_after) {
    // On from the cmp in the slot: lea -128, call, lea +128 come before it.
    w.tid = t.vtid;
    w.rip = slot + 5 + 5 + 8;
    Registers moved = regs;
    moved.rip = w.rip;
    t.task.set_regs(moved);
    if (t.exit_regs) t.exit_regs->rip = w.rip;
  }
  writer_.write(std::move(w));
  result_.patched_sites++;
}

void Session::note_handler_entry(Thread& t, int sig) {
  auto mask = proc_status_field(t.task.tid(), "SigCgt");
  if (mask && has_signal(std::stoull(*mask, nullptr, 16), sig)) t.handler_frames++;
}

// A vfork child (clone with CLONE_VM, without CLONE_THREAD) runs on its
// parent's memory and thread pointer, so on its buffer: that stays off
// until the parent comes back from the call.
void Session::pause_buffer_for_vfork(Thread& t, bool paused) {
  if (!t.syscallbuf || t.buffer_paused == paused) return;
  if (paused) {
    uint64_t flags = 0;
    if (t.call.nr == SYS_vfork) {
      flags = CLONE_VM;
    } else if (t.call.nr == SYS_clone) {
      flags = t.call.arg[0];
    } else if (t.call.nr == SYS_clone3) {
      if (t.call.arg[1] < 8 || !t.process->mem.read(t.call.arg[0], &flags, 8)) return;
    } else {
      return;
    }
    if (!(flags & CLONE_VM) || (flags & CLONE_THREAD)) return;
  }
  t.buffer_paused = paused;
  uint32_t mode = paused ? BKSB_MODE_OFF : BKSB_MODE_RECORD;
  t.process->mem.write_or_throw(*t.syscallbuf + offsetof(bksb_header, mode), &mode, sizeof mode);
}

bool Session::abort_buffered_call(Thread& t, const WaitStatus& st) {
  if (!t.syscallbuf || !st.stopped() || st.syscall_stop() || st.ptrace_event()) return false;
  Registers regs = t.task.regs();
  if (regs.rip != BKSB_UNTRACED_IP) return false;
  regs.rax = BKSB_ABORTED_RESULT;
  regs.orig_rax = static_cast<uint64_t>(-1);  // no restart
  t.task.set_regs(regs);
  t.task.resume(resumptions_[t.task.tid()].how == static_cast<uint8_t>(Resume::kSyscall)
                    ? Resume::kSyscall
                    : Resume::kContinue,
                0);
  return true;
}

}  // namespace backstep::recorder
