// The source line that called an inlined function, for code addresses that
// sit inside a small always-inline helper: the map publishes its events from
// GoMap::event(), so the line table names that helper's body, while the line
// worth showing is the caller's (the hashWriting set in assign, delete...).
#pragma once

#include <cstdint>
#include <optional>

#include "symbols/symbolizer.h"

namespace backstep::report {

// The call site of the innermost inlined subroutine containing `pc`, or
// nullopt when `pc` is not in inlined code (or has no DWARF).
std::optional<symbols::SourceLine> inlined_call_site(const symbols::Symbolizer& symbols,
                                                     uint64_t pc);

}  // namespace backstep::report
