#include "replayer/time_travel.h"

#include <fmt/core.h>
#include <sys/ptrace.h>
#include <sys/user.h>

#include <algorithm>
#include <cstddef>
#include <map>
#include <tuple>

#include "base/errors.h"
#include "disasm/memory_access.h"

namespace backstep::replayer {
namespace {

// The first position: just after the exec thread's first Stop record (the
// exec's syscall exit), at the first instruction the program runs.
size_t first_position_record(const trace::Trace& t) {
  const auto& ev = t.events();
  for (size_t i = 2; i < ev.size(); ++i) {
    if (std::holds_alternative<trace::Stop>(ev[i])) return i + 1;
  }
  return std::min<size_t>(2, ev.size());
}

// The End record's index (or the number of records of a cut trace): a
// resume never plays it, the program would be gone.
size_t end_record(const trace::Trace& t) {
  const auto& ev = t.events();
  size_t end = ev.size();
  if (end > 0 && std::holds_alternative<trace::End>(ev.back())) --end;
  return end;
}

}  // namespace

TimeTravel::TimeTravel(const trace::Trace& trace, TimeTravelOptions options)
    : trace_(trace), options_(options) {
  auto root = std::make_unique<ReplayEngine>(trace_);
  root->play_until(first_position_record(trace_));
  start_record_ = root->next_record();
  thread_ = trace_.exec().tid;
  if (options_.checkpoint_interval.count() > 0 && root->can_fork()) {
    // The launched program is never run again: every live engine is a copy.
    checkpoints_.push_back({start_record_, thread_, std::move(root)});
    checkpointing_ = true;
    restore(start_record_);
  } else {
    engine_ = std::move(root);
  }
}

TimeTravel::~TimeTravel() {
  // Copies first: the launched program holds the PID namespace they live in.
  engine_.reset();
  walks_.clear();
  while (!checkpoints_.empty()) checkpoints_.pop_back();
}

std::vector<size_t> TimeTravel::checkpoints() const {
  std::vector<size_t> out;
  for (const Checkpoint& c : checkpoints_) out.push_back(c.record);
  return out;
}

std::vector<ReplayPosition> TimeTravel::mid_run_checkpoints() const {
  std::vector<ReplayPosition> out;
  for (const WalkCheckpoint& w : walks_) out.push_back(w.at);
  return out;
}

void TimeTravel::stop_checkpointing(const std::string& why) {
  std::fprintf(stderr, "backstep: no more checkpoints (%s); going back replays from the start\n",
               why.c_str());
  checkpointing_ = false;
}

namespace {

// Orders moments for choosing checkpoints: a record boundary (no run in
// progress) comes before any moment inside that record's run.
using MomentKey = std::tuple<uint64_t, int, uint64_t, uint64_t>;
MomentKey boundary_key(size_t record) { return {record, 0, 0, 0}; }
MomentKey mid_run_key(const ReplayPosition& p) { return {p.record, 1, p.ticks, p.steps}; }

// Whether the replay can go forward from a mid-run moment `at` to `target`.
bool reaches(const ReplayPosition& at, const ReplayPosition& target) {
  if (at.record != target.record) return at.record < target.record;
  return at.tid == target.tid &&
         std::pair(at.ticks, at.steps) <= std::pair(target.ticks, target.steps);
}

constexpr uint64_t kWalkSteps = 512;  // about 8 ms of single steps
constexpr size_t kMaxWalks = 8;

}  // namespace

std::vector<TimeTravel::Checkpoint>::iterator TimeTravel::latest_checkpoint(size_t record) {
  // The first (the start) serves any record, even one before it.
  auto it = std::upper_bound(checkpoints_.begin() + 1, checkpoints_.end(), record,
                             [](size_t r, const Checkpoint& c) { return r < c.record; });
  return std::prev(it);
}

void TimeTravel::restore(const ReplayPosition& target) {
  engine_.reset();  // the old program dies before the new one starts
  walked_ = 0;
  while (!engine_ && !checkpoints_.empty()) {
    auto from = latest_checkpoint(target.record);
    // A mid-run checkpoint the target lies after, later than that one.
    auto walk = walks_.end();
    for (auto w = walks_.begin(); w != walks_.end(); ++w) {
      if (reaches(w->at, target) && mid_run_key(w->at) > boundary_key(from->record) &&
          (walk == walks_.end() || mid_run_key(w->at) > mid_run_key(walk->at))) {
        walk = w;
      }
    }
    try {
      if (walk != walks_.end()) {
        engine_ = walk->engine->fork();
        if (engine_) thread_ = walk->at.tid;
      } else {
        engine_ = from->engine->fork();
        if (engine_) thread_ = from->thread;
      }
      if (!engine_) throw Error("a checkpoint cannot be copied");
    } catch (const Error& e) {
      if (checkpointing_) stop_checkpointing(e.what());
      // That one is no use any more; without the first, none is (the
      // namespace they live in goes with it).
      if (walk != walks_.end()) {
        walks_.erase(walk);
      } else if (from == checkpoints_.begin()) {
        walks_.clear();
        while (!checkpoints_.empty()) checkpoints_.pop_back();
      } else {
        checkpoints_.erase(from);
      }
    }
  }
  if (!engine_) {
    engine_ = std::make_unique<ReplayEngine>(trace_);
    engine_->play_until(start_record_);
    thread_ = trace_.exec().tid;
  }
  if (checkpointing_) engine_->set_record_hook([this] { keep_checkpoint(); });
  last_checkpoint_ = std::chrono::steady_clock::now();
}

void TimeTravel::seek(const ReplayPosition& target, bool behind) {
  if (!engine_ || behind) return restore(target);
  if (checkpoints_.empty()) return;
  MomentKey here = boundary_key(engine_->next_record());
  if (int32_t running = engine_->running_thread()) here = mid_run_key(engine_->position(running));
  bool nearer = boundary_key(latest_checkpoint(target.record)->record) > here;
  for (const WalkCheckpoint& w : walks_) {
    if (reaches(w.at, target) && mid_run_key(w.at) > here) nearer = true;
  }
  if (nearer) restore(target);
}

void TimeTravel::recover(const ReplayPosition& position, int32_t thread) {
  engine_.reset();
  goto_position(position);
  if (engine_->has_thread(thread)) thread_ = thread;
}

bool TimeTravel::walk_step(int32_t tid) {
  if (!engine_->step(tid)) return false;
  if (++walked_ >= kWalkSteps) keep_walk_checkpoint();
  return true;
}

void TimeTravel::keep_walk_checkpoint() {
  walked_ = 0;
  int32_t running = engine_->running_thread();
  if (!checkpointing_ || !running || !engine_->can_fork()) return;
  const ReplayPosition at = engine_->position(running);
  for (const WalkCheckpoint& w : walks_) {
    if (w.at == at) return;
  }
  try {
    auto copy = engine_->fork();
    if (!copy) return;
    walks_.push_back({at, std::move(copy)});
  } catch (const Error& e) {
    stop_checkpointing(e.what());
    return;
  }
  if (walks_.size() > kMaxWalks) walks_.erase(walks_.begin());
}

void TimeTravel::keep_checkpoint() {
  auto now = std::chrono::steady_clock::now();
  if (!checkpointing_ || now - last_checkpoint_ < options_.checkpoint_interval) return;
  const size_t record = engine_->next_record();
  auto at = std::lower_bound(checkpoints_.begin(), checkpoints_.end(), record,
                             [](const Checkpoint& c, size_t r) { return c.record < r; });
  if (at != checkpoints_.end() && at->record == record) {
    last_checkpoint_ = now;
    return;
  }
  if (!engine_->can_fork()) return;
  std::unique_ptr<ReplayEngine> copy;
  try {
    copy = engine_->fork();
  } catch (const Error& e) {
    stop_checkpointing(e.what());  // those taken so far still serve
    return;
  }
  int32_t thread = engine_->next_thread();
  if (!thread || !engine_->has_thread(thread)) thread = thread_;
  checkpoints_.insert(at, {record, thread, std::move(copy)});
  // Thin out: the one whose neighbours are closest goes (never the start
  // or the latest), which keeps them spread over what was replayed.
  while (checkpoints_.size() > std::max<size_t>(options_.max_checkpoints, 3)) {
    size_t drop = 1;
    for (size_t i = 1; i + 1 < checkpoints_.size(); ++i) {
      if (checkpoints_[i + 1].record - checkpoints_[i - 1].record <
          checkpoints_[drop + 1].record - checkpoints_[drop - 1].record) {
        drop = i;
      }
    }
    checkpoints_.erase(checkpoints_.begin() + static_cast<std::ptrdiff_t>(drop));
  }
  last_checkpoint_ = std::chrono::steady_clock::now();  // the copy's cost is not replaying
}

void TimeTravel::select_thread(int32_t vtid) {
  if (!engine_->has_thread(vtid)) throw Error(fmt::format("no thread {} at this point", vtid));
  thread_ = vtid;
}

void TimeTravel::follow_next_thread() {
  if (int32_t next = engine_->next_thread(); next && engine_->has_thread(next)) {
    thread_ = next;
    return;
  }
  // No thread runs after this (the end): the one that stopped last.
  const auto& ev = trace_.events();
  for (size_t i = std::min(engine_->next_record(), ev.size()); i-- > 0;) {
    if (const auto* s = std::get_if<trace::Stop>(&ev[i]); s && engine_->has_thread(s->tid)) {
      thread_ = s->tid;
      return;
    }
  }
}

uint64_t TimeTravel::run_start_ticks(int32_t vtid, size_t record) const {
  const auto& ev = trace_.events();
  for (size_t i = std::min(record, ev.size()); i-- > 0;) {
    if (const auto* s = std::get_if<trace::Stop>(&ev[i]); s && s->tid == vtid) return s->ticks;
  }
  return 0;
}

void TimeTravel::goto_position(const ReplayPosition& target) {
  bool behind = !engine_;
  if (engine_) {
    ReplayPosition here = engine_->position(target.tid);
    behind = target.record < engine_->next_record() ||
             (target.record == engine_->next_record() &&
              std::pair(here.ticks, here.steps) > std::pair(target.ticks, target.steps));
  }
  seek(target, behind);
  engine_->play_until(target.record);
  thread_ = engine_->has_thread(target.tid) ? target.tid : thread_;
  if (!engine_->has_thread(target.tid)) return;
  ReplayPosition now = engine_->position(target.tid);
  if (target.ticks > now.ticks && !engine_->run_to_tick(target.tid, target.ticks)) {
    throw Error(fmt::format("position {} does not exist in this recording", target.str()));
  }
  while (engine_->position(target.tid).steps < target.steps &&
         engine_->position(target.tid).ticks == target.ticks) {
    if (!walk_step(target.tid)) break;
  }
  if (engine_->position(target.tid) != target) {
    throw Error(fmt::format("position {} does not exist in this recording (reached {})",
                            target.str(), engine_->position(target.tid).str()));
  }
}

void TimeTravel::goto_record(size_t record) {
  if (size_t end = end_record(trace_); record > end) {
    throw Error(
        fmt::format("there is no event {}: this recording's events go up to {}", record, end));
  }
  record = std::max(record, start_record_);
  seek(ReplayPosition{record, 0, 0, 0}, record < engine_->next_record());
  engine_->play_until(record);
  follow_next_thread();
}

void TimeTravel::goto_start() {
  restore(start_record_);
  thread_ = trace_.exec().tid;
}

void TimeTravel::goto_end() {
  goto_record(end_record(trace_));  // the last moment the program is alive
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
    std::optional<ReplayPosition> before;
    while (!reached()) {
      before = engine_->position(tid);
      if (!walk_step(tid)) return false;
    }
    if (!before) return false;
    goto_position(*before);
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
    if (const auto* s = std::get_if<trace::Stop>(&ev[i]);
        s && s->kind == trace::StopKind::kSignal) {
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
      report.setter_record = all[k].first;
      report.setter_steps.clear();
    } else if (report.setter && e.tid == report.setter->tid) {
      if (e.kind == static_cast<uint8_t>(abi::MapEventKind::kWriteEnd)) {
        report.setter.reset();
      } else {
        report.setter_steps.push_back(e);
      }
    }
  }
  // The setter's store comes first in the recording: found before the check,
  // the replay only moves forward.
  if (report.setter) {
    try {
      report.setter_store = goto_flag_store(*this, *report.setter, report.setter_record);
    } catch (const Error& e) {
      report.setter_store_error = e.what();
    }
  }
  // The run in which the check failed ends at the stop where its events were
  // drained.
  size_t run_record = run_record_of_batch(trace_, report.tid, fatal_batch);
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

// ---- continue and reverse-continue ----
//
// Both directions find a moment in two passes. A probe runs threads at
// native speed toward their recorded stops with int3 planted on the
// breakpoints, compares the write watchpoints' values record by record, and
// reads the map-event batches: it tells in which run (of which recorded
// stop) the moment lies, and from which tick. scan() then single-steps that
// stretch with every condition checked at every instruction, which gives the
// exact instruction and a position that `goto` finds again. Read and access
// watchpoints cannot be probed (no debug registers on this machine kind):
// with one set, scan() steps the whole way.

struct TimeTravel::Match {
  ResumeStop::Why why = ResumeStop::Why::kEndOfTrace;
  ReplayPosition position;
  int32_t tid = 0;
  int id = 0;
  uint64_t data_addr = 0;
  std::optional<uint64_t> old_value, new_value;
  size_t record = 0;
  int signal = 0;
};

class TimeTravel::Conditions {
 public:
  Conditions(const TimeTravel& tt, const EventFilter& events, Direction direction)
      : trace_(tt.trace_), events_(events), direction_(direction) {
    for (const Breakpoint& b : tt.breakpoints_) breakpoints_.push_back(b);
    for (const Watchpoint& w : tt.watchpoints_) {
      if (w.kind == WatchKind::kWrite) {
        writes_.push_back({w, std::nullopt});
      } else {
        accesses_.push_back(w);
      }
    }
    if (events.map) {
      const auto& ev = trace_.events();
      for (size_t i = 2; i < ev.size(); ++i) {
        const auto* m = std::get_if<trace::MapEvents>(&ev[i]);
        if (!m) continue;
        for (const abi::MapEvent& e : m->events) {
          auto tid = static_cast<int32_t>(e.tid);
          size_t run = i + 1;  // the events were made in the run ending at tid's next stop
          while (run < ev.size()) {
            const auto* st = std::get_if<trace::Stop>(&ev[run]);
            if (st && st->tid == tid) break;
            ++run;
          }
          map_events_.push_back({i, run, tid, e.ticks, e.site});
          by_run_.emplace(run, map_events_.size() - 1);
        }
      }
    }
  }

