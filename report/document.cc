#include "report/document.h"

#include <fmt/core.h>

#include <filesystem>

#include "report/render.h"
#include "trace/event_format.h"

namespace backstep::report {
namespace {

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

std::string basename(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

std::vector<CodeLine> source_lines(const SourceExcerpt& s) {
  std::vector<CodeLine> out;
  for (const auto& [n, text] : s.lines) {
    out.push_back({fmt::format("{}{:<5} {}", n == s.line ? "=> " : "   ", n, text), n == s.line});
  }
  return out;
}

// As gdb lists frames: one per inlined call; a frame whose callee was
// inlined into it stands at that call, not at an address of its own.
std::vector<CodeLine> stack_lines(const std::vector<CodeLocation>& frames) {
  std::vector<CodeLine> out;
  for (size_t i = 0; i < frames.size(); ++i) {
    std::string line = i > 0 && frames[i - 1].inlined
                           ? fmt::format("#{:<2} {}", i, frames[i].text)
                           : fmt::format("#{:<2} {:#018x} in {}", i, frames[i].pc, frames[i].text);
    out.push_back({line, i == 0});
  }
  return out;
}

// "3" or "3 (run_merge)".
std::string thread_label(int32_t tid, const std::string& name) {
  return name.empty() ? std::to_string(tid) : fmt::format("{} ({})", tid, name);
}

std::vector<CodeLine> disassembly_lines(const std::vector<DisassemblyLine>& insns) {
  std::vector<CodeLine> out;
  for (const auto& l : insns) {
    std::string text = fmt::format("{} {:#x}:  {}", l.current ? "=>" : "  ", l.address, l.text);
    if (!l.note.empty()) text += fmt::format("    ; {}", l.note);
    out.push_back({text, l.current});
  }
  return out;
}

std::string reproduce_command(const CrashReport& r) {
  std::string chaos = r.scheduler == "chaos" ? fmt::format(" --chaos --seed {}", r.seed) : "";
  return fmt::format("backstep record{} -- {}", chaos, join(r.argv));
}

// "PutAll<...>(entries = <optimized out>) -> put(key = 42, value = 7)":
// the operations with their arguments' values, outermost first.
std::string calls_text(const std::vector<OperationCall>& calls) {
  std::string out;
  for (const OperationCall& c : calls) {
    std::string args;
    for (const auto& [name, value] : c.arguments) {
      args += fmt::format("{}{} = {}", args.empty() ? "" : ", ", name, value);
    }
    out += fmt::format("{}{}({})", out.empty() ? "" : " -> ", c.function, args);
    if (!c.entry.empty()) {
      std::string entry;
      for (const auto& [name, value] : c.entry) {
        entry += fmt::format("{}{} = {}", entry.empty() ? "" : ", ", name, value);
      }
      out += fmt::format(" [entry {}]", entry);
    }
  }
  return out;
}

// abort() is the program giving up on a check of its own: who called it.
std::string abort_caller(const Failure& f) {
  for (size_t i = 0; i + 1 < f.backtrace.size(); ++i) {
    if (f.backtrace[i].function == "abort") return f.backtrace[i + 1].text;
  }
  return {};
}

void recording_section(const CrashReport& r, DocumentWriter& w) {
  w.heading("Recording");
  w.field("trace", r.trace_dir);
  w.field("program", join(r.argv));
  w.field("scheduler", r.scheduler == "chaos" ? fmt::format("chaos, seed {}", r.seed)
                                              : fmt::format("{} (no seed)", r.scheduler));
  w.field("record again", reproduce_command(r));
  w.field("cpu", r.cpu);
  if (r.environment_redacted) {
    w.field("environment", *r.environment_redacted
                               ? "redacted when packed: variable names kept, values removed"
                               : "kept as recorded");
  }
  std::vector<std::string> tids;
  for (int32_t t : r.run.threads) tids.push_back(std::to_string(t));
  w.field("threads", fmt::format("{} ({})", r.run.threads.size(), join(tids)));
  w.field("events", fmt::format("{} records: {} stops ({} syscalls), {} thread switches, {} map "
                                "events",
                                r.run.records, r.run.stops, r.run.syscalls, r.run.switches,
                                r.run.map_events));
  std::string ops;
  for (const auto& [op, n] : r.run.map_operations) {
    ops += fmt::format("{}{} {}", ops.empty() ? "" : ", ", n, op);
  }
  w.field("map operations", fmt::format(
                                "{} writes ({}), {} range loops, {} growths",
                                [&] {
                                  uint64_t n = 0;
                                  for (const auto& [op, k] : r.run.map_operations) n += k;
                                  return n;
                                }(),
                                ops.empty() ? "none" : ops, r.run.iterations, r.run.growths));
  w.field("ended", r.run.ending + (r.run.fatal_message.empty()
                                       ? ""
                                       : fmt::format(", fatal error: {}", r.run.fatal_message)));
}

void failure_section(const CrashReport& r, DocumentWriter& w) {
  const Failure& f = *r.failure;
  w.heading("What failed");
  if (f.map_fatal) {
    w.paragraph(
        fmt::format("Thread {} stopped the program with Go's fatal check \"fatal error: "
                    "{}\" ({}). The check is the instruction below: it read the flags "
                    "of map {:#x} and found hashWriting set by another thread.",
                    f.tid, f.what, r.run.ending, f.map));
  } else {
    std::string why = fmt::format(
        "Thread {} received {} ({}); the instruction below is where "
        "the signal came from.",
        f.tid, f.what, r.run.ending);
    if (std::string caller = abort_caller(f); !caller.empty()) {
      why += fmt::format(" The program aborted itself: abort() was called from {}.", caller);
    }
    w.paragraph(why);
  }
  if (!r.investigation_error.empty()) {
    w.paragraph(
        fmt::format("backstep could not replay the recording to the failure ({}); "
                    "what follows is only what the trace's last record says.",
                    r.investigation_error));
    w.field("thread", std::to_string(f.tid));
    return;
  }
  w.field("thread", thread_label(f.tid, f.thread_name));
  if (!f.last_stderr.empty()) w.field("last on stderr", f.last_stderr);
  w.field("position", fmt::format("{} (backstep replay {} -ex 'goto {}')", f.position, r.trace_dir,
                                  f.position));
  w.field("instruction", fmt::format("{:#x}: {}", f.pc, f.instruction));
  w.field("in", f.location.text);
  if (!f.calls.empty()) w.field("map operation", calls_text(f.calls));
  if (f.source) {
    w.subheading(fmt::format("Source ({}:{})", basename(f.source->file), f.source->line));
    w.code(source_lines(*f.source));
  }
  if (!f.disassembly.empty()) {
    w.subheading("Disassembly");
    w.code(disassembly_lines(f.disassembly));
  }
  if (!f.backtrace.empty()) {
    w.subheading(
        fmt::format("Backtrace of thread {} at the failure", thread_label(f.tid, f.thread_name)));
    w.code(stack_lines(f.backtrace));
  }
}

std::string growth_text(const abi::MapHeader& h) {
  if (!h.oldbuckets) return "not growing";
  uint64_t old = trace::old_bucket_count(h);
  return fmt::format("{}: {} -> {} buckets, {} of {} old buckets evacuated (nevacuate {})",
                     h.flags & abi::kFlagSameSizeGrow ? "same-size growth" : "doubling", old,
                     1ull << h.B, h.nevacuate, old, h.nevacuate);
}

void why_section(const CrashReport& r, DocumentWriter& w) {
  const Failure& f = *r.failure;
  w.heading("Why");
  if (!r.investigation_error.empty()) {
    w.paragraph("Unknown: the replay did not reach the failure.");
    return;
  }
  if (r.setter) {
    const Setter& s = *r.setter;
    w.paragraph(
        fmt::format("Thread {} had set hashWriting on map {:#x} in {} and had not "
                    "cleared it yet when thread {} checked the flags: the two threads "
                    "used the map at the same time with no synchronization.",
                    s.tid, f.map, s.operation, f.tid));
    w.field("writer thread", thread_label(s.tid, s.thread_name));
    w.field("operation", s.operation);
    if (!s.calls.empty()) w.field("map operation", calls_text(s.calls));
    if (s.position.empty()) {
      w.field("set at", fmt::format("tick {}, in {} (the store itself was not found: {})", s.ticks,
                                    s.site.text, s.position_error));
    } else {
      w.field("set at", fmt::format("{} (tick {}), in {}", s.position, s.ticks, s.site.text));
      w.field("instruction", fmt::format("{:#x}: {}", s.pc, s.instruction));
    }
    if (s.source) {
      w.subheading(
          fmt::format("Source of the write ({}:{})", basename(s.source->file), s.source->line));
      w.code(source_lines(*s.source));
    }
    if (!s.backtrace.empty()) {
      w.subheading(fmt::format("Backtrace of thread {} when it set hashWriting",
                               thread_label(s.tid, s.thread_name)));
      w.code(stack_lines(s.backtrace));
    }
  } else if (f.map_fatal) {
    w.paragraph("No hashWriting set without a matching clear was found before the check.");
  } else {
    w.paragraph(
        "No map fatal check fired: the process died of the signal itself. The "
        "backtrace above shows who raised it.");
  }
  if (r.map) {
    const abi::MapHeader& h = r.map->header;
    w.subheading("The map at the failure");
    w.field("map", fmt::format("{:#x}", r.map->address));
    w.field("B", fmt::format("{} ({} buckets), {} entries", h.B, 1ull << h.B, h.count));
    w.field("growth", growth_text(h));
    w.field("flags", trace::flags_text(h.flags));
    w.field("live iterators", std::to_string(h.live_iterators));
  }
}

void recent_section(const CrashReport& r, DocumentWriter& w) {
  w.subheading(fmt::format("The last {} map-flag transitions and thread switches{}",
                           r.recent.size(), r.failure ? " before the failure" : ""));
  if (r.recent.empty()) {
    w.paragraph("none");
    return;
  }
  std::vector<CodeLine> lines;
  for (const auto& e : r.recent) lines.push_back({e.text, false});
  w.code(lines);
}

void fixes_section(const CrashReport& r, DocumentWriter& w) {
  w.heading("What to do");
  if (r.fixes.empty()) {
    w.paragraph("No class of fix from the seed document's chapter 4 matches this failure.");
    return;
  }
  for (size_t i = 0; i < r.fixes.size(); ++i) {
    const Fix& fix = r.fixes[i];
    w.subheading(fmt::format("{}. {}{}", i + 1, fix.title, i == 0 ? " (recommended)" : ""));
    std::vector<std::string> items = fix.steps;
    items.push_back(
        fmt::format("Implemented in {}; seed document: {}.", fix.example, fix.seed_section));
    w.bullets(items);
  }
}

}  // namespace

void render_document(const CrashReport& r, DocumentWriter& w) {
  w.title(fmt::format("backstep report: {}", basename(r.program)));
  if (r.failure) {
    std::string what = r.failure->map_fatal ? "fatal error: " + r.failure->what : r.failure->what;
    std::string by = r.setter ? fmt::format(" (hashWriting set by thread {} in {})", r.setter->tid,
                                            r.setter->operation)
                              : "";
    // An abort() after a message on stderr: the message is the program's
    // own account of what failed.
    if (!r.failure->last_stderr.empty() && !abort_caller(*r.failure).empty()) {
      by = ": " + r.failure->last_stderr;
    }
    w.verdict(fmt::format("{} on thread {}{}", what, r.failure->tid, by), true);
  } else if (r.ended_normally) {
    w.verdict(fmt::format("The recording ended normally: the program {}.", r.run.ending), false);
  } else {
    w.verdict(fmt::format("The recording did not reach the program's end: {}.", r.run.ending),
              false);
  }
  recording_section(r, w);
  w.timeline(r);
  if (r.failure) {
    failure_section(r, w);
    why_section(r, w);
    dataflow_section(r, w);
  } else {
    w.heading("Run summary");
    w.paragraph(r.ended_normally
                    ? fmt::format("No failure to explain: the program {} and no map fatal check "
                                  "fired. {} threads ran; see the recording above.",
                                  r.run.ending, r.run.threads.size())
                    : "The trace has no ending to explain; what it holds is summarized above.");
  }
  recent_section(r, w);
  if (r.failure) fixes_section(r, w);
}

std::optional<Format> parse_format(std::string_view name) {
  if (name == "text") return Format::kText;
  if (name == "md" || name == "markdown") return Format::kMarkdown;
  if (name == "html") return Format::kHtml;
  if (name == "json") return Format::kJson;
  return std::nullopt;
}

std::string render(const CrashReport& report, Format format, bool colour) {
  if (format == Format::kJson) return to_json(report).dump(2) + "\n";
  std::unique_ptr<DocumentWriter> w = format == Format::kText       ? text_writer(colour)
                                      : format == Format::kMarkdown ? markdown_writer()
                                                                    : html_writer();
  render_document(report, *w);
  return w->finish();
}

}  // namespace backstep::report
