// Recordings the gdb server tests share: each example recorded once per
// test run, with the first chaos seed (from 1) that makes it fail.
//
// ctest runs every test in a process of its own; the recordings live in the
// build tree and the `gdbserver.record` test (a CTest fixture that runs
// first) makes them fresh, so the other tests only replay.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "../e2e/e2e_support.h"

namespace gdbtest {

struct Recording {
  e2e::fs::path dir;    // XDG_DATA_HOME for the runs; holds the trace
  e2e::fs::path trace;  // empty if the program never failed
};

// Records `program rounds` under RECORDINGS_DIR/`name`/seed-N.
inline Recording record_failing(const std::string& name, const std::string& program,
                                const std::string& rounds) {
  Recording r{e2e::fs::path(RECORDINGS_DIR) / name, {}};
  e2e::fs::remove_all(r.dir);
  e2e::fs::create_directories(r.dir);
  for (int seed = 1; seed <= 40 && r.trace.empty(); ++seed) {
    e2e::fs::path trace = r.dir / ("seed-" + std::to_string(seed));
    auto res = e2e::backstep({"record", "-o", trace.string(), "--chaos", "--seed",
                              std::to_string(seed), "--", program, rounds},
                             r.dir);
    if (res.shell_status() != 0) r.trace = trace;
  }
  if (r.trace.empty()) {
    ADD_FAILURE() << program << " did not fail under seeds 1..40";
  } else {
    e2e::write_file(r.dir / "trace", r.trace.string());  // written last: "done"
  }
  return r;
}

// The recording made by an earlier test of this run, or a new one.
inline Recording recording(const std::string& name, const std::string& program,
                           const std::string& rounds) {
  e2e::fs::path dir = e2e::fs::path(RECORDINGS_DIR) / name;
  if (e2e::fs::exists(dir / "trace")) return {dir, e2e::read_file(dir / "trace")};
  return record_failing(name, program, rounds);
}

inline const Recording& growth_panic() {
  static const Recording r = recording("growth_panic", GROWTH_PANIC_BIN, "200");
  return r;
}
inline const Recording& header_corruption() {
  static const Recording r = recording("header_corruption", HEADER_CORRUPTION_BIN, "200");
  return r;
}

}  // namespace gdbtest
