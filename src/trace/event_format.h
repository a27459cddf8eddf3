// How events look to people (one line of text) and to tools (JSON), shared
// by `backstep dump` and, later, the exporters.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "trace/events.h"

namespace backstep::trace {

// One record may hold several map events: each becomes its own line/object,
// numbered `index` (and `sub` within the record).
std::vector<nlohmann::json> to_json(const Event& event, uint64_t index);
std::vector<std::string> to_text(const Event& event, uint64_t index);

nlohmann::json map_event_json(const abi::MapEvent& e);
std::string map_event_text(const abi::MapEvent& e);
std::string flags_text(uint8_t flags);
// How a program ended: "exited with status N" or "killed by SIGX (N)".
std::string ending_text(bool exited, int code);

// "PutAll -> assign -> evacuation of old bucket 206": the operation a
// hashWriting set happened in, and the growth steps the setter made after it.
std::string operation_chain(const abi::MapEvent& setter, const std::vector<abi::MapEvent>& steps);

// A map header read from the program's memory, decoded: old bucket count
// (2^B, or 2^(B-1) when doubling; 0 when not growing), growth kind.
uint64_t old_bucket_count(const abi::MapHeader& h);
nlohmann::json map_header_json(uint64_t addr, const abi::MapHeader& h);
std::string map_header_text(uint64_t addr, const abi::MapHeader& h);

}  // namespace backstep::trace
