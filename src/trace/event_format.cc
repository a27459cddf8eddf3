#include "trace/event_format.h"

#include <fmt/core.h>
#include <sched.h>

#include <cstring>
#include <span>

#include "base/overloaded.h"
#include "trace/buffered_syscalls.h"

#include "syscalls/syscall_table.h"

namespace backstep::trace {
namespace {

std::string stop_detail(const Stop& s) {
  switch (s.kind) {
    case StopKind::kSyscallEntry:
      return std::string(sys::syscall_name(s.value));
    case StopKind::kSyscallExit:
      return fmt::format("{} = {}", sys::syscall_name(s.value), s.result);
    case StopKind::kTrap:
      return s.value == static_cast<int64_t>(abi::TrapReason::kTickLimit) ? "tick-limit"
                                                                          : "map-event";
    case StopKind::kSignal: {
      const char* name = sigabbrev_np(static_cast<int>(s.value));
      return fmt::format("SIG{} code {}", name ? name : "?", s.result);
    }
    case StopKind::kRdtsc:
      return fmt::format("value {}", s.value);
    case StopKind::kClone:
      return fmt::format("new thread {}", s.value);
    case StopKind::kExit:
      return fmt::format("status {:#x}", s.value);
    case StopKind::kFork:
    case StopKind::kVfork:
      return fmt::format("new process {}", s.value);
    case StopKind::kExec:
      return s.value == s.tid ? std::string("new image")
                              : fmt::format("new image, now thread {}", s.value);
    case StopKind::kInterrupt:
      return fmt::format("after {} us, {} memory range(s) in its signature", s.result,
                         s.writes.size());
  }
  return {};
}

std::string process_flags_text(uint64_t flags) {
  if (flags & CLONE_VFORK) return flags & CLONE_VM ? "vfork, shares memory" : "vfork";
  if (flags & CLONE_VM) return "clone, shares memory";
  return "fork";
}

std::string hex(std::span<const std::byte> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::byte b : bytes) {
    out += kDigits[std::to_integer<unsigned>(b) >> 4];
    out += kDigits[std::to_integer<unsigned>(b) & 15];
  }
  return out;
}

// The fields only JsonDetail::kFull adds, per record kind.
void add_full_fields(const Event& event, nlohmann::json& j) {
  std::visit(Overloaded{[&](const Header& h) {
                          j["events_version"] = h.events_version;
                          j["envp"] = h.envp;
                          j["pid_namespace"] = h.pid_namespace;
                          j["start_unix_ns"] = h.start_unix_ns;
                          j["exe_sha"] = h.exe_sha;
                          j["env_redacted"] = h.env_redacted;
                        },
                        [&](const Exec& x) {
                          j["regs"] = registers_json(x.regs);
                          nlohmann::json auxv = nlohmann::json::array();
                          for (size_t off = 0; off + 16 <= x.auxv.size(); off += 16) {
                            uint64_t entry[2];
                            std::memcpy(entry, x.auxv.data() + off, sizeof entry);
                            auxv.push_back({entry[0], entry[1]});
                          }
                          j["auxv"] = std::move(auxv);
                          j["at_random"] = hex(x.at_random);
                          if (!x.content.empty()) j["content"] = x.content;
                        },
                        [&](const Stop& s) {
                          j["resumed"] = {{"how", s.resumed.how},
                                          {"signal", s.resumed.signal},
                                          {"has_block", s.resumed.has_block},
                                          {"tick_limit", s.resumed.tick_limit},
                                          {"event_limit", s.resumed.event_limit}};
                          j["regs"] = registers_json(s.regs);
                          j["result"] = s.result;
                          nlohmann::json writes = nlohmann::json::array();
                          for (const MemWrite& w : s.writes)
                            writes.push_back({{"addr", w.addr}, {"data", hex(w.data)}});
                          j["memory_writes"] = std::move(writes);
                          if (!s.siginfo.empty()) j["siginfo"] = hex(s.siginfo);
                        },
                        [&](const MapEvents&) {}, [&](const Switch&) {},
                        [&](const FileMap& f) {
                          j["prot"] = f.prot;
                          j["flags"] = f.flags;
                          j["content"] = f.content;
                          j["file_size"] = f.file_size;
                          j["dev"] = f.dev;
                          j["ino"] = f.ino;
                          j["access"] = f.access;
                        },
                        [&](const End&) {},
                        [&](const Patch& p) {
                          nlohmann::json sites = nlohmann::json::array();
                          for (const Patch::Site& site : p.sites)
                            sites.push_back({{"addr", site.addr}, {"length", site.length}});
                          j["site_list"] = std::move(sites);
                        },
                        [&](const ProcessStart&) {},
                        [&](const FileChange& c) { j["data"] = hex(c.data); },
                        [&](const SyscallBuffer&) {},
                        [&](const CodeWrite& c) {
                          nlohmann::json writes = nlohmann::json::array();
                          for (const MemWrite& w : c.writes)
                            writes.push_back({{"addr", w.addr}, {"data", hex(w.data)}});
                          j["memory_writes"] = std::move(writes);
                        }},
             event);
}

}  // namespace

