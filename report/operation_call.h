// The map operations a stopped thread is in, with their arguments' values
// as DWARF has them (the key being written, the batch of a PutAll): what
// the report shows for the two threads whose operations conflicted.
#pragma once

#include <vector>

#include "report/crash_report.h"
#include "symbols/symbolizer.h"
#include "symbols/unwind.h"

namespace backstep::report {

// The GoMap methods of the map's interface (put, PutAll, erase, begin...)
// in the innermost run of GoMap code on `frames` (a stack, innermost
// first), inlined or not, outermost first, each with its arguments as gdb's
// `info args` prints them there (`this` left out, a reference shown as the
// value it refers to). Empty when no frame is in the map's code or nothing
// has DWARF.
std::vector<OperationCall> operation_calls(const symbols::Symbolizer& symbols,
                                           const std::vector<symbols::Frame>& frames,
                                           const symbols::ReadMemory& read_memory);

}  // namespace backstep::report
