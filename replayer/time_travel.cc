#include "replayer/time_travel.h"

#include <sys/ptrace.h>
#include <sys/user.h>

#include <cstddef>
#include <fmt/core.h>

#include "base/errors.h"
#include "disasm/memory_access.h"

namespace backstep::replayer {
TimeTravel::TimeTravel(const trace::Trace& trace) : trace_(trace) { restart(); }

void TimeTravel::restart() {
  engine_.reset();  // the old program dies before the new one starts
  engine_ = std::make_unique<ReplayEngine>(trace_);
  thread_ = trace_.exec().tid;
}

void TimeTravel::select_thread(int32_t vtid) {
  if (!engine_->has_thread(vtid)) throw Error(fmt::format("no thread {} at this point", vtid));
  thread_ = vtid;
}

void TimeTravel::follow_next_thread() {
  if (int32_t next = engine_->next_thread(); next && engine_->has_thread(next)) thread_ = next;
}

uint64_t TimeTravel::run_start_ticks(int32_t vtid, size_t record) const {
  const auto& ev = trace_.events();
  for (size_t i = std::min(record, ev.size()); i-- > 0;) {
    if (const auto* s = std::get_if<trace::Stop>(&ev[i]); s && s->tid == vtid) return s->ticks;
  }
  return 0;
}

void TimeTravel::goto_position(const ReplayPosition& target) {
  ReplayPosition here = engine_->position(target.tid);
  bool behind = target.record < engine_->next_record() ||
                (target.record == engine_->next_record() &&
                 std::pair(here.ticks, here.steps) > std::pair(target.ticks, target.steps));
  if (behind) restart();
  engine_->play_until(target.record);
  thread_ = engine_->has_thread(target.tid) ? target.tid : thread_;
  if (!engine_->has_thread(target.tid)) return;
  ReplayPosition now = engine_->position(target.tid);
  if (target.ticks > now.ticks && !engine_->run_to_tick(target.tid, target.ticks)) {
    throw Error(fmt::format("position {} does not exist in this recording", target.str()));
  }
  while (engine_->position(target.tid).steps < target.steps &&
         engine_->position(target.tid).ticks == target.ticks) {
    if (!engine_->step(target.tid)) break;
  }
  if (engine_->position(target.tid) != target) {
    throw Error(fmt::format("position {} does not exist in this recording (reached {})",
                            target.str(), engine_->position(target.tid).str()));
  }
}

void TimeTravel::goto_record(size_t record) {
  if (record < engine_->next_record()) restart();
  engine_->play_until(std::max<size_t>(record, 2));
  follow_next_thread();
}

void TimeTravel::goto_start() {
  restart();
}

void TimeTravel::goto_end() {
  const auto& ev = trace_.events();
  // The last moment the program is alive: before its End record.
  size_t end = ev.size();
  if (end > 0 && std::holds_alternative<trace::End>(ev.back())) --end;
  goto_record(end);
}

bool TimeTravel::stepi() {
  if (!engine_->has_thread(thread_)) return false;
  return engine_->step(thread_);
}

bool TimeTravel::reverse_stepi() {
  const int32_t tid = thread_;
  ReplayPosition cur = where();
  if (cur.steps > 0) {
    ReplayPosition back = cur;
    back.steps--;
    goto_position(back);
    return true;
  }
  // Scans forward from `from` and lands one instruction before the moment
  // `reached` becomes true.
  auto land_before = [&](ReplayPosition from, auto reached) {
    goto_position(from);
    uint64_t n = 0;
    for (;;) {
      if (reached()) break;
      if (!engine_->step(tid)) return false;
      ++n;
    }
    if (n == 0) return false;
    goto_position(from);
    for (uint64_t i = 0; i + 1 < n; ++i) engine_->step(tid);
    thread_ = tid;
    return true;
  };
  uint64_t run_start = run_start_ticks(tid, cur.record);
  if (cur.ticks > run_start) {
    // Back across the tick counter: from the previous canonical point.
    ReplayPosition from{cur.record, tid, cur.ticks - 1 > run_start ? cur.ticks - 1 : run_start, 0};
    return land_before(from, [&] { return engine_->position(tid) == cur; });
  }
  // At the start of a run: the last instruction of the thread's previous
  // run, which ended at one of its recorded stops.
  const auto& ev = trace_.events();
  for (size_t p = cur.record; p-- > 2;) {
    const auto* s = std::get_if<trace::Stop>(&ev[p]);
    if (!s || s->tid != tid) continue;
    if (s->kind == trace::StopKind::kSyscallExit || s->kind == trace::StopKind::kClone ||
        s->kind == trace::StopKind::kExit) {
      continue;  // no instruction leads to these: look further back
    }
    uint64_t start = run_start_ticks(tid, p);
    uint64_t last = s->ticks;
    if (s->kind == trace::StopKind::kTrap &&
        s->value == static_cast<int64_t>(abi::TrapReason::kTickLimit)) {
      last = s->ticks - 1;
    }
    ReplayPosition from{p, tid, last > start ? last : start, 0};
    return land_before(from, [&] { return engine_->next_record() > p; });
  }
  return false;  // the start of the recording
}

PanicReport TimeTravel::goto_panic() {
  const auto& ev = trace_.events();
  const trace::End* end = trace_.end();
  if (!end || (end->exited && end->fatal_message.empty())) {
    throw Error("the recording ended normally: there is no panic to go to");
  }
  PanicReport report;
  // The fatal signal's stop: the last kSignal before End.
  size_t signal_record = 0;
  for (size_t i = ev.size(); i-- > 2;) {
    if (const auto* s = std::get_if<trace::Stop>(&ev[i]); s && s->kind == trace::StopKind::kSignal) {
      signal_record = i;
      break;
    }
  }
  // A map fatal: the kFatal event, and the events before it on that map.
  std::optional<abi::MapEvent> fatal;
  size_t fatal_batch = 0;
  std::vector<std::pair<size_t, abi::MapEvent>> all;
  for (size_t i = 2; i < ev.size(); ++i) {
    if (const auto* m = std::get_if<trace::MapEvents>(&ev[i])) {
      for (const auto& e : m->events) {
        all.emplace_back(i, e);
        if (e.kind == static_cast<uint8_t>(abi::MapEventKind::kFatal) && !fatal) {
          fatal = e;
          fatal_batch = i;
        }
      }
    }
  }
  if (!fatal) {
    if (!signal_record) throw Error("the recording ended without a fatal signal or map fatal");
    // A fault (SIGSEGV, ...) or an abort: the instruction the signal came from.
    const auto& s = std::get<trace::Stop>(ev[signal_record]);
    goto_record(signal_record + 1);
    thread_ = s.tid;
    const char* name = sigabbrev_np(static_cast<int>(s.value));
    report.what = fmt::format("SIG{}", name ? name : "?");
    report.tid = s.tid;
    report.position = where();
    report.pc = engine_->registers(s.tid).rip;
    return report;
  }
  report.map_fatal = true;
  report.fatal = fatal;
  report.what = abi::fatal_message(static_cast<abi::FatalKind>(fatal->arg0));
  report.tid = static_cast<int32_t>(fatal->tid);
  report.map = fatal->map;
  // Who set hashWriting: the last set on this map, before the fatal, with no
  // clear by the same thread after it.
  for (size_t k = 0; k < all.size(); ++k) {
    const abi::MapEvent& e = all[k].second;
    if (e.seq == fatal->seq && e.tid == fatal->tid && e.kind == fatal->kind) break;
    if (e.map != fatal->map) continue;
    if (e.kind == static_cast<uint8_t>(abi::MapEventKind::kWriteBegin)) {
      report.setter = e;
      report.setter_steps.clear();
    } else if (report.setter && e.tid == report.setter->tid) {
      if (e.kind == static_cast<uint8_t>(abi::MapEventKind::kWriteEnd)) {
        report.setter.reset();
      } else {
        report.setter_steps.push_back(e);
      }
    }
  }
  // The run in which the check failed ends at the stop where its events were
  // drained: the first Stop of that thread after the batch... the batch is
  // written just before that stop.
  size_t run_record = fatal_batch + 1;
  while (run_record < ev.size()) {
    const auto* s = std::get_if<trace::Stop>(&ev[run_record]);
    if (s && s->tid == report.tid) break;
    ++run_record;
  }
  // Start from the thread's previous map event in the same run (or the run
  // start), then single-step with a read/write watchpoint on the map's flags
  // byte: the last access before the call to the fatal handler is the check.
  uint64_t run_start = run_start_ticks(report.tid, run_record);
  uint64_t from_ticks = run_start;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    const abi::MapEvent& e = it->second;
    if (e.tid == fatal->tid && e.seq < fatal->seq && e.ticks > run_start) {
      from_ticks = e.ticks;
      break;
    }
  }
  ReplayPosition from{run_record, report.tid, from_ticks, 0};
  goto_position(from);
  // This machine kind has no working debug registers: decode each
  // instruction's memory operands instead.
  AccessDecoder decoder;
  uint64_t flags_addr = fatal->map + offsetof(abi::MapHeader, flags);
  uint64_t call_site = fatal->site - 5;  // `call` rel32 before the return address
  std::optional<ReplayPosition> check;
  uint64_t check_pc = 0;
  for (int guard = 0; guard < 2000000; ++guard) {
    Registers regs = engine_->registers(report.tid);
    if (regs.rip == call_site || engine_->next_record() > run_record) break;
    uint8_t code[16] = {};
    engine_->memory().read(regs.rip, code, sizeof code);
    for (const MemoryAccess& a : decoder.accesses(code, regs)) {
      if (a.read && overlaps(a, flags_addr, 1)) {
        check = where();
        check_pc = regs.rip;
      }
    }
    if (!engine_->step(report.tid)) break;
  }
  if (!check) throw Error("could not find the instruction that checked the map's flags");
  goto_position(*check);
  report.position = *check;
  report.pc = check_pc;
  return report;
}

int TimeTravel::add_breakpoint(uint64_t addr) {
  breakpoints_.push_back({next_id_, addr});
  return next_id_++;
}

int TimeTravel::add_watchpoint(uint64_t addr, uint64_t len, WatchKind kind) {
  if (len == 0 || len > 8) throw Error("a watchpoint covers 1 to 8 bytes");
  watchpoints_.push_back({next_id_, addr, len, kind});
  return next_id_++;
}

bool TimeTravel::remove(int id) {
  auto b = std::erase_if(breakpoints_, [&](const Breakpoint& x) { return x.id == id; });
  auto w = std::erase_if(watchpoints_, [&](const Watchpoint& x) { return x.id == id; });
  return b + w > 0;
}

ResumeStop TimeTravel::resume(Direction, const EventFilter&) {
  throw Error("continue is not built yet");
}

}  // namespace backstep::replayer
