// Writes one stream of a trace: a file of checksummed, zstd-compressed
// chunks of records (layout in docs/trace-format.md).
//
// Records are buffered in memory and sealed into a chunk by flush(), which
// happens automatically once the pending chunk holds chunk_bytes of records
// or chunk_records records. Each chunk (header + compressed payload) goes to
// the file in a single write(), so a recorder killed at any point leaves
// every earlier chunk intact and at most one torn chunk at the end, which
// ChunkReader reports as truncation rather than corruption.
//
// Not thread-safe: one writer per stream, used from one thread at a time.
// A moved-from writer may only be assigned to or destroyed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string_view>

namespace backstep::trace {

struct WriterOptions {
  // zstd level. Recording is latency-sensitive and trace data compresses
  // well even at level 1; higher levels cost far more CPU than they save.
  int compression_level = 1;
  // Seal the pending chunk once it holds at least this many raw bytes...
  size_t chunk_bytes = 256 * 1024;
  // ...or this many records (bounds the work lost in a torn chunk when
  // records are tiny).
  uint32_t chunk_records = 32 * 1024;
  // fsync() the file in close(). Off by default: a trace is useful after a
  // crash of the recorder, and the reader copes with a torn tail, so the
  // cost is only worth paying when the machine itself may go down.
  bool fsync_on_close = false;
  // Opaque to the container: stored in the file header for the recorder's
  // own use and returned by ChunkReader::flags().
  uint32_t flags = 0;
};

class ChunkWriter {
 public:
  // Creates `file` (which must not exist: O_EXCL, so two recorders never
  // interleave into one file) with mode 0600, since traces hold the traced
  // program's memory, and writes the file header. Throws TraceError.
  static ChunkWriter create(const std::filesystem::path& file, std::string_view stream_name,
                            const WriterOptions& options = {});

  ChunkWriter(ChunkWriter&&) noexcept;
  ChunkWriter& operator=(ChunkWriter&&) noexcept;
  // Flushes pending records if close() was not called. Errors are swallowed
  // (a destructor cannot report them): call close() to see them.
  ~ChunkWriter();

  // Adds a record. The payload is copied; it may be empty or larger than
  // chunk_bytes (such a record gets a chunk of its own), up to
  // format::kMaxRecordPayload. Throws TraceError on a write failure of an
  // automatic flush, after which the writer refuses further use.
  void append(uint16_t type, std::span<const std::byte> payload);

  // Seals the pending records (if any) into a chunk and writes it.
  void flush();

  // flush(), fsync() if asked for, and close the file. Idempotent.
  void close();

  // Records appended so far (flushed or not); also the index the next
  // appended record will get.
  uint64_t records_written() const noexcept;
  // Bytes in the file so far (header + sealed chunks).
  uint64_t file_size() const noexcept;
  const std::filesystem::path& path() const noexcept;

 private:
  struct Impl;
  explicit ChunkWriter(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace backstep::trace
