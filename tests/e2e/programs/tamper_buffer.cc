// Test helper: changes one argument of the first buffered syscall number NR
// in a trace's events (a SyscallBuffer record), so that its replay must stop
// with a divergence naming the syscall and the argument.
// Usage: tamper_buffer EVENTS_IN EVENTS_OUT NR ARG
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "preload/syscallbuf_abi.h"
#include "trace/chunk_reader.h"
#include "trace/chunk_writer.h"
#include "trace/events.h"
#include "trace/trace_writer.h"

using namespace backstep;

int main(int argc, char** argv) {
  if (argc != 5) return 2;
  const long nr = std::atol(argv[3]);
  const int arg = std::atoi(argv[4]);
  trace::ChunkReader reader = trace::ChunkReader::open(argv[1]);
  trace::WriterOptions options;
  options.flags = reader.flags();
  trace::ChunkWriter writer = trace::ChunkWriter::create(argv[2], trace::kEventsFile, options);
  trace::Record record;
  bool done = false;
  while (reader.next(record)) {
    std::vector<std::byte> payload(record.payload.begin(), record.payload.end());
    if (!done && record.type == static_cast<uint16_t>(trace::RecordType::kSyscallBuffer)) {
      // tid u32, then the records as bytes (u32 length first).
      size_t at = 8;
      while (at + sizeof(bksb_record) <= payload.size()) {
        bksb_record r;
        std::memcpy(&r, payload.data() + at, sizeof r);
        if (r.nr == nr) {
          r.args[arg] += 1;
          std::memcpy(payload.data() + at, &r, sizeof r);
          done = true;
          break;
        }
        at += r.size;
      }
    }
    writer.append(record.type, payload);
  }
  writer.close();
  if (!done) std::fprintf(stderr, "no buffered syscall %ld\n", nr);
  return done ? 0 : 1;
}
