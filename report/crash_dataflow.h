// For a crash that is not a map fatal, where the bad value came from:
// follows it back through the recording (replayer/dataflow.h) and resolves
// each step's code. For a fault, the pointer the faulting instruction used;
// for an abort after a failed check (assert, or a check of the program's
// own that calls abort), the values the check compared.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "replayer/time_travel.h"
#include "report/crash_report.h"
#include "symbols/symbolizer.h"

namespace backstep::report {

using LocateCode = std::function<CodeLocation(uint64_t pc)>;

// Starts where goto_panic() left the replay; moves it. `exe` is the
// program's path (the check is looked for in its frames).
std::vector<ValueOrigin> follow_bad_values(replayer::TimeTravel& tt,
                                           const symbols::Symbolizer& symbols,
                                           const replayer::PanicReport& panic,
                                           const std::string& exe, const LocateCode& locate);

}  // namespace backstep::report
