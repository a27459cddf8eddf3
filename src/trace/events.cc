#include "trace/events.h"

#include <fmt/core.h>

#include <cstring>

#include "base/overloaded.h"
#include "trace/error.h"

namespace backstep::trace {
namespace {

void put_regs(RecordBuilder& b, const user_regs_struct& r) {
  b.bytes(std::as_bytes(std::span(&r, 1)));
}
user_regs_struct get_regs(RecordParser& p) {
  auto raw = p.bytes();
  user_regs_struct r{};
  if (raw.size() != sizeof r) throw TraceError("malformed register record");
  std::memcpy(&r, raw.data(), sizeof r);
  return r;
}
void put_strings(RecordBuilder& b, const std::vector<std::string>& v) {
  b.u32(static_cast<uint32_t>(v.size()));
  for (const auto& s : v) b.str(s);
}
std::vector<std::string> get_strings(RecordParser& p) {
  uint32_t n = p.u32();
  std::vector<std::string> v;
  if (n > p.remaining()) throw TraceError("malformed string list");
  v.reserve(n);
  for (uint32_t i = 0; i < n; ++i) v.emplace_back(p.str());
  return v;
}
std::vector<std::byte> to_vec(std::span<const std::byte> s) { return {s.begin(), s.end()}; }

}  // namespace

RecordType record_type(const Event& e) {
  return std::visit(Overloaded{[](const Header&) { return RecordType::kHeader; },
                               [](const Exec&) { return RecordType::kExec; },
                               [](const Stop&) { return RecordType::kStop; },
                               [](const MapEvents&) { return RecordType::kMapEvent; },
                               [](const Switch&) { return RecordType::kSwitch; },
                               [](const FileMap&) { return RecordType::kFileMap; },
                               [](const End&) { return RecordType::kEnd; },
                               [](const Patch&) { return RecordType::kPatch; },
                               [](const ProcessStart&) { return RecordType::kProcess; },
                               [](const FileChange&) { return RecordType::kFileChange; },
                               [](const SyscallBuffer&) { return RecordType::kSyscallBuffer; },
                               [](const CodeWrite&) { return RecordType::kCodeWrite; }},
                    e);
}

void encode(const Event& e, RecordBuilder& b) {
  std::visit(
      Overloaded{
          [&](const Header& h) {
            b.u32(h.events_version).str(h.exe);
            put_strings(b, h.argv);
            put_strings(b, h.envp);
            b.str(h.cwd).str(h.cpu_model).str(h.scheduler).u64(h.seed).u64(h.timeslice);
            b.u8(h.pid_namespace).u64(h.start_unix_ns).str(h.exe_sha);
            // Only when set: every other trace stays byte-identical and
            // readable by backstep versions that predate the flag.
            if (h.env_redacted) b.u8(1);
          },
          [&](const Exec& x) {
            b.u32(static_cast<uint32_t>(x.tid));
            put_regs(b, x.regs);
            b.bytes(x.auxv).bytes(x.at_random);
            // Only in mid-trace: the first Exec stays as older versions wrote it.
            if (!x.exe.empty()) {
              b.str(x.path).str(x.exe).str(x.content).u32(static_cast<uint32_t>(x.former_tid));
            }
          },
          [&](const Stop& s) {
            b.u32(static_cast<uint32_t>(s.tid)).u8(static_cast<uint8_t>(s.kind));
            const Resumption& r = s.resumed;
            b.u8(r.how).u32(static_cast<uint32_t>(r.signal)).u8(r.has_block);
            if (r.has_block) b.u64(r.tick_limit).u64(r.event_limit);
            b.u64(s.ticks);
            put_regs(b, s.regs);
            b.i64(s.value).i64(s.result).u32(static_cast<uint32_t>(s.writes.size()));
            for (const auto& w : s.writes) b.u64(w.addr).bytes(w.data);
            // Only when kept: older readers ignore what follows the fields
            // they know, and other stops stay byte-identical.
            if (!s.siginfo.empty()) b.bytes(s.siginfo);
          },
          [&](const MapEvents& m) { encode(m, b); },
          [&](const Switch& s) {
            b.u32(static_cast<uint32_t>(s.from)).u32(static_cast<uint32_t>(s.to));
            b.u8(static_cast<uint8_t>(s.reason)).u64(s.ticks);
          },
          [&](const FileMap& f) {
            b.u32(static_cast<uint32_t>(f.tid)).u64(f.addr).u64(f.length);
            b.u32(static_cast<uint32_t>(f.prot)).u32(static_cast<uint32_t>(f.flags)).u64(f.offset);
            b.str(f.path).str(f.content).u64(f.file_size);
            b.u32(f.object).u64(f.dev).u64(f.ino).u8(f.access);
          },
          [&](const End& x) {
            b.u8(x.exited).u32(static_cast<uint32_t>(x.code)).str(x.fatal_message);
            b.u32(static_cast<uint32_t>(x.fatal_tid)).u8(x.interrupted);
          },
          [&](const Patch& x) {
            b.u32(static_cast<uint32_t>(x.sites.size()));
            for (const auto& site : x.sites) b.u64(site.addr).u8(site.length);
          },
          [&](const ProcessStart& x) {
            b.u32(static_cast<uint32_t>(x.pid)).u32(static_cast<uint32_t>(x.parent));
            b.u32(static_cast<uint32_t>(x.tid)).u64(x.flags);
          },
          [&](const FileChange& c) {
            b.u32(static_cast<uint32_t>(c.tid)).u32(c.object).u64(c.offset).bytes(c.data);
            b.u64(c.size);
          },
          [&](const SyscallBuffer& x) { b.u32(static_cast<uint32_t>(x.tid)).bytes(x.records); },
          [&](const CodeWrite& x) {
            b.u32(static_cast<uint32_t>(x.writes.size()));
            for (const auto& w : x.writes) b.u64(w.addr).bytes(w.data);
            b.u32(static_cast<uint32_t>(x.tid)).u64(x.rip);
          }},
      e);
}

void encode(const MapEvents& m, RecordBuilder& b) {
  b.u32(static_cast<uint32_t>(m.events.size())).bytes(m.events.encoded());
}

Event decode(uint16_t type, std::span<const std::byte> payload, uint32_t events_version,
             std::pmr::memory_resource* bulk) {
  RecordParser p(payload);
  auto i32 = [&] { return static_cast<int32_t>(p.u32()); };
  Event out;
  switch (static_cast<RecordType>(type)) {
    case RecordType::kHeader: {
      Header h;
      h.events_version = p.u32();
      if (h.events_version < kOldestEventsVersion || h.events_version > kEventsVersion) {
        throw TraceError(fmt::format(
            "trace events version {} is not supported (this backstep reads versions {} to {})",
            h.events_version, kOldestEventsVersion, kEventsVersion));
      }
      h.exe = p.str();
      h.argv = get_strings(p);
      h.envp = get_strings(p);
      h.cwd = p.str();
      h.cpu_model = p.str();
      h.scheduler = p.str();
      h.seed = p.u64();
      h.timeslice = p.u64();
      h.pid_namespace = p.u8() != 0;
      h.start_unix_ns = p.u64();
      h.exe_sha = p.str();
      if (!p.at_end()) h.env_redacted = p.u8() != 0;
      out = std::move(h);
      break;
    }
    case RecordType::kExec: {
      Exec x;
      x.tid = i32();
      x.regs = get_regs(p);
      x.auxv = to_vec(p.bytes());
      auto r = p.bytes();
      if (r.size() != 16) throw TraceError("malformed exec record");
      std::memcpy(x.at_random.data(), r.data(), 16);
      if (!p.at_end()) {
        x.path = p.str();
        x.exe = p.str();
        x.content = p.str();
        x.former_tid = i32();
      }
      out = std::move(x);
      break;
    }
    case RecordType::kStop: {
      Stop s;
      s.tid = i32();
      s.kind = static_cast<StopKind>(p.u8());
      if (s.kind < StopKind::kSyscallEntry || s.kind > StopKind::kExec ||
          (s.kind >= StopKind::kInterrupt && events_version < 3)) {
        throw TraceError("malformed stop record: unknown kind");
      }
      s.resumed.how = p.u8();
      s.resumed.signal = i32();
      s.resumed.has_block = p.u8() != 0;
      if (s.resumed.has_block) {
        s.resumed.tick_limit = p.u64();
        s.resumed.event_limit = p.u64();
      }
      s.ticks = p.u64();
      s.regs = get_regs(p);
      s.value = p.i64();
      s.result = p.i64();
      uint32_t n = p.u32();
      if (n > p.remaining()) throw TraceError("malformed stop record");
      for (uint32_t i = 0; i < n; ++i) {
        MemWrite w;
        w.addr = p.u64();
        w.data = to_vec(p.bytes());
        s.writes.push_back(std::move(w));
      }
      if (p.remaining() > 0) s.siginfo = to_vec(p.bytes());
      out = std::move(s);
      break;
    }
    case RecordType::kMapEvent: {
      MapEvents m;
      if (events_version >= 2) {
        uint32_t count = p.u32();
        m.events = MapEventBatch::from_encoded(count, p.bytes());
      } else {
        // Version 1: the 64-byte events themselves.
        auto raw = p.bytes();
        if (raw.size() % sizeof(abi::MapEvent) != 0) throw TraceError("malformed map event record");
        std::vector<abi::MapEvent> events(raw.size() / sizeof(abi::MapEvent));
        std::memcpy(events.data(), raw.data(), raw.size());
        m.events = MapEventBatch(events);
      }
      out = std::move(m);
      break;
    }
    case RecordType::kSwitch: {
      Switch s;
      s.from = i32();
      s.to = i32();
      s.reason = static_cast<SwitchReason>(p.u8());
      s.ticks = p.u64();
      out = s;
      break;
    }
    case RecordType::kFileMap: {
      FileMap f;
      f.tid = i32();
      f.addr = p.u64();
      f.length = p.u64();
      f.prot = i32();
      f.flags = i32();
      f.offset = p.u64();
      f.path = p.str();
      f.content = p.str();
      f.file_size = p.u64();
      if (events_version >= 3) {
        f.object = p.u32();
        f.dev = p.u64();
        f.ino = p.u64();
        f.access = p.u8();
      }
      out = std::move(f);
      break;
    }
    case RecordType::kEnd: {
      End x;
      x.exited = p.u8() != 0;
      x.code = i32();
      x.fatal_message = p.str();
      x.fatal_tid = i32();
      x.interrupted = p.u8() != 0;
      out = std::move(x);
      break;
    }
    case RecordType::kPatch: {
      Patch x;
      uint32_t n = p.u32();
      if (n > p.remaining()) throw TraceError("malformed patch record");
      for (uint32_t i = 0; i < n; ++i) {
        Patch::Site site;
        site.addr = p.u64();
        site.length = p.u8();
        x.sites.push_back(site);
      }
      out = std::move(x);
      break;
    }
    case RecordType::kProcess: {
      ProcessStart x;
      x.pid = i32();
      x.parent = i32();
      x.tid = i32();
      x.flags = p.u64();
      out = x;
      break;
    }
    case RecordType::kFileChange: {
      FileChange c;
      c.tid = i32();
      c.object = p.u32();
      c.offset = p.u64();
      c.data = to_vec(p.bytes());
      c.size = p.u64();
      out = std::move(c);
      break;
    }
    case RecordType::kSyscallBuffer: {
      const int32_t tid = i32();
      std::span<const std::byte> records = p.bytes();
      // Constructed in place: assigning a vector of another allocator
      // would copy every byte again, into the default one.
      SyscallBuffer b{tid, std::pmr::vector<std::byte>(bulk)};
      assign_bytes(b.records, records);
      out = std::move(b);
      break;
    }
    case RecordType::kCodeWrite: {
      CodeWrite x;
      uint32_t n = p.u32();
      if (n > p.remaining()) throw TraceError("malformed code write record");
      for (uint32_t i = 0; i < n; ++i) {
        MemWrite w;
        w.addr = p.u64();
        w.data = to_vec(p.bytes());
        x.writes.push_back(std::move(w));
      }
      x.tid = i32();
      x.rip = p.u64();
      out = std::move(x);
      break;
    }
    default:
      throw TraceError(fmt::format("unknown record type {} in the events stream", type));
  }
  p.expect_end();
  return out;
}

const char* stop_kind_name(StopKind k) {
  switch (k) {
    case StopKind::kSyscallEntry:
      return "syscall-entry";
    case StopKind::kSyscallExit:
      return "syscall-exit";
    case StopKind::kTrap:
      return "trap";
    case StopKind::kSignal:
      return "signal";
    case StopKind::kRdtsc:
      return "rdtsc";
    case StopKind::kClone:
      return "clone";
    case StopKind::kExit:
      return "exit";
    case StopKind::kFork:
      return "fork";
    case StopKind::kVfork:
      return "vfork";
    case StopKind::kExec:
      return "exec";
    case StopKind::kInterrupt:
      return "interrupt";
  }
  return "?";
}

const char* switch_reason_name(SwitchReason r) {
  switch (r) {
    case SwitchReason::kStart:
      return "start";
    case SwitchReason::kBlocked:
      return "blocked";
    case SwitchReason::kTimeslice:
      return "timeslice";
    case SwitchReason::kMapEvent:
      return "map-event";
    case SwitchReason::kExited:
      return "exited";
    case SwitchReason::kChaos:
      return "chaos";
    case SwitchReason::kYield:
      return "yield";
    case SwitchReason::kInterrupt:
      return "interrupt";
  }
  return "?";
}

const char* map_event_kind_name(uint8_t kind) {
  switch (static_cast<abi::MapEventKind>(kind)) {
    case abi::MapEventKind::kIterStart:
      return "iter-start";
    case abi::MapEventKind::kIterStep:
      return "iter-step";
    case abi::MapEventKind::kWriteBegin:
      return "hashWriting-set";
    case abi::MapEventKind::kWriteEnd:
      return "hashWriting-cleared";
    case abi::MapEventKind::kGrowStart:
      return "grow-start";
    case abi::MapEventKind::kEvacuate:
      return "evacuate";
    case abi::MapEventKind::kGrowFinish:
      return "grow-finish";
    case abi::MapEventKind::kFatal:
      return "fatal";
  }
  return "?";
}

const char* map_op_name(uint8_t op) {
  switch (static_cast<abi::MapOp>(op)) {
    case abi::MapOp::kNone:
      return "-";
    case abi::MapOp::kLookup:
      return "lookup";
    case abi::MapOp::kAssign:
      return "assign";
    case abi::MapOp::kDelete:
      return "delete";
    case abi::MapOp::kClear:
      return "clear";
    case abi::MapOp::kIterate:
      return "iterate";
    case abi::MapOp::kClone:
      return "clone";
    case abi::MapOp::kPutAll:
      return "PutAll";
  }
  return "?";
}

}  // namespace backstep::trace
