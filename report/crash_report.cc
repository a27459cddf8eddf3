#include "report/crash_report.h"

#include <fmt/core.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "base/errors.h"
#include "disasm/disassembler.h"
#include "preload/syscallbuf_abi.h"
#include "ptrace/proc.h"
#include "replayer/time_travel.h"
#include "report/crash_dataflow.h"
#include "report/fixes.h"
#include "report/operation_call.h"
#include "symbols/modules.h"
#include "symbols/names.h"
#include "symbols/unwind.h"
#include "trace/buffered_syscalls.h"
#include "trace/event_format.h"

namespace backstep::report {
namespace {

using Kind = abi::MapEventKind;

// How many instructions the annotated disassembly shows around the failing one.
constexpr size_t kInstructionsBefore = 8;
constexpr size_t kInstructionsAfter = 5;
constexpr int kSourceContext = 3;

RunSummary summarize(const trace::Trace& trace) {
  RunSummary run;
  std::set<int32_t> seen;
  auto thread = [&](int32_t tid) {
    if (tid > 0 && seen.insert(tid).second) run.threads.push_back(tid);
  };
  thread(trace.exec().tid);
  const auto& ev = trace.events();
  run.records = ev.size();
  for (const auto& e : ev) {
    if (const auto* s = std::get_if<trace::Stop>(&e)) {
      thread(s->tid);
      run.stops++;
      if (s->kind == trace::StopKind::kSyscallEntry) run.syscalls++;
    } else if (std::holds_alternative<trace::Switch>(e)) {
      run.switches++;
    } else if (const auto* m = std::get_if<trace::MapEvents>(&e)) {
      run.map_events += m->events.size();
      for (const auto& me : m->events) {
        if (me.kind == static_cast<uint8_t>(Kind::kWriteBegin)) {
          run.map_operations[trace::map_op_name(me.op)]++;
          if (me.outer_op == static_cast<uint8_t>(abi::MapOp::kPutAll)) run.put_all_assigns++;
        } else if (me.kind == static_cast<uint8_t>(Kind::kIterStart)) {
          run.iterations++;
        } else if (me.kind == static_cast<uint8_t>(Kind::kGrowStart)) {
          run.growths++;
        }
      }
    }
  }
  std::sort(run.threads.begin(), run.threads.end());
  run.truncated = trace.truncated();
  if (const trace::End* end = trace.end()) {
    run.ended = true;
    run.exited = end->exited;
    run.code = end->code;
    run.interrupted = end->interrupted;
    run.fatal_message = end->fatal_message;
    run.ending = end->interrupted ? "the recording was interrupted"
                                  : trace::ending_text(end->exited, end->code);
  } else {
    run.ending = fmt::format("the trace was cut short after {} records", ev.size());
  }
  return run;
}

// The MapEvents record holding thread `tid`'s event `seq`.
std::optional<size_t> batch_of(const trace::Trace& trace, uint32_t tid, uint64_t seq) {
  const auto& ev = trace.events();
  for (size_t i = 2; i < ev.size(); ++i) {
    if (const auto* m = std::get_if<trace::MapEvents>(&ev[i])) {
      for (const auto& e : m->events) {
        if (e.tid == tid && e.seq == seq) return i;
      }
    }
  }
  return std::nullopt;
}

// Where the list of transitions stops: at the failing check (other threads
// may run on while the fatal handler prints), or before the fatal signal.
struct FailureMark {
  size_t record = 0;                                   // records after it are left out
  std::optional<std::pair<uint32_t, uint64_t>> event;  // in that record, the last event kept
};

// The last `n` map-flag transitions and growth steps (iterator steps are
// checks, not transitions, and would crowd everything else out) and thread
// switches up to the failure, oldest first.
std::vector<RecentEvent> recent_events(const trace::Trace& trace, size_t n,
                                       const std::optional<FailureMark>& mark) {
  const auto& ev = trace.events();
  std::vector<RecentEvent> out;
  size_t end = mark ? std::min(mark->record + 1, ev.size()) : ev.size();
  for (size_t i = end; i-- > 2 && out.size() < n;) {
    const auto* batch = std::get_if<trace::MapEvents>(&ev[i]);
    if (!batch && !std::holds_alternative<trace::Switch>(ev[i])) continue;
    auto js = trace::to_json(ev[i], i);
    auto ts = trace::to_text(ev[i], i);
    size_t last = js.size();
    // Walked backwards: decoded once (a batch decodes front to back).
    std::vector<abi::MapEvent> events;
    if (batch) events = batch->events.to_vector();
    if (batch && mark && mark->event && i == mark->record) {
      for (size_t k = 0; k < events.size(); ++k) {
        const auto& e = events[k];
        if (std::pair{e.tid, e.seq} == *mark->event) last = k + 1;
      }
    }
    for (size_t k = last; k-- > 0 && out.size() < n;) {
      if (batch && events[k].kind == static_cast<uint8_t>(Kind::kIterStep)) continue;
      out.push_back({i, batch ? "map" : "switch", ts[k], js[k]});
    }
  }
  std::reverse(out.begin(), out.end());
  return out;
}

// Replays the recording and reads code, stacks and memory at the moments
// that matter. Owns the replay, the symbols and the disassembler.
class Investigator {
 public:
  Investigator(const trace::Trace& trace, symbols::NameStyle names)
      : trace_(trace), tt_(trace), symbols_(symbols::modules_from_trace(trace)), names_(names) {}

