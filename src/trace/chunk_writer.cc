#include "trace/chunk_writer.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "trace/byte_order.h"
#include "trace/error.h"
#include "trace/format.h"
#include "trace/io.h"
#include "base/unique_fd.h"

namespace backstep::trace {
namespace {

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};
using CCtxPtr = std::unique_ptr<ZSTD_CCtx, CCtxDeleter>;

std::vector<std::byte> encode_file_header(std::string_view stream_name, uint32_t flags) {
  std::vector<std::byte> h(format::file_header_size(stream_name.size()));
  std::memcpy(h.data() + format::kFileMagicOffset, format::kFileMagic, sizeof format::kFileMagic);
  store_le(h.data() + format::kFileVersionOffset, format::kVersion);
  store_le(h.data() + format::kFileFlagsOffset, flags);
  store_le(h.data() + format::kFileNameLenOffset, static_cast<uint16_t>(stream_name.size()));
  std::memcpy(h.data() + format::kFileNameOffset, stream_name.data(), stream_name.size());
  const size_t sum_at = h.size() - 8;
  store_le(h.data() + sum_at, format::checksum(std::span(h).first(sum_at)));
  return h;
}

}  // namespace

struct ChunkWriter::Impl {
  std::filesystem::path path;
  WriterOptions options;
  UniqueFd fd;
  CCtxPtr cctx;
  std::vector<std::byte> raw;  // the pending chunk's records, framed
  std::vector<std::byte> out;  // chunk header + compressed frame, reused
  uint32_t pending_records = 0;
  uint64_t next_index = 0;  // index of the next record appended
  uint64_t offset = 0;      // file size = where the next chunk goes
  bool failed = false;      // a write failed: the file ends before our state

  ~Impl() {
    // Best effort: a destructor has no one to report to, and throwing from
    // it would terminate. close() is where errors are reported.
    if (!fd.valid()) return;
    try {
      flush();
    } catch (...) {
    }
  }

  void check_usable() const {
    if (failed) throw TraceError(fmt::format("trace writer for {} failed earlier", path.string()));
    if (!fd.valid()) throw TraceError(fmt::format("trace writer for {} is closed", path.string()));
  }

  void append(uint16_t type, std::span<const std::byte> payload) {
    check_usable();
    if (payload.size() > format::kMaxRecordPayload) {
      throw TraceError(fmt::format("record of {} bytes is too large for {} (the limit is {})",
                                   payload.size(), path.string(), format::kMaxRecordPayload));
    }
    const size_t framed = format::kRecordHeaderSize + payload.size();
    // Flush first rather than after when the record would overflow the
    // chunk, so a big record lands in a chunk of its own and normal chunks
    // stay near chunk_bytes; this also keeps every chunk under the reader's
    // kMaxChunkRawBytes.
    if (pending_records > 0 && raw.size() + framed > options.chunk_bytes) flush();
    const size_t at = raw.size();
    raw.resize(at + framed);
    store_le(raw.data() + at, type);
    store_le(raw.data() + at + 2, static_cast<uint32_t>(payload.size()));
    if (!payload.empty()) {
      std::memcpy(raw.data() + at + format::kRecordHeaderSize, payload.data(), payload.size());
    }
    ++pending_records;
    ++next_index;
    if (raw.size() >= options.chunk_bytes || pending_records >= options.chunk_records) flush();
  }

