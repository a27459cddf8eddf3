// The trace reader behind its checksums.
//
// Damaged bytes in a trace file are caught by the chunk checksums, so a
// fuzzer that mutates trace files exercises little more than the checksum
// check. This one's input is a trace's *decoded* records:
//
//   records_per_chunk:u8 (type:u16 length:u32 payload[length])*
//
// which it writes as a well-formed events file (ChunkWriter: valid chunk
// headers and checksums), so that every mutation reaches the record
// decoders, the map-event batch decoder, Trace::load's checks and what the
// commands do with a loaded trace (dump's text and JSON, the process list).
// Anything but a TraceError (or a clean std::exception) is a finding.
#include <cstdint>
#include <exception>

#include "fuzz_support.h"
#include "trace/chunk_writer.h"
#include "trace/error.h"
#include "trace/event_format.h"
#include "trace/process_list.h"
#include "trace/trace_reader.h"
#include "trace/trace_writer.h"

using namespace backstep;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::InputReader in(data, size);
  const std::filesystem::path dir = fuzz::fresh_dir("trace");
  trace::WriterOptions options;
  options.chunk_records = 1 + in.get<uint8_t>() % 64;  // chunk boundaries move too
  {
    trace::ChunkWriter writer =
        trace::ChunkWriter::create(dir / trace::kEventsFile, trace::kEventsFile, options);
    while (!in.done()) {
      auto type = in.get<uint16_t>();
      auto length = in.get<uint32_t>();
      writer.append(type, in.bytes(length));
    }
    writer.close();
  }
  try {
    trace::Trace t = trace::Trace::load(dir);
    uint64_t index = 0;
    for (const trace::Event& e : t.events()) {
      (void)trace::to_json(e, index, trace::JsonDetail::kFull);
      (void)trace::to_text(e, index);
      if (const auto* m = std::get_if<trace::MapEvents>(&e)) {
        if (!m->events.empty()) (void)m->events.back();
      }
      ++index;
    }
    trace::ProcessList processes(t);
    for (const auto& p : processes.processes()) {
      (void)processes.first_stop(t, p.pid, 0);
    }
  } catch (const trace::TraceError&) {
  } catch (const std::exception&) {
    // Other clean errors (a std::out_of_range from a formatter, say) are
    // findings of a kind too, but not crashes: the CLI prints them.
  }
  return 0;
}