  Failure failure(replayer::PanicReport& panic) {
    // Read before goto_panic: it is earlier in the recording, and going
    // forward costs no restart.
    std::string last_stderr = last_stderr_before_signal();
    panic = tt_.goto_panic();
    Failure f;
    if (!panic.map_fatal) f.last_stderr = last_stderr;
    f.map_fatal = panic.map_fatal;
    f.what = panic.what;
    f.tid = panic.tid;
    f.position = panic.position.str();
    f.record = panic.position.record;
    f.pc = panic.pc;
    f.map = panic.map;
    if (panic.fatal) {
      f.op = static_cast<abi::MapOp>(panic.fatal->op);
      f.outer_op = static_cast<abi::MapOp>(panic.fatal->outer_op);
    }
    f.location = locate(panic.pc, false);
    f.source = source(f.location);
    std::optional<uint64_t> call_site;
    if (panic.fatal) call_site = panic.fatal->site - 5;  // `call` rel32 before the return address
    f.disassembly = disassembly(panic.pc, call_site);
    for (const auto& line : f.disassembly) {
      if (line.current) f.instruction = line.text;
    }
    f.backtrace = backtrace(panic.tid, &f.thread_name);
    f.calls = calls(panic.tid);
    return f;
  }

  // The failing thread's last write(2, ...) before the fatal signal: a
  // failed assertion prints its message there just before abort(). Write
  // buffers are not in the trace (they are the program's memory), so this
  // replays to that syscall's entry and reads them.
  std::string last_stderr_before_signal() {
    constexpr size_t kMaxMessage = 1024;
    const auto& ev = trace_.events();
    const trace::End* end = trace_.end();
    if (!end || !end->fatal_message.empty()) return {};
    size_t signal = 0;
    for (size_t i = ev.size(); i-- > 2 && !signal;) {
      const auto* s = std::get_if<trace::Stop>(&ev[i]);
      if (s && s->kind == trace::StopKind::kSignal) signal = i;
    }
    if (!signal) return {};
    const int32_t tid = std::get<trace::Stop>(ev[signal]).tid;
    // The last run of consecutive writes to stderr (stdio may split one
    // message into several), oldest first: traced ones (their Stop), and
    // those the syscall buffer made (their bytes are in the record).
    struct Write {
      const trace::Stop* stop = nullptr;
      size_t record = 0;
      std::string bytes;  // a buffered write's
    };
    std::vector<Write> writes;
    bool other = false;  // a syscall other than a write to stderr came after them
    for (size_t i = signal; i-- > 2 && !other;) {
      if (const auto* b = std::get_if<trace::SyscallBuffer>(&ev[i]); b && b->tid == tid) {
        std::vector<trace::BufferedCall> calls = trace::parse_buffered_calls(b->records);
        for (size_t k = calls.size(); k-- > 0 && !other;) {
          const trace::BufferedCall& c = calls[k];
          const trace::BufferedCall::Region* echo = nullptr;
          for (const auto& r : c.regions) echo = r.flags & BKSB_REGION_ECHO ? &r : echo;
          if (c.nr != SYS_write || c.args[0] != 2 || !echo) {
            other = !writes.empty();
            continue;
          }
          writes.insert(
              writes.begin(),
              {nullptr, 0,
               std::string(reinterpret_cast<const char*>(echo->data.data()), echo->data.size())});
        }
        continue;
      }
      const auto* s = std::get_if<trace::Stop>(&ev[i]);
      if (!s || s->tid != tid || s->kind != trace::StopKind::kSyscallEntry) continue;
      bool to_stderr = s->value == SYS_write && s->regs.rdi == 2;
      other = !to_stderr && !writes.empty();
      if (to_stderr) writes.insert(writes.begin(), {s, i, {}});
    }
    std::string text;
    for (size_t k = 0; k < writes.size() && text.size() < kMaxMessage; ++k) {
      if (!writes[k].stop) {
        text += writes[k].bytes.substr(0, kMaxMessage - text.size());
        continue;
      }
      tt_.goto_record(writes[k].record + 1);  // standing at the entry: the buffer is filled
      std::string part(std::min<uint64_t>(writes[k].stop->regs.rdx, kMaxMessage - text.size()),
                       '\0');
      if (!tt_.engine().memory().read(writes[k].stop->regs.rsi, part.data(), part.size())) break;
      text += part;
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == '\0')) text.pop_back();
    return text;
  }

