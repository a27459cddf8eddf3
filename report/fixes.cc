#include "report/fixes.h"

#include <fmt/core.h>

#include <algorithm>

namespace backstep::report {
namespace {

bool in_map_code(const CodeLocation& c) {
  return c.file.ends_with("go_map.h") || c.function.find("GoMap") != std::string::npos;
}

bool calls_abort(const Failure& f) {
  return std::any_of(f.backtrace.begin(), f.backtrace.end(),
                     [](const CodeLocation& c) { return c.function == "abort"; });
}

// The program's own function that made the conflicting access: the first
// frame outside the map and the runtime, in the program's executable.
std::string caller_in_program(const std::vector<CodeLocation>& frames) {
  if (frames.empty()) return {};
  const std::string& exe = frames.front().module;
  for (const auto& c : frames) {
    if (c.module != exe || c.function.empty()) continue;
    std::string name = c.function;
    constexpr std::string_view kAnonymous = "(anonymous namespace)::";
    for (size_t at; (at = name.find(kAnonymous)) != std::string::npos;)
      name.erase(at, kAnonymous.size());
    // The map's and the runtime's own functions (a user function whose
    // parameters name backstep::GoMap is the program's).
    name = name.substr(0, name.find('('));
    if (name.find("backstep::") != std::string::npos) continue;
    return name + "()";
  }
  return {};
}

// "thread 3 (auditor)": by the name the report gives the thread elsewhere
// (its pthread name, or the user's function it runs), else by the program's
// function that made the access.
std::string who(int32_t tid, const std::string& thread_name,
                const std::vector<CodeLocation>& frames) {
  if (!thread_name.empty()) return fmt::format("thread {} ({})", tid, thread_name);
  std::string where = caller_in_program(frames);
  return where.empty() ? fmt::format("thread {}", tid) : fmt::format("thread {} ({})", tid, where);
}

// The two operations that met on the map, as the recording shows them:
// the check's (a range loop's step, a lookup, a clone, or another write) and
// the write that had set hashWriting. Every fix is phrased from these, so
// that its advice names only operations the program made.
struct Conflict {
  std::string reader;                      // the thread whose check failed: "thread 3 (ranger())"
  std::string writer;                      // the thread that had set hashWriting
  abi::MapOp read_op = abi::MapOp::kNone;  // the check's operation
  bool reader_in_put_all = false;
  abi::MapOp write_op = abi::MapOp::kNone;  // kAssign, kDelete or kClear
  bool writer_in_put_all = false;