  struct MapEventAt {
    size_t batch;  // the MapEvents record
    size_t run;    // the Stop record ending the run the event was made in
    int32_t tid;
    uint64_t ticks;
    uint64_t site;  // the event is "at" the instruction its hook returns to
  };
  const std::vector<MapEventAt>& map_events() const { return map_events_; }
  // The map events made in the run ending at Stop record `run`.
  std::vector<const MapEventAt*> map_events_of_run(size_t run) const {
    std::vector<const MapEventAt*> out;
    for (auto [it, end] = by_run_.equal_range(run); it != end; ++it) {
      out.push_back(&map_events_[it->second]);
    }
    return out;
  }
  bool needs_stepping() const { return !accesses_.empty(); }
  std::vector<uint64_t> breakpoint_addrs() const {
    std::vector<uint64_t> out;
    for (const Breakpoint& b : breakpoints_) out.push_back(b.addr);
    return out;
  }

  // Remembers the write-watched values as they are now.
  void refresh(const ReplayEngine& e) {
    for (auto& w : writes_) w.value = read(e, w.watch);
  }
  // The write watchpoint the runtime can check at every tick (one only).
  std::optional<ReplayEngine::ValueWatch> runtime_watch() const {
    if (writes_.size() != 1) return std::nullopt;
    return ReplayEngine::ValueWatch{writes_[0].watch.addr,
                                    static_cast<uint32_t>(writes_[0].watch.len)};
  }
  bool values_changed(const ReplayEngine& e) const {
    for (const auto& w : writes_) {
      if (read(e, w.watch) != w.value) return true;
    }
    return false;
  }

