// Seeds for the fuzzers, made from a real recording (tests/fuzz/ctest runs
// this on traces the build just recorded, so the seeds follow the trace
// format as it is today):
//
//   fuzz_seeds TRACE_DIR OUT_DIR NAME
//
// writes OUT_DIR/trace_records/NAME-*   the trace's records, decoded
//        OUT_DIR/bundle/NAME            a bundle's entries, decompressed
//        OUT_DIR/gdb_protocol/NAME-*    gdb sessions on that trace
// in the input formats of the fuzzers next to this file.
#include <fmt/core.h>
#include <zstd.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "base/scratch_dir.h"
#include "gdbserver/gdb_server.h"
#include "share/bundle.h"
#include "trace/chunk_reader.h"
#include "trace/trace_reader.h"
#include "trace/trace_writer.h"

using namespace backstep;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& file, const std::string& bytes) {
  fs::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

template <class T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

// trace_records_fuzzer's input: records_per_chunk, then (type, length,
// payload) per record; the first records, up to `limit` of them and
// `max_bytes`, and the last one.
std::string decoded_records(const fs::path& events, size_t limit, size_t max_bytes,
                            uint8_t per_chunk) {
  std::string out(1, static_cast<char>(per_chunk));
  trace::ChunkReader reader = trace::ChunkReader::open(events);
  trace::Record r;
  std::string last;
  while (reader.next(r)) {
    std::string rec;
    put<uint16_t>(rec, r.type);
    put<uint32_t>(rec, static_cast<uint32_t>(r.payload.size()));
    rec.append(reinterpret_cast<const char*>(r.payload.data()), r.payload.size());
    if (r.index < limit && out.size() + rec.size() <= max_bytes) {
      out += rec;
    } else {
      last = std::move(rec);
    }
  }
  return out + last;
}

// bundle_fuzzer's input: what `pack` compresses, for a short trace (the
// first records of `t` and one small file copy: the real copies are
// megabytes).
std::string bundle_entries(const trace::Trace& t) {
  ScratchDir scratch("backstep-seeds");
  fs::path small = scratch.path() / "trace";
  fs::create_directory(small);
  {
    trace::TraceWriter w(small);
    size_t n = 0;
    for (const trace::Event& e : t.events()) {
      if (std::holds_alternative<trace::FileMap>(e)) continue;
      if (++n > 40) break;
      w.write(e);
    }
    const char content[] =
        "\x7f"
        "ELF a file the program mapped";
    trace::FileMap f;
    f.path = "/usr/lib/seed.so";
    f.content = w.keep_content(std::as_bytes(std::span(content)));
    f.length = 4096;
    w.write(f);
    if (const trace::End* end = t.end()) w.write(*end);
    w.close();
  }
  fs::path bundle = scratch.path() / "seed.bundle";
  share::pack(small, bundle, share::PackOptions{});
  std::ifstream in(bundle, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The frame after the 24-byte header was streamed: its size is unknown.
  const size_t kHeader = 24;
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> d(ZSTD_createDCtx(), ZSTD_freeDCtx);
  ZSTD_inBuffer in_buf{bytes.data() + kHeader, bytes.size() - kHeader, 0};
  std::string raw;
  std::vector<char> out(ZSTD_DStreamOutSize());
  while (in_buf.pos < in_buf.size) {
    ZSTD_outBuffer o{out.data(), out.size(), 0};
    size_t r = ZSTD_decompressStream(d.get(), &o, &in_buf);
    if (ZSTD_isError(r)) throw std::runtime_error("cannot decompress the seed bundle");
    raw.append(out.data(), o.pos);
  }
  return raw;
}

std::string packet(const std::string& payload) {
  unsigned sum = 0;
  for (unsigned char c : payload) sum += c;
  return fmt::format("${}#{:02x}", payload, sum & 0xff);
}

std::string hex(const std::string& s) {
  std::string out;
  for (unsigned char c : s) out += fmt::format("{:02x}", c);
  return out;
}

// gdb_protocol_fuzzer's input: what gdb sends, acks included.
std::vector<std::string> gdb_sessions(const trace::Trace& t) {
  const uint64_t pc = t.exec().regs.rip;
  const uint64_t sp = t.exec().regs.rsp;
  const std::string start = "+" + packet("qSupported:multiprocess+;swbreak+;hwbreak+") + "+" +
                            packet("QStartNoAckMode") + "+";
  auto session = [&](std::initializer_list<std::string> payloads, bool acks = false) {
    std::string s = start;
    for (const std::string& p : payloads) s += packet(p) + (acks ? "+" : "");
    return s;
  };
  return {
      session({"?", "qC", "qAttached", "qfThreadInfo", "qsThreadInfo", "g", "p10", "Hg0",
               fmt::format("m{:x},40", sp), fmt::format("m{:x},10", pc), "qXfer:auxv:read::0,200",
               "qXfer:features:read:target.xml:0,fff", "qXfer:exec-file:read::0,fff",
               "qXfer:libraries-svr4:read::0,fff", "D"}),
      session({fmt::format("Z0,{:x},1", pc), "c", "bc", fmt::format("z0,{:x},1", pc), "s", "bs",
               "vCont?", "vCont;s:p1.-1", "k"}),
      session({fmt::format("Z2,{:x},8", sp - 64), "c", "bc", fmt::format("z2,{:x},8", sp - 64),
               "qRcmd," + hex("when"), "vKill;1"}),
      session({"vFile:setfs:0", "vFile:open:" + hex(gdbserver::program_file(t)) + ",0,0",
               "vFile:fstat:1", "vFile:pread:1,200,0", "vFile:pread:1,40,1000", "vFile:close:1",
               "vFile:open:" + hex("/nonexistent") + ",0,0", "D"}),
      // With acks, and a bad checksum and garbage between packets.
      session({"?", "g"}, true) + "$g#00-" + "junk\x03" + packet("m0,8") + "+",
  };
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: fuzz_seeds TRACE_DIR OUT_DIR NAME\n");
    return 2;
  }
  try {
    const fs::path dir = argv[1];
    const fs::path out = argv[2];
    const std::string name = argv[3];
    trace::Trace t = trace::Trace::load(dir);
    write(out / "trace_records" / (name + "-head"),
          decoded_records(dir / trace::kEventsFile, 60, 16 << 10, 4));
    write(out / "trace_records" / (name + "-long"),
          decoded_records(dir / trace::kEventsFile, 400, 64 << 10, 64));
    write(out / "bundle" / name, bundle_entries(t));
    int n = 0;
    for (const std::string& s : gdb_sessions(t)) {
      write(out / "gdb_protocol" / fmt::format("{}-{}", name, n++), s);
    }
  } catch (const std::exception& e) {
    fprintf(stderr, "fuzz_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
