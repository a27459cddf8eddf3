#include "share/chrome_export.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/overloaded.h"
#include "syscalls/syscall_table.h"
#include "trace/event_format.h"

namespace backstep::share {
namespace {

using abi::MapEventKind;
using nlohmann::json;

// Everything is one process in the viewer; lanes are its "threads".
constexpr int kPid = 1;
// A thread's map lanes get pseudo thread ids above every real one (tids in
// the recording's PID namespace are small).
constexpr int64_t kLaneStride = 1'000'000;

// A slice on one of a thread's map lanes, before lanes are assigned.
struct MapSlice {
  int32_t thread = 0;
  FactTime begin = 0;
  FactTime end = 0;
  std::string name;
  std::string cat;
  json args;
  std::optional<uint64_t> flow_out;  // id of the flow that starts here
};

// Slices on one lane must nest: each new slice either starts after the
// innermost open one ends or lies inside it.
class Lane {
 public:
  bool fits(const MapSlice& s) {
    while (!open_.empty() && open_.back() <= s.begin) open_.pop_back();
    return open_.empty() || s.end <= open_.back();
  }
  void add(const MapSlice& s) { open_.push_back(s.end); }

 private:
  std::vector<FactTime> open_;  // ends of the open slices, innermost last
};

std::string hex_addr(uint64_t v) { return fmt::format("{:#x}", v); }

class ChromeTraceBuilder {
 public:
  explicit ChromeTraceBuilder(const trace::Trace& trace) : trace_(trace) {}

  json build() {
    walk();
    close_open(now_);
    emit_map_slices();
    emit_metadata();
    json doc;
    doc["traceEvents"] = std::move(events_);
    doc["displayTimeUnit"] = "ms";
    doc["otherData"] = {{"producer", "backstep export --format chrome"},
                        {"trace", trace_.dir().string()},
                        {"program", trace_.header().exe},
                        {"time_axis",
                         "1 us = 1 fact (record or map event) in recording order; see "
                         "docs/export-formats.md"}};
    return doc;
  }

 private:
  void walk() {
    const auto& events = trace_.events();
    for (size_t i = 0; i < events.size(); ++i) {
      std::visit(Overloaded{[&](const trace::MapEvents& m) {
                              for (const abi::MapEvent& e : m.events) {
                                on_map_event(e, i);
                                ++now_;
                              }
                            },
                            [&](const auto& other) {
                              on_record(other, i);
                              ++now_;
                            }},
                 events[i]);
    }
  }

  void on_record(const trace::Header&, size_t) {}
  void on_record(const trace::FileMap&, size_t) {}
  void on_record(const trace::FileChange&, size_t) {}
  void on_record(const trace::Patch&, size_t) {}
  void on_record(const trace::SyscallBuffer&, size_t) {}
  void on_record(const trace::CodeWrite&, size_t) {}
  void on_record(const trace::ProcessStart&, size_t) {}

  void on_record(const trace::Exec& x, size_t i) {
    if (!main_thread_) main_thread_ = x.tid;  // the first image's; later ones are execs
    see(x.tid);
    instant(x.tid, "exec", "process", {{"event", i}});
  }

  void on_record(const trace::Switch& w, size_t i) {
    if (w.from != 0) {
      see(w.from);
      end_running(w.from);
      instant(w.from, fmt::format("switch -> {} ({})", w.to, trace::switch_reason_name(w.reason)),
              "switch", {{"event", i}, {"to", w.to}, {"ticks", w.ticks}});
    }
    if (w.to != 0) {
      see(w.to);
      end_running(w.to);
      running_since_[w.to] = {now_, i};
    }
  }

  void on_record(const trace::Stop& s, size_t i) {
    see(s.tid);
    last_stop_[s.tid] = now_;
    switch (s.kind) {
      case trace::StopKind::kSyscallEntry:
        pending_syscall_[s.tid] = events_.size();
        instant(s.tid, std::string(sys::syscall_name(s.value)), "syscall",
                {{"event", i}, {"nr", s.value}, {"ticks", s.ticks}});
        break;
      case trace::StopKind::kSyscallExit:
        // The instant sits at the entry; the exit adds its result there.
        if (auto it = pending_syscall_.find(s.tid); it != pending_syscall_.end()) {
          json& args = events_[it->second]["args"];
          args["result"] = s.result;
          args["exit_event"] = i;
          pending_syscall_.erase(it);
        }
        break;
      case trace::StopKind::kSignal: {
        const char* abbrev = sigabbrev_np(static_cast<int>(s.value));
        instant(s.tid, fmt::format("SIG{}", abbrev ? abbrev : "?"), "signal",
                {{"event", i}, {"signal", s.value}, {"code", s.result}});
        break;
      }
      case trace::StopKind::kClone:
        instant(s.tid, fmt::format("clone -> thread {}", s.value), "process",
                {{"event", i}, {"child", s.value}});
        break;
      case trace::StopKind::kFork:
      case trace::StopKind::kVfork:
        instant(s.tid, fmt::format("{} -> process {}", trace::stop_kind_name(s.kind), s.value),
                "process", {{"event", i}, {"child", s.value}});
        break;
      case trace::StopKind::kExec:
        instant(s.tid, "exec", "process", {{"event", i}, {"tid_after", s.value}});
        break;
      case trace::StopKind::kExit:
        instant(s.tid, "thread exit", "process", {{"event", i}, {"status", s.value}});
        break;
      case trace::StopKind::kTrap:
      case trace::StopKind::kRdtsc:
      case trace::StopKind::kInterrupt:
        break;  // scheduling and emulation details: in jsonl, not on the timeline
    }
  }