  // Before `vtid` executes its next instruction.
  std::optional<Match> before(const ReplayEngine& e, int32_t vtid, const ReplayPosition& at) {
    pending_access_.reset();
    Registers regs = e.registers(vtid);
    for (const Breakpoint& b : breakpoints_) {
      if (b.addr == regs.rip) return match(ResumeStop::Why::kBreakpoint, at, vtid, b.id);
    }
    for (const MapEventAt* m : map_events_of_run(at.record)) {
      if (m->tid == vtid && m->ticks == at.ticks && m->site == regs.rip) {
        Match x = match(ResumeStop::Why::kEvent, at, vtid, 0);
        x.record = m->batch;
        return x;
      }
    }
    if (!accesses_.empty()) {
      uint8_t code[16] = {};
      e.memory(vtid).read(regs.rip, code, sizeof code);
      for (const MemoryAccess& a : decoder_.accesses(code, regs)) {
        for (const Watchpoint& w : accesses_) {
          bool kind_ok = w.kind == WatchKind::kAccess || a.read;
          if (kind_ok && overlaps(a, w.addr, w.len)) {
            Match x = match(ResumeStop::Why::kWatchpoint, at, vtid, w.id);
            x.data_addr = w.addr;
            pending_access_ = x;
          }
        }
      }
    }
    return std::nullopt;
  }