  void flush() {
    if (pending_records == 0) return;
    check_usable();
    const size_t bound = ZSTD_compressBound(raw.size());
    out.resize(format::kChunkHeaderSize + bound);
    std::byte* const h = out.data();
    std::byte* const frame = h + format::kChunkHeaderSize;
    const size_t clen = ZSTD_compressCCtx(cctx.get(), frame, bound, raw.data(), raw.size(),
                                          options.compression_level);
    if (ZSTD_isError(clen)) {
      throw TraceError(fmt::format("cannot compress a chunk for {}: {}", path.string(),
                                   ZSTD_getErrorName(clen)));
    }
    store_le(h + format::kChunkMagicOffset, format::kChunkMagic);
    store_le(h + format::kChunkRawLenOffset, static_cast<uint32_t>(raw.size()));
    store_le(h + format::kChunkCompressedLenOffset, static_cast<uint32_t>(clen));
    store_le(h + format::kChunkRecordCountOffset, pending_records);
    store_le(h + format::kChunkFirstIndexOffset, next_index - pending_records);
    store_le(h + format::kChunkPayloadChecksumOffset, format::checksum({frame, clen}));
    store_le(h + format::kChunkHeaderChecksumOffset,
             format::checksum({h, format::kChunkHeaderChecksumOffset}));

    // One write() for header and payload: a killed writer leaves a prefix
    // of this chunk at worst, never a hole before it.
    const size_t total = format::kChunkHeaderSize + clen;
    if (const int err = detail::write_all(fd.get(), h, total); err != 0) {
      // Cut the torn chunk off so the file stays a valid (shorter) trace,
      // and refuse further writes: appending after a lost chunk would break
      // the record numbering.
      failed = true;
      (void)::ftruncate(fd.get(), static_cast<off_t>(offset));
      throw TraceError(fmt::format("cannot write chunk at offset {} of {}: {}", offset,
                                   path.string(), detail::errno_text(err)));
    }
    offset += total;
    raw.clear();
    pending_records = 0;
  }

  void close() {
    if (!fd.valid()) return;
    try {
      flush();
    } catch (...) {
      fd.reset();  // closed either way: a failed writer is of no further use
      throw;
    }
    if (options.fsync_on_close && ::fsync(fd.get()) != 0) {
      const int err = errno;
      fd.reset();
      throw TraceError(fmt::format("cannot sync {}: {}", path.string(), detail::errno_text(err)));
    }
    if (const int err = fd.close(); err != 0) {
      throw TraceError(fmt::format("cannot close {}: {}", path.string(), detail::errno_text(err)));
    }
  }
};

ChunkWriter ChunkWriter::create(const std::filesystem::path& file, std::string_view stream_name,
                                const WriterOptions& options) {
  if (stream_name.empty() || stream_name.size() > format::kMaxStreamNameLen) {
    throw TraceError(fmt::format("invalid stream name for {}: must be 1 to {} bytes", file.string(),
                                 format::kMaxStreamNameLen));
  }
  auto impl = std::make_unique<Impl>();
  impl->path = file;
  impl->options = options;
  impl->options.chunk_bytes = std::clamp<size_t>(options.chunk_bytes, 1, format::kMaxChunkRawBytes);
  impl->options.chunk_records = std::max<uint32_t>(options.chunk_records, 1);
  impl->cctx.reset(ZSTD_createCCtx());
  if (!impl->cctx) throw std::bad_alloc();

  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) {
    const int err = errno;
    throw TraceError(
        fmt::format("cannot create trace file {}: {}", file.string(), detail::errno_text(err)));
  }
  // The umask can only remove bits from 0600, but be explicit: the mode is a
  // privacy property of the trace, not a preference.
  const auto header = encode_file_header(stream_name, options.flags);
  int err = ::fchmod(fd.get(), 0600) == 0 ? 0 : errno;
  if (err == 0) err = detail::write_all(fd.get(), header.data(), header.size());
  if (err != 0) {
    fd.reset();
    ::unlink(file.c_str());  // we created it (O_EXCL), so it is ours to remove
    throw TraceError(
        fmt::format("cannot write trace header of {}: {}", file.string(), detail::errno_text(err)));
  }
  impl->fd = std::move(fd);
  impl->offset = header.size();
  // Sized once so the first chunks do not regrow the buffer record by record.
  impl->raw.reserve(std::min<size_t>(impl->options.chunk_bytes, size_t{1} << 20) +
                    format::kRecordHeaderSize);
  return ChunkWriter(std::move(impl));
}

ChunkWriter::ChunkWriter(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
ChunkWriter::ChunkWriter(ChunkWriter&&) noexcept = default;
ChunkWriter& ChunkWriter::operator=(ChunkWriter&&) noexcept = default;
ChunkWriter::~ChunkWriter() = default;

void ChunkWriter::append(uint16_t type, std::span<const std::byte> payload) {
  impl_->append(type, payload);
}
void ChunkWriter::flush() { impl_->flush(); }
void ChunkWriter::close() { impl_->close(); }
uint64_t ChunkWriter::records_written() const noexcept { return impl_->next_index; }
uint64_t ChunkWriter::file_size() const noexcept { return impl_->offset; }
const std::filesystem::path& ChunkWriter::path() const noexcept { return impl_->path; }

}  // namespace backstep::trace
