// The map operation a stopped thread is in, with its arguments' values as
// DWARF has them (the key being written, the batch of a PutAll): what the
// report shows for the two threads whose operations conflicted.
#pragma once

#include <optional>
#include <vector>

#include "report/crash_report.h"
#include "symbols/symbolizer.h"
#include "symbols/unwind.h"

namespace backstep::report {

// The outermost GoMap method (inlined or not) in the innermost run of
// GoMap methods on `frames` (a stack, innermost first), and its arguments
// as gdb's `info args` prints them there, `this` left out. nullopt when no
// frame is in the map's code or nothing has DWARF.
std::optional<OperationCall> operation_call(const symbols::Symbolizer& symbols,
                                            const std::vector<symbols::Frame>& frames,
                                            const symbols::ReadMemory& read_memory);

}  // namespace backstep::report
