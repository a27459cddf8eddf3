// The interactive side of `backstep replay`: gdb-style commands over a
// TimeTravel session, read from a terminal (with line editing and history),
// from -ex/-x in batch mode, and printed as text or JSON.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "disasm/disassembler.h"
#include "replayer/time_travel.h"
#include "symbols/symbolizer.h"
#include "symbols/unwind.h"
#include "symbols/variables.h"

namespace backstep::cli {

// `s` without leading and trailing blanks (command lines, arguments).
std::string trim(const std::string& s);

class Debugger {
 public:
  Debugger(const trace::Trace& trace, bool json, replayer::TimeTravelOptions options = {});
  // On a TimeTravel owned by someone else (the gdb server, whose `monitor`
  // commands these are), with text output appended to `*capture` instead
  // of printed.
  Debugger(replayer::TimeTravel& tt, std::string* capture);

  // Runs one command line. Returns false for `quit`. Errors in a command are
  // reported and do not end the session.
  bool execute(const std::string& line);
  // Reads commands from the terminal until quit or end of input.
  void interactive();

 private:
  void run(const std::string& command, const std::string& args);
  void emit(const nlohmann::json& j, const std::string& text);
  void show_where();
  void cmd_goto(const std::string& args);
  void cmd_process(const std::string& args);
  void cmd_info(const std::string& args);
  void cmd_examine(const std::string& fmt, const std::string& args);
  void cmd_disassemble(const std::string& args);
  void cmd_map(const std::string& args);
  void cmd_events(const std::string& args);
  void cmd_panic();
  void cmd_backtrace();
  void cmd_list(const std::string& args);
  // Stop points and motion (debugger_motion.cc). False when `command` is
  // not one of them.
  bool run_motion(const std::string& command, const std::string& args);
  void cmd_break(const std::string& args);
  void cmd_watch(const std::string& args, replayer::WatchKind kind);
  void cmd_delete(const std::string& args);
  void cmd_catch(const std::string& args);
  void info_breakpoints();
  void cmd_continue(replayer::Direction direction, const std::string& args);
  void cmd_step(bool over, bool reverse);
  void cmd_finish(bool reverse);
  void cmd_print(const std::string& args);
  // Where a value came from (debugger_origin.cc).
  void cmd_origin(const std::string& args);
  void report_stop(const replayer::ResumeStop& stop);
  void report_edge(bool at_end);
  std::vector<uint64_t> resolve_location(const std::string& spec);
  const symbols::Symbolizer& symbolizer();
  std::string location(uint64_t pc);
  // Data in gdb's forms (debugger_data.cc).
  uint64_t eval(const std::string& expr);
  std::string format_value(uint64_t v, char format, const std::string& expr);
  void info_registers(const std::string& names);
  // The selected thread's frames, inlined calls expanded (gdb's numbering).
  std::vector<symbols::Frame> frames();
  size_t selected_frame();
  std::string describe_frame(size_t i, const std::vector<symbols::Frame>& all);
  nlohmann::json frame_json(size_t i, const symbols::Frame& f);
  // What thread `tid` is called (symbols::thread_name), or empty.
  std::string thread_name(int32_t tid);
  void cmd_set(const std::string& args);
  void cmd_frame(const std::string& command, const std::string& args);
  std::string describe_pc(uint64_t pc);
  // The program's variables in the selected frame (debugger_variables.cc).
  symbols::FrameContext frame_context();
  bool print_variable(const std::string& expr, char format);
  void info_variables(bool args);

  const trace::Trace& trace_;
  std::unique_ptr<replayer::TimeTravel> own_tt_;  // unless given one
  replayer::TimeTravel& tt_;
  Disassembler disassembler_;
  std::unique_ptr<symbols::Symbolizer> symbolizer_;  // built on first use
  bool interactive_ = false;  // a terminal session (Ctrl-C abandons one motion)
  bool json_;
  std::string* capture_ = nullptr;
  replayer::EventFilter catches_;                          // `catch map|syscall|switch`
  std::map<int, std::string> stop_points_;                 // id -> how the user named it
  std::vector<uint64_t> history_;                          // print's values: $1, $2, ...
  symbols::NameStyle names_ = symbols::NameStyle::kShort;  // `set print full-names`
  size_t frame_ = 0;                                       // the selected frame ...
  std::string frame_selected_at_;                          // ... at this position/thread
};

}  // namespace backstep::cli