  void on_record(const trace::End& e, size_t i) {
    // A fatal the map events do not show (the thread died before its
    // events were drained): at the end, on the thread the End names.
    if (!e.fatal_message.empty() && !fatal_seen_) {
      fatal_check(e.fatal_tid, e.fatal_message, std::nullopt, {{"event", i}});
    }
    std::string how = e.interrupted ? "recording interrupted"
                      : e.exited    ? fmt::format("exited with status {}", e.code)
                                    : fmt::format("killed by signal {}", e.code);
    events_.push_back({{"name", "end: " + how},
                       {"cat", "process"},
                       {"ph", "i"},
                       {"s", "g"},
                       {"ts", now_},
                       {"pid", kPid},
                       {"tid", main_thread_},
                       {"args", {{"event", i}, {"fatal", e.fatal_message}}}});
  }

  void on_map_event(const abi::MapEvent& e, size_t i) {
    int32_t t = static_cast<int32_t>(e.tid);
    see(t);
    resolve_late_setter(e, t);
    counters(e);
    json args = trace::map_event_json(e);
    args["event"] = i;
    switch (static_cast<MapEventKind>(e.kind)) {
      case MapEventKind::kWriteBegin: {
        if (e.outer_op == static_cast<uint8_t>(abi::MapOp::kPutAll)) {
          putall_.try_emplace({t, e.map}, PutAllGroup{now_, now_, i});
        } else {
          close_putall(t, e.map);
        }
        MapSlice s{t,           now_,
                   now_,        fmt::format("hashWriting: {}", trace::map_op_name(e.op)),
                   "map.write", args,
                   std::nullopt};
        writes_[{t, e.map}] = slices_.size();
        slices_.push_back(std::move(s));
        break;
      }
      case MapEventKind::kWriteEnd:
        if (auto it = writes_.find({t, e.map}); it != writes_.end()) {
          slices_[it->second].end = now_;
          writes_.erase(it);
        }
        if (auto it = putall_.find({t, e.map}); it != putall_.end()) it->second.end = now_;
        break;
      case MapEventKind::kIterStart:
        close_putall(t, e.map);
        close_iteration(t, e.map);
        iterations_[{t, e.map}] = slices_.size();
        slices_.push_back({t, now_, now_, "iterate", "map.iterate", args, std::nullopt});
        break;
      case MapEventKind::kIterStep:
        if (auto it = iterations_.find({t, e.map}); it != iterations_.end()) {
          slices_[it->second].end = now_;
        }
        break;
      case MapEventKind::kGrowStart:
        instant(t, fmt::format("grow B {} -> {}{}", e.arg0, e.arg1, e.arg2 ? " (same size)" : ""),
                "map.grow", args);
        break;
      case MapEventKind::kEvacuate:
        instant(t, fmt::format("evacuate bucket {}", e.arg1), "map.grow", args);
        break;
      case MapEventKind::kGrowFinish:
        instant(t, "grow finished", "map.grow", args);
        break;
      case MapEventKind::kFatal:
        fatal_check(t, abi::fatal_message(static_cast<abi::FatalKind>(e.arg0)), e.map,
                    std::move(args));
        break;
    }
  }

  // The fatal check: an instant on the thread's track, and a flow from the
  // write that set hashWriting (the newest still-open write on that map,
  // another thread's first) to it. Without the map (only the End record
  // tells of the fatal), any map's open write.
  void fatal_check(int32_t t, const std::string& message, std::optional<uint64_t> map, json args) {
    fatal_seen_ = true;
    instant(t, "fatal error: " + message, "map.fatal", std::move(args));
    std::optional<size_t> setter;
    auto better = [&](size_t a, size_t b) {
      bool a_other = slices_[a].thread != t, b_other = slices_[b].thread != t;
      if (a_other != b_other) return a_other;
      return slices_[a].begin > slices_[b].begin;
    };
    for (const auto& [key, index] : writes_) {
      if ((!map || key.second == *map) && (!setter || better(index, *setter))) setter = index;
    }
    if (setter) {
      uint64_t id = flow_end(t, now_);
      slices_[*setter].flow_out = id;
    } else if (map) {
      late_setter_ = LateSetter{t, *map, now_, last_stop_, {}};
    }
  }

