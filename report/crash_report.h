// The automatic investigation behind `backstep report`: what failed, why,
// and what to do, gathered once from a recording (by replaying it to the
// panic and to the moment the conflicting flag was set) into plain data that
// the renderers (text, Markdown, HTML, JSON) only lay out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "report/timeline.h"
#include "runtime/abi.h"
#include "trace/trace_reader.h"

namespace backstep::report {

struct ReportOptions {
  size_t last = 20;         // how many flag transitions and switches lead to the end
  bool full_names = false;  // functions' demangled names as they are, not short
};

// A code address, resolved.
struct CodeLocation {
  uint64_t pc = 0;
  std::string function;  // demangled; empty when unknown
  std::string module;
  std::string file;  // empty when there is no line information
  int line = 0;
  std::string text;  // "GoMap<int, int>::iter_next+0x2a at go_map.h:512"
  // In a backtrace: a call inlined into the next frame's function (same pc).
  bool inlined = false;
};

struct SourceExcerpt {
  std::string file;
  int line = 0;  // the line of interest
  std::vector<std::pair<int, std::string>> lines;
};

struct DisassemblyLine {
  uint64_t address = 0;
  std::string text;
  bool current = false;  // the failing instruction
  std::string note;      // why this line matters, or empty
};

// A map operation a thread was in (a GoMap method of the map's interface)
// and its arguments as DWARF gives them, printed as gdb prints them.
struct OperationCall {
  std::string function;  // its DWARF name: "put", "PutAll<std::vector<...> >"
  std::vector<std::pair<std::string, std::string>> arguments;  // name, value; `this` left out
  // For PutAll: the batch entry being written (its loop's `k` and `v`).
  std::vector<std::pair<std::string, std::string>> entry;
};

// The moment and place the recording failed.
struct Failure {
  bool map_fatal = false;  // Go's fatal check, else a signal (fault, abort)
  std::string what;        // "concurrent map iteration and map write", "SIGSEGV"
  int32_t tid = 0;
  std::string thread_name;  // symbols::thread_name at the failure, or empty
  std::string position;     // record:thread:ticks:steps, for `goto`
  size_t record = 0;        // the record the failing run ends at
  uint64_t pc = 0;
  std::string instruction;
  CodeLocation location;
  std::optional<SourceExcerpt> source;
  std::vector<DisassemblyLine> disassembly;
  std::vector<CodeLocation> backtrace;
  uint64_t map = 0;  // for a map fatal: the map whose flags the check read
  // For a map fatal: the operation the check was made in (kIterate for a
  // range loop's step, kLookup, kClone, kAssign, ...) and its caller's
  // (kPutAll), from the kFatal event.
  abi::MapOp op = abi::MapOp::kNone;
  abi::MapOp outer_op = abi::MapOp::kNone;
  // For a signal: the failing thread's last write to stderr before it, the
  // program's own explanation ("assertion failed: ..."), or empty.
  std::string last_stderr;
  // The map operations the failing thread was in, outermost first.
  std::vector<OperationCall> calls;
};

// The thread whose hashWriting the check saw, at the moment it set it: on
// the store to the map's flags (replayer/flag_store.h), the position, pc
// and line that `goto panic` and `goto setter` show too.
struct Setter {
  int32_t tid = 0;
  std::string thread_name;  // symbols::thread_name at the set, or empty
  std::string operation;              // "PutAll -> assign -> evacuation of old bucket 206"
  abi::MapOp op = abi::MapOp::kNone;  // kAssign, kDelete or kClear
  abi::MapOp outer_op = abi::MapOp::kNone;
  bool in_put_all = false;
  std::string position;  // empty when the store was not found (position_error says why)
  std::string position_error;
  size_t record = 0;   // the MapEvents record holding the set
  uint64_t ticks = 0;  // the event's tick
  uint64_t pc = 0;     // the store
  std::string instruction;
  CodeLocation site;  // the store's (the event's hook when the store was not found)
  std::optional<SourceExcerpt> source;
  std::vector<CodeLocation> backtrace;
  // The map operations it was in when it set the flag, outermost first.
  std::vector<OperationCall> calls;
};

// One instruction of a dataflow walk (replayer/dataflow.h), resolved.
struct DataflowStepView {
  std::string kind;  // "use", "load", "store", "made"
  int32_t tid = 0;
  std::string position;  // standing on the instruction, for `goto`
  CodeLocation location;
  std::string instruction;
  std::string reg;    // the register holding the value, or empty
  uint64_t addr = 0;  // the memory (load, store; the address used, for a use)
  uint64_t len = 0;
  std::optional<uint64_t> value;
  std::vector<std::string> via;  // register copies and pointer arithmetic on the way
};

// Where a bad value came from, followed back from the failure: for a fault
// the pointer the faulting instruction used, for a failed check each value
// the check compared.
struct ValueOrigin {
  std::string subject;  // "rax = 0x0, the address the faulting instruction read through"
  std::vector<DataflowStepView> steps;  // from the use back in time
  std::string origin;                   // why the walk ended there
  bool complete = false;                // it reached where the value was made
  std::optional<size_t> writer;         // the last store in `steps`: the write it came from
};

// The map's header, read from memory at the failing instruction.
struct MapState {
  uint64_t address = 0;
  abi::MapHeader header{};
};

// One map-flag transition or thread switch on the way to the end.
struct RecentEvent {
  size_t record = 0;
  std::string type;  // "map" or "switch"
  std::string text;  // trace::to_text's line
  nlohmann::json json;
};

// A class of fix from the seed's chapter 4, phrased for this crash.
struct Fix {
  std::string id;     // "copy_on_write", "rwlock", "snapshot", "batch_atomic", "no_unsafe_writes"
  std::string title;  // one line
  std::vector<std::string> steps;
  std::string example;  // the example implementing it, e.g. "examples/safe_cow.cc"
  std::string seed_section;
};

struct RunSummary {
  std::vector<int32_t> threads;  // sorted
  size_t records = 0;
  size_t stops = 0;
  size_t syscalls = 0;  // syscall entries
  size_t switches = 0;
  size_t map_events = 0;
  std::map<std::string, uint64_t> map_operations;  // "assign" -> count (hashWriting sets)
  uint64_t put_all_assigns = 0;                    // hashWriting sets made inside a PutAll
  uint64_t iterations = 0;                         // iterator starts
  uint64_t growths = 0;
  bool ended = false;  // the trace has its End record
  bool exited = false;
  int32_t code = 0;
  bool interrupted = false;
  bool truncated = false;
  std::string ending;         // "exited with status 0", "killed by SIGABRT (6)"
  std::string fatal_message;  // the End record's
};

struct CrashReport {
  std::string trace_dir;
  std::string program;
  std::vector<std::string> argv;
  std::string cpu;
  std::string scheduler;  // "fair" or "chaos"
  uint64_t seed = 0;
  std::optional<bool> environment_redacted;  // unknown to traces without the field
  RunSummary run;
  bool ended_normally = false;
  std::optional<Failure> failure;
  // Why the replay could not explain the failure (then `failure` holds only
  // what the trace's End record says), or empty.
  std::string investigation_error;
  std::optional<Setter> setter;
  std::optional<MapState> map;
  // For a failure that is not a map fatal: where the bad values came from.
  std::vector<ValueOrigin> dataflow;
  std::string dataflow_error;  // why that could not be followed, or empty
  size_t last = 0;  // ReportOptions::last
  std::vector<RecentEvent> recent;
  std::vector<Fix> fixes;  // best first
  Timeline timeline;
};

// Replays `trace` as far as needed. A replay that cannot reach the failure
// does not throw: the report says why (investigation_error).
CrashReport build_crash_report(const trace::Trace& trace, const ReportOptions& options);

}  // namespace backstep::report
