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
    if (c.module != exe || c.function.empty() ||
        c.function.find("backstep::") != std::string::npos) {
      continue;
    }
    std::string name = c.function;
    constexpr std::string_view kAnonymous = "(anonymous namespace)::";
    for (size_t at; (at = name.find(kAnonymous)) != std::string::npos;)
      name.erase(at, kAnonymous.size());
    return name.substr(0, name.find('(')) + "()";
  }
  return {};
}

std::string who(int32_t tid, const std::vector<CodeLocation>& frames) {
  std::string where = caller_in_program(frames);
  return where.empty() ? fmt::format("thread {}", tid) : fmt::format("thread {} ({})", tid, where);
}

Fix copy_on_write(const std::string& writer, const std::string& reader, const std::string& op) {
  return {"copy_on_write",
          "Make PutAll copy-on-write and publish each new map with one atomic pointer swap",
          {fmt::format("{} must stop writing the map that other threads use: its {} changes "
                       "the shared map in place, entry by entry.",
                       writer, op),
           "Clone the current map, apply the whole batch to the private clone, then publish "
           "the clone with one compare-and-swap of a std::atomic<std::shared_ptr<const Map>> "
           "(retry on top of the newer map if another writer published first).",
           fmt::format("{} loads the pointer once and ranges over that snapshot: nobody writes "
                       "a published map again, so no fatal check can fire, and every batch "
                       "becomes visible all at once.",
                       reader)},
          "examples/safe_cow.cc",
          "section 4.1, read-copy-update PutAll"};
}

Fix rwlock(const std::string& writer, const std::string& reader, const std::string& read_op) {
  return {"rwlock",
          "Guard every access and every whole range with one reader/writer lock",
          {fmt::format("{} takes a std::shared_mutex exclusively around the whole write "
                       "operation (for PutAll: the whole batch, not each entry).",
                       writer),
           fmt::format("{} takes it shared around every {}: for a range loop, from the "
                       "iterator's creation to its last step, never per element.",
                       reader, read_op),
           "Every other access to the map, reads included, goes through the same lock."},
          "examples/safe_rwlock.cc",
          "chapter 1 (sync.RWMutex row of the table) and chapter 4"};
}

Fix snapshot(const std::string& writer, const std::string& reader) {
  return {"snapshot",
          "Range over published snapshots, never over the map being written",
          {fmt::format("{} keeps a private master map that no other thread sees and, after "
                       "each batch, publishes an immutable clone of it (atomic.Value style).",
                       writer),
           fmt::format("{} takes the latest snapshot and ranges over it without a lock.", reader)},
          "examples/safe_snapshot.cc",
          "section 4.2, atomic.Value snapshots"};
}

std::vector<Fix> map_fatal_fixes(const CrashReport& r) {
  const Failure& f = *r.failure;
  std::string reader = who(f.tid, f.backtrace);
  std::string writer = r.setter ? who(r.setter->tid, r.setter->backtrace) : "the writing thread";
  std::string op = r.setter ? r.setter->operation : "write";
  bool put_all = r.setter && r.setter->in_put_all;
  if (f.what == abi::fatal_message(abi::FatalKind::kConcurrentIterateWrite)) {
    if (put_all) {
      return {copy_on_write(writer, reader, op), rwlock(writer, reader, "range loop"),
              snapshot(writer, reader)};
    }
    return {rwlock(writer, reader, "range loop"), copy_on_write(writer, reader, op),
            snapshot(writer, reader)};
  }
  if (f.what == abi::fatal_message(abi::FatalKind::kConcurrentReadWrite)) {
    return {rwlock(writer, reader, "lookup"), snapshot(writer, reader),
            copy_on_write(writer, reader, op)};
  }
  if (f.what == abi::fatal_message(abi::FatalKind::kConcurrentCloneWrite)) {
    return {rwlock(writer, reader, "Clone()"), copy_on_write(writer, reader, op)};
  }
  // Two writers: both take the lock exclusively (or publish copies).
  return {rwlock(writer + " and " + reader, "any reader", "read and range loop"),
          copy_on_write(writer + " and " + reader, "every reader", op)};
}

std::vector<Fix> signal_fixes(const CrashReport& r) {
  const Failure& f = *r.failure;
  std::string thread = who(f.tid, f.backtrace);
  if (calls_abort(f)) {
    // The program's own check failed: with every map operation already safe
    // on its own (torn_batch), what is missing is the batch's atomicity.
    Fix batch{"batch_atomic",
              "Make each batch visible all at once",
              {fmt::format("{} aborted on a check of the program's own: if it checks that a "
                           "batch is all-or-nothing, locking each store on its own (sync.Map "
                           "style) does not make the batch atomic.",
                           thread),
               "Publish the whole batch at once: build it in a clone and swap the map pointer "
               "atomically (copy-on-write), or hold one lock for the whole PutAll and for the "
               "whole range loop."},
              "examples/safe_cow.cc",
              "section 4.1, read-copy-update PutAll"};
    return {batch, rwlock("the writer", "the reader", "range loop")};
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
