// ReplayEngine, part: the syscall buffer (src/preload). The program's
// library makes the same buffered calls as when recording, without stops;
// before a thread runs toward a recorded stop, the records drained at that
// stop are written back into its buffer, and the library answers the calls
// from them (checking that each is the call recorded). At the stop, every
// record must have been used.
#include <fmt/core.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstring>

#include "preload/syscallbuf_abi.h"
#include "replayer/replay_engine.h"
#include "syscalls/syscall_table.h"
#include "trace/buffered_syscalls.h"

namespace backstep::replayer {

// The records drained at stop `index` of `vtid`: they come right before it,
// among the records the recorder wrote with it (map events, file maps).
const trace::SyscallBuffer* ReplayEngine::buffer_records_for(size_t index, int32_t vtid) const {
  const auto& ev = trace_.events();
  for (size_t i = index; i-- > 0;) {
    if (const auto* b = std::get_if<trace::SyscallBuffer>(&ev[i])) {
      return b->tid == vtid ? b : nullptr;
    }
    if (!std::holds_alternative<trace::MapEvents>(ev[i]) &&
        !std::holds_alternative<trace::FileMap>(ev[i])) {
      return nullptr;
    }
  }
  return nullptr;
}

void ReplayEngine::on_buffer_registration(Thread& t) {
  if (t.args[2] == 1) return;  // the filter is in place: nothing to do here
  bksb_header h{};
  if (!t.process->mem.read(t.args[0], &h, sizeof h) || h.magic != BKSB_MAGIC) return;
  t.syscallbuf = t.args[0];
  uint32_t mode = BKSB_MODE_REPLAY;
  t.process->mem.write_or_throw(*t.syscallbuf + offsetof(bksb_header, mode), &mode, sizeof mode);
}

void ReplayEngine::fill_syscall_buffer(size_t index, Thread& t) {
  if (!t.syscallbuf) return;
  const trace::SyscallBuffer* b = buffer_records_for(index, t.vtid);
  const uint64_t addr = *t.syscallbuf;
  uint32_t pos[2] = {0, 0};  // used, drained
  if (b && !b->records.empty()) {
    bksb_header h{};
    t.process->mem.read_or_throw(addr, &h, sizeof h);
    if (b->records.size() > h.capacity) {
      diverge(index, fmt::format("thread {}: {} bytes of buffered syscalls do not fit its buffer",
                                 t.vtid, b->records.size()));
    }
    t.process->mem.write_or_throw(addr + sizeof h, b->records.data(), b->records.size());
    pos[0] = static_cast<uint32_t>(b->records.size());
    after_buffered_calls(t, *b);
  }
  t.process->mem.write_or_throw(addr + offsetof(bksb_header, used), pos, sizeof pos);
}

void ReplayEngine::check_syscall_buffer_used(size_t index, Thread& t, const trace::Stop& s) {
  if (!t.syscallbuf) return;
  bksb_header h{};
  t.process->mem.read_or_throw(*t.syscallbuf, &h, sizeof h);
  if (h.drained == h.used) return;
  // The first call recorded but not made.
  const trace::SyscallBuffer* b = buffer_records_for(index, t.vtid);
  std::string what = "?";
  if (b) {
    for (const trace::BufferedCall& c : trace::parse_buffered_calls(
             std::span(b->records).subspan(std::min<size_t>(h.drained, b->records.size())))) {
      what = std::string(sys::syscall_name(c.nr));
      break;
    }
  }
  diverge(index, fmt::format("thread {} reached its {} stop without making the buffered syscall "
                             "{} that was recorded before it",
                             t.vtid, trace::stop_kind_name(s.kind), what));
}

void ReplayEngine::report_buffer_divergence(size_t index, Thread& t) {
  bksb_header h{};
  if (!t.syscallbuf || !t.process->mem.read(*t.syscallbuf, &h, sizeof h)) {
    diverge(index, fmt::format("thread {}: the syscall buffer reported a divergence", t.vtid));
  }
  std::string made = fmt::format("{} ({})", sys::syscall_name(h.div_nr), h.div_nr);
  if (h.div_recorded_nr < 0) {
    diverge(index, fmt::format("thread {} made buffered syscall {}, but no more were recorded",
                               t.vtid, made));
  }
  std::string recorded =
      fmt::format("{} ({})", sys::syscall_name(h.div_recorded_nr), h.div_recorded_nr);
  if (h.div_arg < 0) {
    diverge(index,
            fmt::format("thread {} made buffered syscall {}, recorded {}", t.vtid, made, recorded));
  }
  if (h.div_arg == 6) {
    diverge(index, fmt::format("thread {}: buffered syscall {} returned {}, recorded {}", t.vtid,
                               made, static_cast<int64_t>(h.div_value),
                               static_cast<int64_t>(h.div_recorded_value)));
  }
  diverge(index,
          fmt::format("thread {}: buffered syscall {} has argument {} = {:#x}, recorded {:#x}",
                      t.vtid, made, h.div_arg, h.div_value, h.div_recorded_value));
}

// The run's buffered calls as the replay's bookkeeping sees syscalls: what
// they printed on the program's terminal, printed again (the library keeps
// the bytes of writes to descriptors of stdout's or stderr's file), and the
// descriptors they closed.
void ReplayEngine::after_buffered_calls(Thread& t, const trace::SyscallBuffer& b) {
  for (const trace::BufferedCall& c : trace::parse_buffered_calls(b.records)) {
    std::optional<int> stream = t.process->terminal.stream_of(static_cast<int>(c.args[0]));
    for (const trace::BufferedCall::Region& r : c.regions) {
      if (!(r.flags & BKSB_REGION_ECHO) || !stream || !options_.echo_output) continue;
      std::fflush(stdout);
      [[maybe_unused]] ssize_t w = ::write(*stream, r.data.data(), r.data.size());
    }
    t.process->terminal.after_syscall(c.nr, c.args, c.result);
  }
}

// Written in the process of the stop before it, as a Patch.
void ReplayEngine::play_code_write(size_t index, const trace::CodeWrite& c) {
  const Thread* last = thread_by_vtid(last_tid_);
  Process& in = last ? *last->process : root();
  for (const trace::MemWrite& w : c.writes) {
    in.mem.write_or_throw(w.addr, w.data.data(), w.data.size());
  }
  if (!c.rip) return;
  Thread* t = thread_by_vtid(c.tid);
  if (!t || t->dead) {
    diverge(index, fmt::format("thread {} should move to a patched site's slot", c.tid));
  }
  Registers regs = t->task.regs();
  regs.rip = c.rip;
  t->task.set_regs(regs);
}

}  // namespace backstep::replayer