nlohmann::json registers_json(const user_regs_struct& r) {
  return {{"rax", r.rax},
          {"rbx", r.rbx},
          {"rcx", r.rcx},
          {"rdx", r.rdx},
          {"rsi", r.rsi},
          {"rdi", r.rdi},
          {"rbp", r.rbp},
          {"rsp", r.rsp},
          {"r8", r.r8},
          {"r9", r.r9},
          {"r10", r.r10},
          {"r11", r.r11},
          {"r12", r.r12},
          {"r13", r.r13},
          {"r14", r.r14},
          {"r15", r.r15},
          {"rip", r.rip},
          {"eflags", r.eflags},
          {"orig_rax", r.orig_rax},
          {"cs", r.cs},
          {"ss", r.ss},
          {"ds", r.ds},
          {"es", r.es},
          {"fs", r.fs},
          {"gs", r.gs},
          {"fs_base", r.fs_base},
          {"gs_base", r.gs_base}};
}

std::string flags_text(uint8_t flags) {
  std::string out;
  auto add = [&](uint8_t bit, const char* name) {
    if (flags & bit) out += (out.empty() ? "" : "|") + std::string(name);
  };
  add(abi::kFlagIterator, "iterator");
  add(abi::kFlagOldIterator, "oldIterator");
  add(abi::kFlagHashWriting, "hashWriting");
  add(abi::kFlagSameSizeGrow, "sameSizeGrow");
  return out.empty() ? "0" : out;
}

nlohmann::json map_event_json(const abi::MapEvent& e) {
  return {{"type", "map"},
          {"tid", e.tid},
          {"seq", e.seq},
          {"ticks", e.ticks},
          {"kind", map_event_kind_name(e.kind)},
          {"op", map_op_name(e.op)},
          {"outer_op", map_op_name(e.outer_op)},
          {"map", e.map},
          {"site", e.site},
          {"flags_before", e.flags_before},
          {"flags_after", e.flags_after},
          {"B", e.B},
          {"count", e.count},
          {"nevacuate", e.nevacuate},
          {"arg0", e.arg0},
          {"arg1", e.arg1},
          {"arg2", e.arg2}};
}

std::string map_event_text(const abi::MapEvent& e) {
  std::string op = map_op_name(e.op);
  if (e.outer_op) op = fmt::format("{} in {}", op, map_op_name(e.outer_op));
  std::string extra;
  switch (static_cast<abi::MapEventKind>(e.kind)) {
    case abi::MapEventKind::kGrowStart:
      extra = fmt::format(" B {}->{}{}", e.arg0, e.arg1, e.arg2 ? " same-size" : "");
      break;
    case abi::MapEventKind::kEvacuate:
      extra = fmt::format(" bucket {}", e.arg1);
      break;
    case abi::MapEventKind::kFatal:
      extra = fmt::format(" \"{}\"", abi::fatal_message(static_cast<abi::FatalKind>(e.arg0)));
      break;
    default:
      break;
  }
  return fmt::format("tid {} {} ({}){} map {:#x} flags {}->{} B {} count {} nevacuate {} site {:#x} tick {}",
                     e.tid, map_event_kind_name(e.kind), op, extra, e.map, flags_text(e.flags_before),
                     flags_text(e.flags_after), e.B, e.count, e.nevacuate, e.site, e.ticks);
}

std::string ending_text(bool exited, int code) {
  if (exited) return fmt::format("exited with status {}", code);
  const char* name = sigabbrev_np(code);
  return fmt::format("killed by SIG{} ({})", name ? name : "?", code);
}

std::string operation_chain(const abi::MapEvent& setter, const std::vector<abi::MapEvent>& steps) {
  std::string chain = map_op_name(setter.op);
  if (setter.outer_op) chain = std::string(map_op_name(setter.outer_op)) + " -> " + chain;
  for (const auto& step : steps) {
    if (step.kind == static_cast<uint8_t>(abi::MapEventKind::kEvacuate)) {
      chain += fmt::format(" -> evacuation of old bucket {}", step.arg1);
    } else if (step.kind == static_cast<uint8_t>(abi::MapEventKind::kGrowStart)) {
      chain += fmt::format(" -> growth B {}->{}", step.arg0, step.arg1);
    }
  }
  return chain;
}