  // The flag is stored before its WriteBegin event is published, so a
  // thread stopped between the two set hashWriting at that stop while its
  // event is drained only at its next one, after the fatal check. Such a
  // write, the first map event of its thread after the check, is the
  // setter; the flow starts at the stop where the thread had set the flag.
  void resolve_late_setter(const abi::MapEvent& e, int32_t t) {
    if (!late_setter_ || t == late_setter_->checker) return;
    if (e.map == late_setter_->map && e.kind == static_cast<uint8_t>(MapEventKind::kWriteBegin) &&
        !late_setter_->moved.count(t) && late_setter_->stops.count(t)) {
      uint64_t id = flow_end(late_setter_->checker, late_setter_->at);
      events_.push_back({{"name", "hashWriting seen"},
                         {"cat", "map.flow"},
                         {"ph", "s"},
                         {"id", id},
                         {"ts", late_setter_->stops.at(t)},
                         {"pid", kPid},
                         {"tid", t}});
      late_setter_.reset();
      return;
    }
    late_setter_->moved.insert(t);
  }

  uint64_t flow_end(int32_t t, FactTime at) {
    uint64_t id = ++flows_;
    events_.push_back({{"name", "hashWriting seen"},
                       {"cat", "map.flow"},
                       {"ph", "f"},
                       {"bp", "e"},
                       {"id", id},
                       {"ts", at},
                       {"pid", kPid},
                       {"tid", t}});
    return id;
  }

  void counters(const abi::MapEvent& e) {
    auto& last = last_counts_[e.map];
    if (!last || last->first != e.count) counter(e.map, "count", e.count);
    if (!last || last->second != e.nevacuate) counter(e.map, "nevacuate", e.nevacuate);
    last = std::make_pair(e.count, e.nevacuate);
  }

  // One counter track per map and field.
  void counter(uint64_t map, const char* field, uint64_t value) {
    events_.push_back({{"name", fmt::format("map {} {}", hex_addr(map), field)},
                       {"ph", "C"},
                       {"ts", now_},
                       {"pid", kPid},
                       {"args", {{field, value}}}});
  }

  void close_putall(int32_t t, uint64_t map) {
    auto it = putall_.find({t, map});
    if (it == putall_.end()) return;
    const PutAllGroup& g = it->second;
    slices_.push_back(
        {t, g.begin, g.end, "PutAll", "map.op", {{"event", g.event}, {"map", map}}, std::nullopt});
    putall_.erase(it);
  }

  void close_iteration(int32_t t, uint64_t map) { iterations_.erase({t, map}); }

  // Anything still open when the recording ends lasts until its end.
  void close_open(FactTime end) {
    for (auto& [key, index] : writes_) {
      slices_[index].end = end;
      if (auto it = putall_.find(key); it != putall_.end()) it->second.end = end;
    }
    std::vector<std::pair<int32_t, uint64_t>> keys;
    for (const auto& [key, v] : putall_) keys.push_back(key);
    for (const auto& [t, map] : keys) close_putall(t, map);
    for (auto& [t, since] : running_since_) {
      running_slice(t, since.first, end, since.second);
    }
    running_since_.clear();
  }

  void end_running(int32_t t) {
    auto it = running_since_.find(t);
    if (it == running_since_.end()) return;
    running_slice(t, it->second.first, now_, it->second.second);
    running_since_.erase(it);
  }

  void running_slice(int32_t t, FactTime begin, FactTime end, size_t event) {
    events_.push_back({{"name", "running"},
                       {"cat", "sched"},
                       {"ph", "X"},
                       {"ts", begin},
                       {"dur", end - begin},
                       {"pid", kPid},
                       {"tid", t},
                       {"args", {{"event", event}}}});
  }

