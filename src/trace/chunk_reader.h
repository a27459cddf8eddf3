// Reads one stream file written by ChunkWriter, record by record, verifying
// the file header, every chunk header and payload checksum, the record
// numbering and the record framing before handing out any record of a chunk.
//
// Damage is a TraceError naming the file and byte offset. The one exception
// is a torn tail: when the file ends inside a chunk (what a killed recorder
// leaves), next() simply returns false after the last complete chunk and
// truncated() says so. A file that ends exactly at a chunk boundary is
// complete: truncated() is false.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

namespace backstep::trace {

struct Record {
  uint16_t type = 0;
  // Position in the stream, counting from 0 across all chunks.
  uint64_t index = 0;
  // Points into the reader's buffer: valid until the next call to next()
  // (copy it to keep it longer).
  std::span<const std::byte> payload;
};

// A moved-from reader may only be assigned to or destroyed.
class ChunkReader {
 public:
  // Opens `file` and checks its header. Throws TraceError when the file is
  // missing or unreadable, is not a trace, has an unsupported format
  // version, or has a damaged header.
  static ChunkReader open(const std::filesystem::path& file);

  ChunkReader(ChunkReader&&) noexcept;
  ChunkReader& operator=(ChunkReader&&) noexcept;
  ~ChunkReader();

  // Fills `out` with the next record and returns true, or returns false at
  // the end of the stream (clean or truncated). Throws TraceError on a
  // damaged chunk; the reader then keeps failing with the same error.
  bool next(Record& out);

  // Records returned by next() so far.
  uint64_t records_read() const noexcept;

  // Meaningful once next() has returned false: whether the file ended
  // inside a chunk; the index of the first record lost with it (= the number
  // of records the stream still holds, so "trace cut at record N"); and the
  // byte offset where the torn chunk starts. Both are 0 when not truncated.
  bool truncated() const noexcept;
  uint64_t truncated_at() const noexcept;
  uint64_t truncated_offset() const noexcept;

  const std::string& stream_name() const noexcept;
  uint32_t flags() const noexcept;  // WriterOptions::flags of the writer
  const std::filesystem::path& path() const noexcept;

 private:
  struct Impl;
  explicit ChunkReader(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace backstep::trace
