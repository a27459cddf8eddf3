// Where an executable keeps the runtime's tick counter (abi::kTickSection):
// read from its ELF section headers. Replay uses it to tell the counter's
// code from the program's; `hunt` to tell a program built with
// backstep_instrument from one without ticks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace backstep {

// The section's [start, end) as linked (add the load bias of a PIE), or
// nothing when `elf_file` has no such section or cannot be read as ELF.
std::optional<std::pair<uint64_t, uint64_t>> tick_section_of(const std::string& elf_file);

// Whether `elf_file` is linked as position-independent (ET_DYN).
bool is_position_independent(const std::string& elf_file);

}  // namespace backstep