  // Map slices go to the first of the thread's lanes where they nest; the
  // longest first among those starting together (and PutAll before a write
  // of the same extent), so enclosing slices come before what they enclose.
  void emit_map_slices() {
    std::stable_sort(slices_.begin(), slices_.end(), [](const MapSlice& a, const MapSlice& b) {
      if (a.begin != b.begin) return a.begin < b.begin;
      if (a.end != b.end) return a.end > b.end;
      return a.cat == "map.op" && b.cat != "map.op";  // a PutAll of one write encloses it
    });
    std::map<int32_t, std::vector<Lane>> lanes;
    for (const MapSlice& s : slices_) {
      std::vector<Lane>& mine = lanes[s.thread];
      size_t k = 0;
      while (k < mine.size() && !mine[k].fits(s)) ++k;
      if (k == mine.size()) mine.emplace_back();
      mine[k].add(s);
      int64_t lane = kLaneStride * static_cast<int64_t>(k + 1) + s.thread;
      lane_names_[lane] = {s.thread, k};
      events_.push_back({{"name", s.name},
                         {"cat", s.cat},
                         {"ph", "X"},
                         {"ts", s.begin},
                         {"dur", s.end - s.begin},
                         {"pid", kPid},
                         {"tid", lane},
                         {"args", s.args}});
      if (s.flow_out) {
        events_.push_back({{"name", "hashWriting seen"},
                           {"cat", "map.flow"},
                           {"ph", "s"},
                           {"id", *s.flow_out},
                           {"ts", s.begin},
                           {"pid", kPid},
                           {"tid", lane}});
      }
    }
  }

  void emit_metadata() {
    std::string program = std::filesystem::path(trace_.header().exe).filename().string();
    events_.push_back({{"name", "process_name"},
                       {"ph", "M"},
                       {"pid", kPid},
                       {"tid", 0},
                       {"args", {{"name", program + " (backstep recording)"}}}});
    for (int32_t t : threads_) {
      std::string name = fmt::format("thread {}{}", t, t == main_thread_ ? " (main)" : "");
      metadata_thread(t, name, static_cast<int64_t>(t) * 100);
    }
    for (const auto& [lane, owner] : lane_names_) {
      std::string name = fmt::format("thread {} map", owner.first);
      if (owner.second > 0) name += fmt::format(" #{}", owner.second + 1);
      metadata_thread(
          lane, name,
          static_cast<int64_t>(owner.first) * 100 + static_cast<int64_t>(owner.second) + 1);
    }
  }

  void metadata_thread(int64_t tid, const std::string& name, int64_t sort_index) {
    events_.push_back({{"name", "thread_name"},
                       {"ph", "M"},
                       {"pid", kPid},
                       {"tid", tid},
                       {"args", {{"name", name}}}});
    events_.push_back({{"name", "thread_sort_index"},
                       {"ph", "M"},
                       {"pid", kPid},
                       {"tid", tid},
                       {"args", {{"sort_index", sort_index}}}});
  }

  void instant(int32_t t, const std::string& name, const char* cat, json args) {
    events_.push_back({{"name", name},
                       {"cat", cat},
                       {"ph", "i"},
                       {"s", "t"},
                       {"ts", now_},
                       {"pid", kPid},
                       {"tid", t},
                       {"args", std::move(args)}});
  }

  void see(int32_t t) {
    if (t > 0) threads_.insert(t);
  }

  const trace::Trace& trace_;
  FactTime now_ = 0;
  int32_t main_thread_ = 0;
  json events_ = json::array();
  std::set<int32_t> threads_;
  std::map<int32_t, std::pair<FactTime, size_t>> running_since_;  // thread -> since, record
  std::map<int32_t, size_t> pending_syscall_;  // thread -> its entry instant in events_
  std::vector<MapSlice> slices_;
  // Open intervals, by (thread, map): index into slices_.
  std::map<std::pair<int32_t, uint64_t>, size_t> writes_;
  std::map<std::pair<int32_t, uint64_t>, size_t> iterations_;
  // Consecutive writes of a PutAll on one map; ends with its newest write.
  struct PutAllGroup {
    FactTime begin = 0;
    FactTime end = 0;
    size_t event = 0;
  };
  std::map<std::pair<int32_t, uint64_t>, PutAllGroup> putall_;
  std::map<uint64_t, std::optional<std::pair<uint64_t, uint64_t>>> last_counts_;
  std::map<int64_t, std::pair<int32_t, size_t>> lane_names_;  // lane -> thread, lane number
  uint64_t flows_ = 0;
  bool fatal_seen_ = false;
  std::map<int32_t, FactTime> last_stop_;  // each thread's newest Stop
  struct LateSetter {
    int32_t checker = 0;
    uint64_t map = 0;
    FactTime at = 0;                    // the fatal check
    std::map<int32_t, FactTime> stops;  // each thread's last stop before it
    std::set<int32_t> moved;            // threads with map events since
  };
  std::optional<LateSetter> late_setter_;
};

}  // namespace

json chrome_trace(const trace::Trace& trace) { return ChromeTraceBuilder(trace).build(); }

}  // namespace backstep::share
