// What to do about a crash: the classes of fix of the seed document's
// chapter 4 (one reader/writer lock around every access and whole range,
// copy-on-write PutAll published atomically, snapshots), chosen for the kind
// of failure and phrased with this crash's threads and operations.
#pragma once

#include <vector>

#include "report/crash_report.h"

namespace backstep::report {

// Best first; empty when the recording ended normally.
std::vector<Fix> choose_fixes(const CrashReport& report);

}  // namespace backstep::report