  std::optional<MapState> map_state(uint64_t addr) {
    abi::MapHeader h{};
    if (!tt_.engine().memory().read(addr, &h, sizeof h) || h.magic != abi::kMapHeaderMagic) {
      return std::nullopt;
    }
    return MapState{addr, h};
  }

  // Stands on the store that set hashWriting (found by goto_panic) and
  // takes the stack there.
  Setter setter(const replayer::PanicReport& panic) {
    const abi::MapEvent& s = *panic.setter;
    Setter out;
    out.tid = static_cast<int32_t>(s.tid);
    out.operation = trace::operation_chain(s, panic.setter_steps);
    out.op = static_cast<abi::MapOp>(s.op);
    out.outer_op = static_cast<abi::MapOp>(s.outer_op);
    out.in_put_all = out.outer_op == abi::MapOp::kPutAll;
    out.ticks = s.ticks;
    out.record = panic.setter_record;
    if (!panic.setter_store) {
      // The event's hook is all there is: the line of the operation that
      // called it, and no position.
      out.position_error = panic.setter_store_error;
      out.site = locate(s.site, true);
      if (auto call = symbols_.inlined_call_site(s.site - 1)) {
        out.site.file = call->file;
        out.site.line = call->line;
        out.site.text =
            fmt::format("{} at {}:{}", symbols::display_name(out.site.function, names_),
                        std::filesystem::path(call->file).filename().string(), call->line);
      }
      out.source = source(out.site);
      return out;
    }
    const replayer::FlagStore& store = *panic.setter_store;
    out.pc = store.pc;
    out.position = store.position.str();
    out.site = locate(store.pc, false);
    out.source = source(out.site);
    tt_.goto_position(store.position);
    out.instruction = instruction_at(store.pc);
    out.backtrace = backtrace(out.tid, &out.thread_name);
    out.calls = calls(out.tid);
    return out;
  }

  // For a failure that is not a map fatal: where its bad values came from.
  std::vector<ValueOrigin> bad_values(const replayer::PanicReport& panic) {
    return follow_bad_values(tt_, symbols_, panic, trace_.header().exe,
                             [&](uint64_t pc) { return locate(pc, false); });
  }

 private:
  CodeLocation locate(uint64_t pc, bool return_address) {
    return code_location(return_address ? symbols_.locate_return_address(pc) : symbols_.locate(pc));
  }

  CodeLocation code_location(const symbols::Location& l) const {
    CodeLocation c{l.pc, l.function, l.module, {}, 0, l.describe(names_), l.inlined};
    if (l.line) {
      c.file = l.line->file;
      c.line = l.line->line;
    }
    return c;
  }