uint64_t old_bucket_count(const abi::MapHeader& h) {
  if (h.oldbuckets == 0) return 0;
  return h.flags & abi::kFlagSameSizeGrow ? 1ull << h.B : 1ull << (h.B - 1);
}

nlohmann::json map_header_json(uint64_t addr, const abi::MapHeader& h) {
  return {{"map", addr},
          {"count", h.count},
          {"B", h.B},
          {"buckets", h.buckets},
          {"oldbuckets", h.oldbuckets},
          {"flags", h.flags},
          {"flag_names", flags_text(h.flags)},
          {"growing", h.oldbuckets != 0},
          {"nevacuate", h.nevacuate},
          {"old_bucket_count", old_bucket_count(h)},
          {"same_size_grow", (h.flags & abi::kFlagSameSizeGrow) != 0},
          {"live_iterators", h.live_iterators},
          {"noverflow", h.noverflow}};
}

std::string map_header_text(uint64_t addr, const abi::MapHeader& h) {
  std::string text = fmt::format("map {:#x}: count {}, B {} ({} buckets at {:#x}), flags {}\n",
                                 addr, h.count, h.B, 1ull << h.B, h.buckets, flags_text(h.flags));
  if (h.oldbuckets != 0) {
    text += fmt::format("growing ({}): evacuated {} of {} old buckets at {:#x}\n",
                        h.flags & abi::kFlagSameSizeGrow ? "same-size" : "doubling", h.nevacuate,
                        old_bucket_count(h), h.oldbuckets);
  } else {
    text += "not growing\n";
  }
  text += fmt::format("live iterators {}, overflow buckets ~{}", h.live_iterators, h.noverflow);
  return text;
}

std::vector<nlohmann::json> to_json(const Event& event, uint64_t index, JsonDetail detail) {
  std::vector<nlohmann::json> out;
  std::visit(
      Overloaded{
          [&](const Header& h) {
            out.push_back({{"type", "header"}, {"exe", h.exe}, {"argv", h.argv},
                           {"cwd", h.cwd}, {"cpu", h.cpu_model}, {"scheduler", h.scheduler},
                           {"seed", h.seed}, {"timeslice", h.timeslice}});
          },
          [&](const Exec& x) {
            nlohmann::json j{{"type", "exec"}, {"tid", x.tid}, {"rip", x.regs.rip}};
            if (!x.exe.empty()) {
              j["path"] = x.path;
              j["exe"] = x.exe;
              if (x.former_tid) j["former_tid"] = x.former_tid;
            }
            out.push_back(std::move(j));
          },
          [&](const Stop& s) {
            nlohmann::json j{{"type", "stop"}, {"tid", s.tid}, {"kind", stop_kind_name(s.kind)},
                             {"ticks", s.ticks}, {"rip", s.regs.rip}, {"value", s.value},
                             {"detail", stop_detail(s)}};
            if (s.kind == StopKind::kSyscallEntry || s.kind == StopKind::kSyscallExit) {
              j["syscall"] = sys::syscall_name(s.value);
            }
            if (s.kind == StopKind::kSyscallExit) {
              j["result"] = s.result;
              j["writes"] = s.writes.size();
            }
            out.push_back(std::move(j));
          },
          [&](const MapEvents& m) {
            for (const abi::MapEvent& e : m.events) out.push_back(map_event_json(e));
          },
          [&](const Switch& w) {
            out.push_back({{"type", "switch"}, {"from", w.from}, {"to", w.to},
                           {"reason", switch_reason_name(w.reason)}, {"ticks", w.ticks}});
          },
          [&](const FileMap& f) {
            out.push_back({{"type", "file_map"}, {"tid", f.tid}, {"addr", f.addr},
                           {"length", f.length}, {"offset", f.offset}, {"path", f.path},
                           {"object", f.object}});
          },
          [&](const FileChange& c) {
            out.push_back({{"type", "file_change"}, {"tid", c.tid}, {"object", c.object},
                           {"offset", c.offset}, {"length", c.data.size()}, {"size", c.size}});
          },
          [&](const End& e) {
            out.push_back({{"type", "end"}, {"exited", e.exited}, {"code", e.code},
                           {"interrupted", e.interrupted},
                           {"fatal", e.fatal_message}, {"fatal_tid", e.fatal_tid}});
          },
          [&](const Patch& p) {
            out.push_back({{"type", "patch"}, {"sites", p.sites.size()}});
          },
          [&](const ProcessStart& p) {
            out.push_back({{"type", "process"}, {"pid", p.pid}, {"parent", p.parent},
                           {"tid", p.tid}, {"flags", p.flags}});
          },
          [&](const SyscallBuffer& b) {
            for (const BufferedCall& c : parse_buffered_calls(b.records)) {
              nlohmann::json j{{"type", "buffered_syscall"}, {"tid", b.tid}, {"nr", c.nr},
                               {"syscall", sys::syscall_name(c.nr)}, {"result", c.result}};
              if (detail == JsonDetail::kFull) {
                j["args"] = std::vector<uint64_t>(std::begin(c.args), std::end(c.args));
                j["flags"] = c.flags;
                nlohmann::json regions = nlohmann::json::array();
                for (const BufferedCall::Region& r : c.regions)
                  regions.push_back({{"addr", r.addr}, {"flags", r.flags}, {"data", hex(r.data)}});
                j["memory_writes"] = std::move(regions);
              }
              out.push_back(std::move(j));
            }
          },
          [&](const CodeWrite& c) {
            out.push_back({{"type", "code_write"}, {"writes", c.writes.size()}});
          }},
      event);
  if (detail == JsonDetail::kFull && out.size() == 1) add_full_fields(event, out[0]);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i]["event"] = index;
    if (out.size() > 1) out[i]["sub"] = i;
  }
  return out;
}