  // After it executed, which played records [from, to).
  std::optional<Match> after(const ReplayEngine& e, int32_t vtid, const ReplayPosition& was,
                             size_t from, size_t to) {
    ReplayPosition now = e.position(vtid);
    // A watchpoint stops just after the access going forward, and on the
    // accessing instruction going backward, as gdb does.
    const ReplayPosition& at = direction_ == Direction::kForward ? now : was;
    for (auto& w : writes_) {
      std::optional<uint64_t> v = read(e, w.watch);
      if (v == w.value) continue;
      Match x = match(ResumeStop::Why::kWatchpoint, at, vtid, w.watch.id);
      x.data_addr = w.watch.addr;
      x.old_value = w.value;
      x.new_value = v;
      refresh(e);
      return x;
    }
    if (pending_access_) {
      Match x = *pending_access_;
      x.position = at;
      pending_access_.reset();
      return x;
    }
    for (size_t r = from; r < to; ++r) {
      if (auto m = at_record(e, r)) return m;
    }
    return std::nullopt;
  }

  // A recorded event just played, when it is of a kind asked for.
  std::optional<Match> at_record(const ReplayEngine& e, size_t r) const {
    const auto& ev = trace_.events()[r];
    if (const auto* s = std::get_if<trace::Stop>(&ev)) {
      if (s->kind == trace::StopKind::kSignal && direction_ == Direction::kForward) {
        Match x = match(ResumeStop::Why::kSignal, e.position(s->tid), s->tid, 0);
        x.record = r;
        x.signal = static_cast<int>(s->value);
        return x;
      }
      if (events_.syscall && s->kind == trace::StopKind::kSyscallEntry) {
        Match x = match(ResumeStop::Why::kEvent, e.position(s->tid), s->tid, 0);
        x.record = r;
        return x;
      }
    } else if (const auto* sw = std::get_if<trace::Switch>(&ev); sw && events_.switches) {
      int32_t to = e.has_thread(sw->to) ? sw->to : sw->from;
      Match x = match(ResumeStop::Why::kEvent, e.position(to), to, 0);
      x.record = r;
      return x;
    }
    return std::nullopt;
  }

