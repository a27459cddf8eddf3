// The instruction that set a map's hashWriting: the store to the map
// header's flags, in the operation that published the kWriteBegin event.
//
// The event carries the thread's tick count when it was published, and a
// tick is only a function entry or a loop header: the canonical point of
// that tick can lie in the code before the operation (the end of the
// preceding put, when an erase follows it with no tick of its own). The
// store itself is found by single-stepping from there, decoding each
// instruction's memory operands, to the call that published the event.
// `goto panic`, `goto setter`, `report` (text and JSON) all stand there, so
// they name the same position, instruction and line.
#pragma once

#include <cstddef>
#include <cstdint>

#include "replayer/replay_engine.h"
#include "runtime/abi.h"

namespace backstep::replayer {

class TimeTravel;

struct FlagStore {
  ReplayPosition position;  // standing on the store, not executed yet
  uint64_t pc = 0;
};

// The record of the Stop that ends the run of `tid` in which the events of
// the MapEvents record `batch` were published (the recorder drains a
// thread's ring at its stops, and writes the batch just before that stop).
size_t run_record_of_batch(const trace::Trace& trace, int32_t tid, size_t batch);

// Goes to the store that flipped hashWriting on for `set`, a kWriteBegin
// event found in the MapEvents record `batch`, and stands on it. Throws
// Error when the run holds no such store (then nothing else can say where
// the flag was set either).
FlagStore goto_flag_store(TimeTravel& tt, const abi::MapEvent& set, size_t batch);

}  // namespace backstep::replayer