std::vector<std::string> to_text(const Event& event, uint64_t index) {
  std::vector<std::string> out;
  auto line = [&](std::string_view what, const std::string& text) {
    out.push_back(fmt::format("{:>8} {:<6} {}", index, what, text));
  };
  std::visit(
      Overloaded{
          [&](const Header& h) { line("header", h.exe); },
          [&](const Exec& x) {
            std::string what = fmt::format("tid {} rip {:#x}", x.tid, x.regs.rip);
            if (!x.exe.empty()) {
              what += fmt::format(" {}", x.path);
              if (x.exe != x.path) what += fmt::format(" (runs {})", x.exe);
              if (x.former_tid) what += fmt::format(", called by thread {}", x.former_tid);
            }
            line("exec", what);
          },
          [&](const Stop& s) {
            line("stop", fmt::format("tid {} {} {} tick {} rip {:#x}", s.tid,
                                     stop_kind_name(s.kind), stop_detail(s), s.ticks, s.regs.rip));
          },
          [&](const MapEvents& m) {
            for (const abi::MapEvent& e : m.events) line("map", map_event_text(e));
          },
          [&](const Switch& w) {
            line("switch", fmt::format("{} -> {} ({}) at tick {}", w.from, w.to,
                                       switch_reason_name(w.reason), w.ticks));
          },
          [&](const FileMap& f) {
            line("mmap", fmt::format("tid {} {:#x}+{:#x} {} @{:#x}{}", f.tid, f.addr, f.length,
                                     f.path, f.offset,
                                     f.object ? fmt::format(" (file {})", f.object) : ""));
          },
          [&](const FileChange& c) {
            line("fchg", fmt::format("tid {} file {}: {} bytes at {:#x}, size {:#x}", c.tid,
                                     c.object, c.data.size(), c.offset, c.size));
          },
          [&](const End& e) {
            std::string how = e.interrupted ? std::string("recording interrupted")
                              : e.exited ? fmt::format("exited with status {}", e.code)
                                         : fmt::format("killed by signal {}", e.code);
            if (!e.fatal_message.empty()) how += ", fatal error: " + e.fatal_message;
            line("end", how);
          },
          [&](const Patch& p) { line("patch", fmt::format("{} rdtsc sites", p.sites.size())); },
          [&](const ProcessStart& p) {
            line("process", fmt::format("{} made by thread {} of process {} ({})", p.pid, p.tid,
                                        p.parent, process_flags_text(p.flags)));
          },
          [&](const SyscallBuffer& b) {
            for (const BufferedCall& c : parse_buffered_calls(b.records)) {
              line("buffered", fmt::format("tid {} {} = {}", b.tid, sys::syscall_name(c.nr),
                                           c.result));
            }
          },
          [&](const CodeWrite& c) {
            line("code", fmt::format("{} writes (patched syscall sites)", c.writes.size()));
          }},
      event);
  return out;
}

}  // namespace backstep::trace