 private:
  struct WriteWatch {
    Watchpoint watch;
    std::optional<uint64_t> value;
  };
  static std::optional<uint64_t> read(const ReplayEngine& e, const Watchpoint& w) {
    uint64_t v = 0;
    if (!e.memory().read(w.addr, &v, w.len)) return std::nullopt;
    return v;
  }
  static Match match(ResumeStop::Why why, const ReplayPosition& at, int32_t tid, int id) {
    Match m;
    m.why = why;
    m.position = at;
    m.tid = tid;
    m.id = id;
    return m;
  }

  const trace::Trace& trace_;
  EventFilter events_;
  Direction direction_;
  std::vector<Breakpoint> breakpoints_;
  std::vector<WriteWatch> writes_;
  std::vector<Watchpoint> accesses_;
  std::vector<MapEventAt> map_events_;
  std::multimap<size_t, size_t> by_run_;  // run record -> index in map_events_
  AccessDecoder decoder_;
  std::optional<Match> pending_access_;
};

namespace {

// Where a probe saw something: in the run toward Stop record `run`, at or
// after the canonical point `from`, and (when known) at tick `bound` at the
// latest. Thrown out of a forward probe at its first sighting.
struct Sighting {
  ReplayPosition from;
  size_t run = 0;
  std::optional<uint64_t> bound;
};

// Breakpoints and the value watch of one probe, taken out of the engine
// however the probe ends.
class ProbeScope {
 public:
  explicit ProbeScope(ReplayEngine& engine) : engine_(engine) {}
  ~ProbeScope() {
    engine_.clear_breakpoints();
    engine_.clear_value_watch();
  }
  ProbeScope(const ProbeScope&) = delete;
  ProbeScope& operator=(const ProbeScope&) = delete;