  static std::optional<SourceExcerpt> source(const CodeLocation& where) {
    if (where.file.empty()) return std::nullopt;
    auto lines =
        symbols::Symbolizer::source_lines(where.file, where.line, kSourceContext, kSourceContext);
    if (lines.empty()) return std::nullopt;
    return SourceExcerpt{where.file, where.line, std::move(lines)};
  }

  // The thread's stack where the replay stands, inlined calls expanded,
  // and what the thread is called there.
  std::vector<CodeLocation> backtrace(int32_t tid, std::string* name) {
    const AddressSpace& mem = tt_.engine().memory(tid);
    auto frames = symbols::with_inlined_frames(
        symbols_, symbols::unwind(symbols_, tt_.engine().registers(tid),
                                  [&](uint64_t addr, void* out, size_t len) {
                                    return mem.read(addr, out, len);
                                  }));
    // prctl(PR_SET_NAME) runs for real in replay: the replayed thread has
    // the name the recorded one had at this point.
    std::string comm = thread_given_name(tt_.engine().kernel_tid(tid));
    *name = symbols::thread_name(frames, trace_.header().exe, comm);
    std::vector<CodeLocation> out;
    for (const symbols::Frame& f : frames) out.push_back(code_location(f.where));
    return out;
  }

  std::string instruction_at(uint64_t pc) {
    uint8_t code[16] = {};
    tt_.engine().memory().read(pc, code, sizeof code);
    auto insns = disassembler_.decode(code, pc, 1);
    return insns.empty() ? "(bad)" : insns[0].text;
  }

  // The map operations thread `tid` is in here, with their arguments.
  std::vector<OperationCall> calls(int32_t tid) {
    const AddressSpace& mem = tt_.engine().memory(tid);
    const symbols::ReadMemory read = [&](uint64_t addr, void* out, size_t len) {
      return mem.read(addr, out, len);
    };
    return operation_calls(symbols_, symbols::unwind(symbols_, tt_.engine().registers(tid), read),
                           read);
  }

  // The instructions around `pc`: decoded from the start of its function
  // (x86 cannot be decoded backwards), a window kept around it.
  std::vector<DisassemblyLine> disassembly(uint64_t pc, std::optional<uint64_t> call_site) {
    uint64_t from = pc;
    if (auto range = symbols_.function_range(pc); range && pc - range->first < 4096) {
      from = range->first;
    }
    std::vector<uint8_t> code(pc - from + 16 * (kInstructionsAfter + 1));
    tt_.engine().memory().read(from, code.data(), code.size());
    std::vector<DisassemblyLine> all;
    for (const auto& insn : disassembler_.decode(code, from, code.size())) {
      DisassemblyLine line{insn.address, insn.text, insn.address == pc, {}};
      if (line.current) {
        line.note =
            call_site ? "reads the map's flags: the check that failed" : "the failing instruction";
      }
      if (call_site && insn.address == *call_site) line.note = "calls the fatal error handler";
      all.push_back(std::move(line));
    }
    auto cur = std::find_if(all.begin(), all.end(), [](const auto& l) { return l.current; });
    if (cur != all.end() && call_site) {
      // A map fatal: the flags just loaded are tested for hashWriting (bit
      // value 4) a few instructions later.
      for (auto it = cur + 1; it != all.end() && it - cur <= 3; ++it) {
        if ((it->text.starts_with("test ") || it->text.starts_with("and ")) &&
            it->text.ends_with(", 4")) {
          it->note = "tests hashWriting (flag value 4)";
          if (it + 1 != all.end() && it[1].text.starts_with("j")) {
            it[1].note = "to the fatal error when it is set";
          }
          break;
        }
      }
    }
    if (cur == all.end()) {
      // Decoding from the function start went out of step: decode from pc.
      all.clear();
      std::vector<uint8_t> here(16 * (kInstructionsAfter + 1));
      tt_.engine().memory().read(pc, here.data(), here.size());
      for (const auto& insn : disassembler_.decode(here, pc, kInstructionsAfter + 1)) {
        all.push_back({insn.address, insn.text, insn.address == pc,
                       insn.address == pc ? "the failing instruction" : ""});
      }
      return all;
    }
    size_t at = static_cast<size_t>(cur - all.begin());
    size_t first = at > kInstructionsBefore ? at - kInstructionsBefore : 0;
    size_t last = std::min(all.size(), at + kInstructionsAfter + 1);
    // Keep the call to the fatal handler in view when it is close.
    for (size_t k = last; k < std::min(all.size(), at + 16); ++k) {
      if (!all[k].note.empty()) last = k + 1;
    }
    return {all.begin() + static_cast<std::ptrdiff_t>(first),
            all.begin() + static_cast<std::ptrdiff_t>(last)};
  }