  bool reader_writes() const {
    return read_op == abi::MapOp::kAssign || read_op == abi::MapOp::kDelete ||
           read_op == abi::MapOp::kClear;
  }
  bool put_all() const { return writer_in_put_all || reader_in_put_all; }
};

// What a write operation is called in the program's terms.
std::string write_name(abi::MapOp op, bool in_put_all) {
  if (in_put_all) return "PutAll";
  switch (op) {
    case abi::MapOp::kAssign:
      return "put";
    case abi::MapOp::kDelete:
      return "erase";
    case abi::MapOp::kClear:
      return "clear";
    default:
      return "write";
  }
}

std::string read_name(const Conflict& c) {
  switch (c.read_op) {
    case abi::MapOp::kIterate:
      return "range loop";
    case abi::MapOp::kLookup:
      return "lookup";
    case abi::MapOp::kClone:
      return "clone()";
    default:
      return write_name(c.read_op, c.reader_in_put_all);
  }
}

Fix copy_on_write(const Conflict& c) {
  const std::string write = write_name(c.write_op, c.writer_in_put_all);
  std::string reader_step;
  switch (c.read_op) {
    case abi::MapOp::kIterate:
      reader_step = fmt::format(
          "{} loads the pointer once and ranges over that snapshot: nobody writes a published "
          "map again, so no fatal check can fire{}.",
          c.reader, c.writer_in_put_all ? ", and every batch becomes visible all at once" : "");
      break;
    case abi::MapOp::kLookup:
      reader_step = fmt::format(
          "{} loads the pointer and looks keys up in that snapshot: nobody writes a published "
          "map again, so no fatal check can fire.",
          c.reader);
      break;
    case abi::MapOp::kClone:
      reader_step = fmt::format(
          "{} loads the pointer and uses that snapshot instead of a clone(): nobody writes a "
          "published map again, so it needs no copy.",
          c.reader);
      break;
    default:
      reader_step = fmt::format(
          "{} makes its {} the same way: each writer changes its own clone and publishes it with "
          "the compare-and-swap, so no thread ever writes a map another can see.",
          c.reader, read_name(c));
      break;
  }
  std::string title =
      c.writer_in_put_all
          ? "Make PutAll copy-on-write and publish each new map with one atomic pointer swap"
          : fmt::format(
                "Make the {} copy-on-write and publish each new map with one atomic "
                "pointer swap",
                write);
  std::string change =
      c.writer_in_put_all
          ? "Clone the current map, apply the whole batch to the private clone, then publish "
            "the clone"
          : fmt::format(
                "Clone the current map, make the {} (or a group of them) on the private "
                "clone, then publish the clone",
                write);
  return {"copy_on_write",
          title,
          {fmt::format("{} must stop writing the map that other threads use: its {} changes "
                       "the shared map in place{}.",
                       c.writer, write, c.writer_in_put_all ? ", entry by entry" : ""),
           change + " with one compare-and-swap of a std::atomic<std::shared_ptr<const Map>> "
                    "(retry on top of the newer map if another writer published first).",
           reader_step},
          "examples/safe_cow.cc",
          c.writer_in_put_all ? "section 4.1, read-copy-update PutAll"
                              : "section 4.1, read-copy-update"};
}

Fix rwlock(const Conflict& c) {
  const std::string write = write_name(c.write_op, c.writer_in_put_all);
  std::string reader_step;
  switch (c.read_op) {
    case abi::MapOp::kIterate:
      reader_step = fmt::format(
          "{} takes it shared around every range loop, from the iterator's creation to its "
          "last step, never per element.",
          c.reader);
      break;
    case abi::MapOp::kLookup:
      reader_step = fmt::format(
          "{} takes it shared around every lookup, and keeps it while it uses the value found.",
          c.reader);
      break;
    case abi::MapOp::kClone:
      reader_step = fmt::format("{} takes it shared around every clone().", c.reader);
      break;
    default:
      reader_step = fmt::format(
          "{} takes it exclusively around its own {} too: two writes never run at once.", c.reader,
          read_name(c));
      break;
  }
  return {
      "rwlock",
      c.read_op == abi::MapOp::kIterate
          ? "Guard every access and every whole range with one reader/writer lock"
          : "Guard every access to the map with one reader/writer lock",
      {fmt::format("{} takes a std::shared_mutex exclusively around the whole {}{}.", c.writer,
                   write, c.writer_in_put_all ? " (the whole batch, not each entry)" : ""),
       reader_step, "Every other access to the map, reads included, goes through the same lock."},
      "examples/safe_rwlock.cc",
      "chapter 1 (sync.RWMutex row of the table) and chapter 4"};
}

// For a reader that ranges, looks up or clones (not for two writers).
Fix snapshot(const Conflict& c) {
  std::string reader_step;
  switch (c.read_op) {
    case abi::MapOp::kIterate:
      reader_step =
          fmt::format("{} takes the latest snapshot and ranges over it without a lock.", c.reader);
      break;
    case abi::MapOp::kLookup:
      reader_step = fmt::format(
          "{} takes the latest snapshot and looks keys up in it without a lock.", c.reader);
      break;
    default:
      reader_step = fmt::format(
          "{} takes the latest snapshot instead of cloning the map being written: a published "
          "snapshot is never written again.",
          c.reader);
      break;
  }
  return {"snapshot",
          c.read_op == abi::MapOp::kIterate
              ? "Range over published snapshots, never over the map being written"
              : "Read published snapshots, never the map being written",
          {fmt::format("{} keeps a private master map that no other thread sees and, after "
                       "each {}, publishes an immutable clone of it (atomic.Value style).",
                       c.writer, c.writer_in_put_all ? "batch" : "change (or group of changes)"),
           reader_step},
          "examples/safe_snapshot.cc",
          "section 4.2, atomic.Value snapshots"};
}

std::vector<Fix> map_fatal_fixes(const CrashReport& r) {
  const Failure& f = *r.failure;
  Conflict c;
  c.reader = who(f.tid, f.thread_name, f.backtrace);
  c.writer = r.setter ? who(r.setter->tid, r.setter->thread_name, r.setter->backtrace)
                      : "the writing thread";
  c.read_op = f.op;
  c.reader_in_put_all = f.outer_op == abi::MapOp::kPutAll;
  c.write_op = r.setter ? r.setter->op : abi::MapOp::kNone;
  c.writer_in_put_all = r.setter && r.setter->in_put_all;
  if (c.read_op == abi::MapOp::kNone) {
    // A trace without the check's operation: the fatal message tells it.
    if (f.what == abi::fatal_message(abi::FatalKind::kConcurrentIterateWrite)) {
      c.read_op = abi::MapOp::kIterate;
    } else if (f.what == abi::fatal_message(abi::FatalKind::kConcurrentReadWrite)) {
      c.read_op = abi::MapOp::kLookup;
    } else if (f.what == abi::fatal_message(abi::FatalKind::kConcurrentCloneWrite)) {
      c.read_op = abi::MapOp::kClone;
    } else {
      c.read_op = abi::MapOp::kAssign;
    }
  }
  if (c.reader_writes()) return {rwlock(c), copy_on_write(c)};  // two writers
  if (c.read_op == abi::MapOp::kIterate) {
    if (c.writer_in_put_all) return {copy_on_write(c), rwlock(c), snapshot(c)};
    return {rwlock(c), copy_on_write(c), snapshot(c)};
  }
  return {rwlock(c), snapshot(c), copy_on_write(c)};  // a lookup or a clone
}

std::vector<Fix> signal_fixes(const CrashReport& r) {
  const Failure& f = *r.failure;
  std::string thread = who(f.tid, f.thread_name, f.backtrace);
  if (calls_abort(f)) {
    // The program's own check failed: with every map operation already safe
    // on its own (torn_batch), what is missing is the batch's atomicity.
    Fix batch{"batch_atomic",
              "Make each batch visible all at once",
              {fmt::format("{} aborted on a check of the program's own: if it checks that a "
                           "batch is all-or-nothing, locking each store on its own (sync.Map "
                           "style) does not make the batch atomic.",
                           thread),
               fmt::format("Publish the whole batch at once: build it in a clone and swap the "
                           "map pointer atomically (copy-on-write), or hold one lock for the "
                           "whole batch and for {}.",
                           r.run.iterations > 0 ? "the whole range loop" : "every whole read")},
              "examples/safe_cow.cc",
              "section 4.1, read-copy-update PutAll"};
    Conflict c;
    c.writer = "the writer";
    c.reader = "the reader";
    c.write_op = abi::MapOp::kAssign;
    c.writer_in_put_all = r.run.put_all_assigns > 0;
    c.read_op = r.run.iterations > 0 ? abi::MapOp::kIterate : abi::MapOp::kLookup;
    return {batch, rwlock(c)};
  }
  if (in_map_code(f.location) || std::any_of(f.backtrace.begin(), f.backtrace.end(),
                                             [](const auto& c) { return in_map_code(c); })) {
    Fix unsafe{"no_unsafe_writes",
               "Stop writing the map's internals behind its back",
               {fmt::format("{} faulted inside the map's own code ({}): its header or buckets "
                            "were not what the map left there.",
                            thread, f.location.text),
                "Look for code that writes the map's header or buckets directly (unsafe casts, "
                "raw_header()) and remove it; no lock protects a map from writes that bypass "
                "its API. Then guard the remaining concurrent uses with one of the fixes of "
                "chapter 4."},
               "examples/safe_rwlock.cc",
               "section 2.4 and chapter 1: never bypass the map with unsafe"};
    return {unsafe};
  }
  return {};
}

}  // namespace

std::vector<Fix> choose_fixes(const CrashReport& report) {
  if (!report.failure) return {};
  return report.failure->map_fatal ? map_fatal_fixes(report) : signal_fixes(report);
}

}  // namespace backstep::report
