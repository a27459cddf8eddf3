// One function per subcommand; each returns the process exit status.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace backstep::cli {

struct RecordArgs {
  std::vector<std::string> command;
  std::string output;
  bool chaos = false;
  std::optional<uint64_t> seed;
  std::optional<uint64_t> timeslice;
};
int run_record(const RecordArgs& args);

struct ReplayArgs {
  std::string trace;
  std::optional<uint64_t> until_event;
  bool until_fatal = false;
  bool quiet = false;
  std::vector<std::string> commands;  // -ex, in order
  std::string script;                 // -x FILE
  bool json = false;
};
int run_replay(const ReplayArgs& args);

int run_info(const std::string& trace);
int run_dump(const std::string& trace, bool json);

}  // namespace backstep::cli