  const trace::Trace& trace_;
  replayer::TimeTravel tt_;
  symbols::Symbolizer symbols_;
  Disassembler disassembler_;
  symbols::NameStyle names_;
};

// Replays to the failure and to the setter's moment; fills the failure,
// the map, the setter and the timeline's marks.
void investigate(const trace::Trace& trace, CrashReport& r, TimelineMarks& marks,
                 symbols::NameStyle names) {
  Investigator investigator(trace, names);
  replayer::PanicReport panic;
  r.failure = investigator.failure(panic);
  if (panic.map_fatal) r.map = investigator.map_state(panic.map);
  marks.panic_label = r.failure->what;
  if (panic.fatal) {
    marks.fatal = std::pair{static_cast<int32_t>(panic.fatal->tid), panic.fatal->seq};
  } else {
    marks.signal = std::pair{panic.tid, static_cast<size_t>(panic.position.record)};
  }
  if (panic.setter) {
    marks.setter = std::pair{static_cast<int32_t>(panic.setter->tid), panic.setter->seq};
    r.setter = investigator.setter(panic);
  }
  if (!panic.map_fatal) {
    try {
      r.dataflow = investigator.bad_values(panic);
    } catch (const std::exception& e) {
      r.dataflow_error = e.what();  // the rest of the report stands
    }
  }
}

}  // namespace

CrashReport build_crash_report(const trace::Trace& trace, const ReportOptions& options) {
  CrashReport r;
  const trace::Header& h = trace.header();
  r.trace_dir = trace.dir().string();
  r.program = h.exe;
  r.argv = h.argv;
  r.cpu = h.cpu_model;
  r.scheduler = h.scheduler;
  r.seed = h.seed;
  r.run = summarize(trace);
  r.last = options.last;
  r.ended_normally =
      r.run.ended && !r.run.interrupted && r.run.exited && r.run.fatal_message.empty();

  TimelineMarks marks;
  bool failed = r.run.ended && !r.run.interrupted && !r.ended_normally;
  if (failed) {
    try {
      investigate(trace, r, marks,
                  options.full_names ? symbols::NameStyle::kFull : symbols::NameStyle::kShort);
    } catch (const std::exception& e) {
      // A replay that diverges or a failure goto panic cannot find: say so,
      // and report what the trace itself tells.
      r.investigation_error = e.what();
      r.setter.reset();
      r.map.reset();
      const trace::End* end = trace.end();
      Failure f;
      f.map_fatal = !end->fatal_message.empty();
      const char* sig = end->exited ? nullptr : sigabbrev_np(end->code);
      f.what = f.map_fatal ? end->fatal_message
                           : fmt::format("SIG{}", sig ? sig : std::to_string(end->code));
      f.tid = end->fatal_tid;
      r.failure = f;
      marks = TimelineMarks{};
    }
  }
  std::optional<FailureMark> mark;
  if (marks.fatal) {
    auto [tid, seq] = *marks.fatal;
    if (auto batch = batch_of(trace, static_cast<uint32_t>(tid), seq)) {
      mark = FailureMark{*batch, std::pair{static_cast<uint32_t>(tid), seq}};
    }
  } else if (marks.signal) {
    mark = FailureMark{marks.signal->second, std::nullopt};
  }
  r.recent = recent_events(trace, options.last, mark);
  r.fixes = choose_fixes(r);
  r.timeline = build_timeline(trace, marks);
  return r;
}

}  // namespace backstep::report