 private:
  ReplayEngine& engine_;
};

}  // namespace

std::vector<TimeTravel::Executed> TimeTravel::recent_history(uint64_t ticks) {
  const ReplayPosition here = now();
  const int32_t tid = here.tid;
  uint64_t start = run_start_ticks(tid, here.record);
  uint64_t from = here.ticks > start + ticks ? here.ticks - ticks : start;
  std::vector<Executed> out;
  goto_position(ReplayPosition{here.record, tid, from, 0});
  while (engine_->position(tid) != here) {
    out.push_back({engine_->position(tid), engine_->registers(tid)});
    if (!walk_step(tid) || engine_->next_record() > here.record) {
      throw Error(fmt::format("lost position {} while looking back", here.str()));
    }
  }
  thread_ = tid;
  return out;
}

bool TimeTravel::history_reaches_run_start(uint64_t ticks) const {
  const ReplayPosition here = now();
  return here.ticks <= run_start_ticks(here.tid, here.record) + ticks;
}

ReplayPosition TimeTravel::now() const {
  if (int32_t running = engine_->running_thread()) return engine_->position(running);
  return where();
}

std::optional<TimeTravel::Match> TimeTravel::scan(Conditions& c,
                                                  const std::function<bool()>& in_region,
                                                  bool want_last) {
  std::optional<Match> last;
  const size_t end = end_record(trace_);
  c.refresh(*engine_);
  while (engine_->next_record() < end && in_region()) {
    int32_t v = engine_->next_thread();
    if (!v || !engine_->has_thread(v)) {
      size_t from = engine_->next_record();
      engine_->play_record();
      if (auto m = c.at_record(*engine_, from)) {
        if (!want_last) return m;
        last = m;
      }
      continue;
    }
    ReplayPosition was = engine_->position(v);
    if (auto m = c.before(*engine_, v, was)) {
      if (!want_last) return m;
      last = m;
    }
    size_t from = engine_->next_record();
    if (!engine_->step(v)) break;
    if (auto m = c.after(*engine_, v, was, from, engine_->next_record())) {
      if (!want_last) return m;
      last = m;
    }
  }
  return last;
}

ResumeStop TimeTravel::stop_at(const Match& m) {
  ResumeStop stop;
  stop.why = m.why;
  stop.tid = m.tid;
  if (engine_->has_thread(m.tid)) thread_ = m.tid;
  stop.position = where();
  stop.pc = engine_->has_thread(thread_) ? engine_->registers(thread_).rip : 0;
  if (m.why == ResumeStop::Why::kBreakpoint) stop.breakpoint = m.id;
  if (m.why == ResumeStop::Why::kWatchpoint) stop.watchpoint = m.id;
  stop.data_addr = m.data_addr;
  stop.old_value = m.old_value;
  stop.new_value = m.new_value;
  stop.record = m.record;
  stop.signal = m.signal;
  return stop;
}

ResumeStop TimeTravel::stop_here(ResumeStop::Why why) const {
  ResumeStop stop;
  stop.why = why;
  stop.tid = thread_;
  stop.position = where();
  if (engine_->has_thread(thread_)) stop.pc = engine_->registers(thread_).rip;
  return stop;
}

bool TimeTravel::stepi(std::optional<ResumeStop>* hit) {
  if (!engine_->has_thread(thread_)) return false;
  if (!hit || watchpoints_.empty()) return engine_->step(thread_);
  Conditions c(*this, EventFilter{}, Direction::kForward);
  const int32_t v = thread_;
  c.refresh(*engine_);
  const ReplayPosition was = engine_->position(v);
  c.before(*engine_, v, was);  // arms access watchpoints; a breakpoint here does not stop
  const size_t from = engine_->next_record();
  if (!engine_->step(v)) return false;
  if (auto m = c.after(*engine_, v, was, from, engine_->next_record());
      m && m->why == ResumeStop::Why::kWatchpoint) {
    *hit = stop_at(*m);
  }
  return true;
}

ResumeStop TimeTravel::resume(Direction direction, const EventFilter& events) {
  return direction == Direction::kForward ? resume_forward(events) : resume_backward(events);
}

std::optional<ResumeStop> TimeTravel::reverse_to(std::vector<Breakpoint> breakpoints,
                                                 std::vector<Watchpoint> watchpoints) {
  // The user's stop points are set aside for this search and put back
  // however it ends, with their ids.
  std::swap(breakpoints, breakpoints_);
  std::swap(watchpoints, watchpoints_);
  struct PutBack {
    TimeTravel& tt;
    std::vector<Breakpoint>& b;
    std::vector<Watchpoint>& w;
    ~PutBack() {
      std::swap(b, tt.breakpoints_);
      std::swap(w, tt.watchpoints_);
    }
  } put_back{*this, breakpoints, watchpoints};
  ResumeStop stop = resume_backward(EventFilter{});
  if (stop.why != ResumeStop::Why::kWatchpoint && stop.why != ResumeStop::Why::kBreakpoint) {
    return std::nullopt;
  }
  return stop;
}

std::optional<ResumeStop> TimeTravel::last_change(uint64_t addr, uint64_t len) {
  if (len == 0 || len > 8) throw Error("a watchpoint covers 1 to 8 bytes");
  return reverse_to({}, {{0, addr, len, WatchKind::kWrite}});
}

ResumeStop TimeTravel::resume_forward(const EventFilter& events) {
  Conditions c(*this, events, Direction::kForward);
  const size_t end = end_record(trace_);
  auto at_end = [&] { return stop_here(ResumeStop::Why::kEndOfTrace); };
  if (engine_->next_record() >= end) return at_end();
  // The first instruction is stepped with no breakpoint checked: a
  // breakpoint under the current position does not stop at once.
  {
    int32_t v = engine_->running_thread() ? engine_->running_thread() : engine_->next_thread();
    c.refresh(*engine_);
    if (v && engine_->has_thread(v)) {
      ReplayPosition was = engine_->position(v);
      c.before(*engine_, v, was);  // arms access watchpoints only
      size_t from = engine_->next_record();
      if (engine_->step(v)) {
        if (auto m = c.after(*engine_, v, was, from, engine_->next_record())) return stop_at(*m);
      }
    }
  }
  if (c.needs_stepping()) {
    auto m = scan(
        c, [] { return true; }, false);
    return m ? stop_at(*m) : at_end();
  }
  const std::vector<uint64_t> addrs = c.breakpoint_addrs();
  const auto watch = c.runtime_watch();
  for (;;) {
    // Probe: find the run where the next moment lies.
    const ReplayPosition start = now();
    std::optional<Sighting> seen;
    c.refresh(*engine_);
    try {
      ProbeScope probe(*engine_);
      engine_->set_breakpoints(addrs, [&](int32_t v, uint64_t, uint64_t ticks) {
        size_t r = engine_->next_record();
        // A watched value that changed before the hit did so earlier in the run.
        uint64_t from = c.values_changed(*engine_) ? run_start_ticks(v, r) : ticks;
        throw Sighting{ReplayPosition{r, v, from, 0}, r, ticks};
      });
      engine_->set_value_watch(watch, [&](int32_t v, uint64_t ticks) {
        size_t r = engine_->next_record();
        uint64_t from = std::max(ticks - 1, run_start_ticks(v, r));
        throw Sighting{ReplayPosition{r, v, from, 0}, r, ticks};
      });
      while (!seen && engine_->next_record() < end) {
        size_t r = engine_->next_record();
        const auto* s = std::get_if<trace::Stop>(&trace_.events()[r]);
        // A map event due in this run: run up to its tick, then look.
        for (const auto* m : c.map_events_of_run(r)) {
          if (s && m->tid == s->tid &&
              std::pair(m->run, m->ticks) >= std::pair(start.record, start.ticks)) {
            seen = Sighting{ReplayPosition{r, m->tid, m->ticks, 0}, r, m->ticks};
            break;
          }
        }
        if (seen) break;
        engine_->play_record();
        if (s && c.values_changed(*engine_)) {
          // Changed where the runtime does not look (a syscall's write,
          // uninstrumented code): the whole run.
          seen = Sighting{ReplayPosition{r, s->tid, run_start_ticks(s->tid, r), 0}, r, {}};
        } else if (auto m = c.at_record(*engine_, r)) {
          return stop_at(*m);
        }
      }
    } catch (const Sighting& hit) {
      seen = hit;
      engine_.reset();  // the probe left a thread inside a trap
    }
    if (!seen) return at_end();
    // Look from there (or from where we stood, when that is later in the
    // same run) through the end of the run.
    goto_position(start < seen->from ? seen->from : start);
    const size_t run = seen->run;
    auto m = scan(
        c, [&] { return engine_->next_record() <= run; }, false);
    if (m) return stop_at(*m);
    if (engine_->next_record() >= end) return at_end();
  }
}

ResumeStop TimeTravel::resume_backward(const EventFilter& events) {
  Conditions c(*this, events, Direction::kBackward);
  const ReplayPosition start = now();
  auto before_start = [&] {
    if (engine_->next_record() > start.record) return false;
    if (engine_->next_record() < start.record) return true;
    int32_t v = engine_->running_thread();
    if (!v) v = engine_->next_thread();
    if (v != start.tid) return true;
    ReplayPosition p = engine_->position(v);
    return std::pair(p.ticks, p.steps) < std::pair(start.ticks, start.steps);
  };
  // Between two checkpoints, latest first: the first stretch with a match
  // holds the last one before now.
  std::vector<size_t> bounds;
  for (const Checkpoint& k : checkpoints_) {
    if (k.record <= start.record) bounds.push_back(k.record);
  }
  if (bounds.empty()) bounds.push_back(start_record_);
  for (size_t k = bounds.size(); k-- > 0;) {
    const bool last = k + 1 == bounds.size();
    const size_t end = last ? start.record : bounds[k + 1];
    if (auto stop = look_back(c, start, bounds[k], end, last, before_start)) return *stop;
  }
  goto_start();
  return stop_here(ResumeStop::Why::kStartOfTrace);
}

std::optional<ResumeStop> TimeTravel::look_back(Conditions& c, const ReplayPosition& start,
                                                size_t begin, size_t end, bool last,
                                                const std::function<bool()>& before_start) {
  restore(begin);
  if (c.needs_stepping()) {
    auto m = scan(
        c, [&] { return before_start() && (last || engine_->next_record() < end); }, true);
    if (!m) return std::nullopt;
    goto_position(m->position);
    return stop_at(*m);
  }
  // Probe the stretch, keeping every run where something happens; then
  // look closely at the last such run.
  std::vector<Sighting> found;
  std::optional<Match> last_boundary;
  const auto watch = c.runtime_watch();
  std::optional<uint64_t> trapped_value;  // the watched value the runtime last reported
  std::optional<ProbeScope> probe(std::in_place, *engine_);
  engine_->set_breakpoints(c.breakpoint_addrs(), [&](int32_t v, uint64_t, uint64_t ticks) {
    size_t r = engine_->next_record();
    found.push_back({ReplayPosition{r, v, ticks, 0}, r, ticks});
  });
  engine_->set_value_watch(watch, [&](int32_t v, uint64_t ticks) {
    size_t r = engine_->next_record();
    found.push_back(
        {ReplayPosition{r, v, std::max(ticks - 1, run_start_ticks(v, r)), 0}, r, ticks});
    uint64_t value = 0;
    if (engine_->memory().read(watch->addr, &value, watch->len)) trapped_value = value;
  });
  c.refresh(*engine_);
  const size_t from_record = engine_->next_record();  // `begin`, or earlier
  for (const auto& m : c.map_events()) {
    ReplayPosition p{m.run, m.tid, m.ticks, 0};
    if (m.run >= from_record && (last || m.run < end) && p < start) {
      found.push_back({p, m.run, m.ticks});
    }
  }
  auto unexplained_change = [&] {
    if (!c.values_changed(*engine_)) return false;
    uint64_t value = 0;
    bool explained = watch && trapped_value &&
                     engine_->memory().read(watch->addr, &value, watch->len) &&
                     value == *trapped_value;
    trapped_value.reset();
    c.refresh(*engine_);
    return !explained;
  };
  while (engine_->next_record() < end) {
    size_t r = engine_->next_record();
    const auto* s = std::get_if<trace::Stop>(&trace_.events()[r]);
    engine_->play_record();
    if (s && unexplained_change()) {
      found.push_back({ReplayPosition{r, s->tid, run_start_ticks(s->tid, r), 0}, r, {}});
    }
    if (auto m = c.at_record(*engine_, r)) {
      m->position = engine_->position(m->tid);
      last_boundary = m;
    }
  }
  if (last) {
    // The run in progress at `start`, up to it.
    if (engine_->has_thread(start.tid) && start.ticks > engine_->position(start.tid).ticks) {
      engine_->run_to_tick(start.tid, start.ticks);
    }
    if (unexplained_change()) {
      found.push_back(
          {ReplayPosition{start.record, start.tid, run_start_ticks(start.tid, start.record), 0},
           start.record,
           {}});
    } else if (start.steps > 0) {
      found.push_back(
          {ReplayPosition{start.record, start.tid, start.ticks, 0}, start.record, start.ticks});
    }
  }
  probe.reset();
  std::sort(found.begin(), found.end(),
            [](const Sighting& a, const Sighting& b) { return a.from < b.from; });
  while (!found.empty()) {
    const Sighting latest = found.back();
    const size_t run = latest.run;
    // A boundary event after the last candidate run wins outright.
    if (last_boundary && last_boundary->position.record > run) break;
    // Look through the last sighting's stretch: its tick, or, when
    // something in the run changed where the runtime does not look, from
    // there to the end of the run.
    bool whole_run = false;
    ReplayPosition from = latest.from;
    for (const Sighting& k : found) {
      if (k.run == run && !k.bound) whole_run = true;
    }
    if (whole_run) {
      from = ReplayPosition{run, latest.from.tid, run_start_ticks(latest.from.tid, run), 0};
      for (const Sighting& k : found) {
        if (k.run == run && k.bound) from = std::max(from, k.from);
      }
    }
    const std::optional<uint64_t> bound = whole_run ? std::nullopt : latest.bound;
    const int32_t tid = from.tid;
    goto_position(from);
    auto m = scan(
        c,
        [&] {
          return engine_->next_record() <= run && before_start() &&
                 (!bound || !engine_->has_thread(tid) || engine_->position(tid).ticks <= *bound);
        },
        true);
    if (m) {
      goto_position(m->position);
      return stop_at(*m);
    }
    if (whole_run) {
      std::erase_if(
          found, [&](const Sighting& k) { return k.run == run && (!k.bound || !(k.from < from)); });
    } else {
      found.pop_back();
    }
  }
  if (last_boundary) {
    goto_position(last_boundary->position);
    return stop_at(*last_boundary);
  }
  return std::nullopt;
}

}  // namespace backstep::replayer
