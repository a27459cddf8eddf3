#include "replayer/flag_store.h"

#include <fmt/core.h>

#include <cstddef>
#include <optional>

#include "base/errors.h"
#include "disasm/memory_access.h"
#include "replayer/time_travel.h"

namespace backstep::replayer {

size_t run_record_of_batch(const trace::Trace& trace, int32_t tid, size_t batch) {
  const auto& ev = trace.events();
  size_t record = batch + 1;
  while (record < ev.size()) {
    const auto* s = std::get_if<trace::Stop>(&ev[record]);
    if (s && s->tid == tid) break;
    ++record;
  }
  return record;
}

FlagStore goto_flag_store(TimeTravel& tt, const abi::MapEvent& set, size_t batch) {
  if (set.kind != static_cast<uint8_t>(abi::MapEventKind::kWriteBegin)) {
    throw Error("goto_flag_store: not a hashWriting set");
  }
  const auto tid = static_cast<int32_t>(set.tid);
  const size_t run_record = run_record_of_batch(tt.trace(), tid, batch);
  // The canonical point of the event's tick (or the run's start, when the
  // run began at that tick): the store comes after it, before the next tick.
  tt.goto_position(ReplayPosition{run_record, tid, set.ticks, 0});
  ReplayEngine& engine = tt.engine();
  const uint64_t flags_addr = set.map + offsetof(abi::MapHeader, flags);
  const uint64_t publish_call = set.site - 5;  // `call` rel32 before the return address
  AccessDecoder decoder;
  std::optional<FlagStore> store;
  // Bounded: between a tick and the next there is only code without ticks
  // (the hash function of a string key, libc), never a long loop.
  constexpr int kMaxSteps = 2'000'000;
  for (int steps = 0; steps < kMaxSteps; ++steps) {
    Registers regs = engine.registers(tid);
    if (regs.rip == publish_call) break;
    if (engine.next_record() > run_record || engine.ticks(tid).value_or(0) > set.ticks) break;
    uint8_t code[16] = {};
    engine.memory(tid).read(regs.rip, code, sizeof code);
    bool writes_flags = false;
    for (const MemoryAccess& a : decoder.accesses(code, regs)) {
      writes_flags |= a.write && overlaps(a, flags_addr, 1);
    }
    uint8_t before = 0;
    if (writes_flags) engine.memory(tid).read(flags_addr, &before, 1);
    const ReplayPosition here = engine.position(tid);
    if (!engine.step(tid)) break;
    if (!writes_flags) continue;
    uint8_t after = 0;
    engine.memory(tid).read(flags_addr, &after, 1);
    // The last write that turned the bit on: an earlier one may be the
    // clear at the end of the preceding operation.
    if (!(before & abi::kFlagHashWriting) && (after & abi::kFlagHashWriting)) {
      store = FlagStore{here, regs.rip};
    }
  }
  if (!store) {
    throw Error(fmt::format(
        "could not find the store that set hashWriting on map {:#x} (thread {}, tick {})", set.map,
        tid, set.ticks));
  }
  tt.goto_position(store->position);
  return *store;
}

}  // namespace backstep::replayer
