#include "trace/chunk_reader.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <new>
#include <string_view>
#include <utility>
#include <vector>

#include "trace/byte_order.h"
#include "trace/error.h"
#include "trace/format.h"
#include "trace/io.h"
#include "base/unique_fd.h"

namespace backstep::trace {
namespace {

struct DCtxDeleter {
  void operator()(ZSTD_DCtx* d) const noexcept { ZSTD_freeDCtx(d); }
};
using DCtxPtr = std::unique_ptr<ZSTD_DCtx, DCtxDeleter>;

bool all_zero(std::span<const std::byte> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

}  // namespace

struct ChunkReader::Impl {
  std::filesystem::path path;
  UniqueFd fd;
  DCtxPtr dctx;
  std::string stream_name;
  uint32_t flags = 0;

  uint64_t offset = 0;  // where the next chunk starts
  std::vector<std::byte> compressed;
  std::vector<std::byte> raw;  // the current chunk's records, framing validated
  size_t raw_pos = 0;
  uint32_t left_in_chunk = 0;
  uint64_t next_index = 0;  // = records returned so far

  bool at_end = false;
  bool truncated = false;
  uint64_t truncated_offset = 0;
  std::string error;  // sticky: once damaged, always damaged

  [[noreturn]] void fail_io(uint64_t at, int err) const {
    throw TraceError(
        fmt::format("cannot read {} at offset {}: {}", path.string(), at, detail::errno_text(err)));
  }
  [[noreturn]] void fail_chunk(std::string_view what) const {
    throw TraceError(
        fmt::format("corrupt chunk at offset {} in {}: {}", offset, path.string(), what));
  }
  [[noreturn]] void fail_header(uint64_t at, std::string_view what) const {
    throw TraceError(
        fmt::format("corrupt trace header at offset {} in {}: {}", at, path.string(), what));
  }

  size_t read_at(std::byte* dst, size_t size, uint64_t at) const {
    const ssize_t n = detail::pread_full(fd.get(), dst, size, at);
    if (n < 0) fail_io(at, static_cast<int>(-n));
    return static_cast<size_t>(n);
  }

  void read_file_header() {
    std::array<std::byte, format::kFileHeaderFixedSize> fixed{};
    const size_t n = read_at(fixed.data(), fixed.size(), 0);
    if (n < sizeof format::kFileMagic ||
        std::memcmp(fixed.data(), format::kFileMagic, sizeof format::kFileMagic) != 0) {
      throw TraceError(fmt::format("not a backstep trace: {}", path.string()));
    }
    // The version is checked before anything else a later version may have
    // laid out differently, including the header checksum.
    if (n < format::kFileVersionOffset + 4) fail_header(n, "file ends inside the header");
    const auto version = load_le<uint32_t>(fixed.data() + format::kFileVersionOffset);
    if (version != format::kVersion) {
      throw TraceError(fmt::format(
          "trace format version {} is not supported (this backstep reads version {}): {}", version,
          format::kVersion, path.string()));
    }
    if (n < fixed.size()) fail_header(n, "file ends inside the header");
    flags = load_le<uint32_t>(fixed.data() + format::kFileFlagsOffset);
    const auto name_len = load_le<uint16_t>(fixed.data() + format::kFileNameLenOffset);
    if (name_len > format::kMaxStreamNameLen) {
      fail_header(format::kFileNameLenOffset, fmt::format("stream name length {} exceeds {}",
                                                          name_len, format::kMaxStreamNameLen));
    }

    std::vector<std::byte> header(format::file_header_size(name_len));
    std::copy(fixed.begin(), fixed.end(), header.begin());
    const size_t rest = header.size() - fixed.size();
    const size_t m = read_at(header.data() + fixed.size(), rest, fixed.size());
    if (m < rest) fail_header(fixed.size() + m, "file ends inside the header");
    const size_t sum_at = header.size() - 8;
    if (format::checksum(std::span(header).first(sum_at)) !=
        load_le<uint64_t>(header.data() + sum_at)) {
      fail_header(0, "checksum mismatch");
    }
    if (name_len == 0) fail_header(format::kFileNameLenOffset, "empty stream name");
    stream_name.assign(reinterpret_cast<const char*>(header.data() + format::kFileNameOffset),
                       name_len);
    offset = header.size();
  }

  void mark_truncated() {
    at_end = true;
    truncated = true;
    truncated_offset = offset;
  }

  // True when everything from `from` to the end of the file is zero bytes:
  // what some file systems leave in place of data that was never written
  // back before a crash. Only called on the error path.
  bool zero_to_end(uint64_t from) const {
    std::array<std::byte, 64 * 1024> buf;
    for (;;) {
      const size_t n = read_at(buf.data(), buf.size(), from);
      if (!all_zero(std::span(buf).first(n))) return false;
      if (n < buf.size()) return true;
      from += n;
    }
  }

  // Loads the chunk at `offset` into `raw`, or sets at_end (clean end or a
  // torn tail).
  void load_chunk() {
    std::array<std::byte, format::kChunkHeaderSize> h{};
    const size_t n = read_at(h.data(), h.size(), offset);
    if (n == 0) {
      at_end = true;
      return;
    }
    const auto head = std::span(h).first(n);
    std::array<std::byte, 4> magic;
    store_le(magic.data(), format::kChunkMagic);
    if (n < h.size()) {
      // The file ends inside a chunk header. A torn write keeps a prefix of
      // what was written, so the bytes present must start like a chunk (or
      // be zeros, see zero_to_end); anything else is damage, not a cut.
      const size_t k = std::min(n, magic.size());
      if (std::memcmp(head.data(), magic.data(), k) == 0 || all_zero(head)) {
        mark_truncated();
        return;
      }
      fail_chunk("bad chunk magic");
    }
    if (std::memcmp(h.data(), magic.data(), magic.size()) != 0) {
      if (all_zero(h) && zero_to_end(offset + h.size())) {
        mark_truncated();
        return;
      }
      fail_chunk("bad chunk magic");
    }
    if (format::checksum(std::span(h).first(format::kChunkHeaderChecksumOffset)) !=
        load_le<uint64_t>(h.data() + format::kChunkHeaderChecksumOffset)) {
      fail_chunk("header checksum mismatch");
    }
    const auto raw_len = load_le<uint32_t>(h.data() + format::kChunkRawLenOffset);
    const auto clen = load_le<uint32_t>(h.data() + format::kChunkCompressedLenOffset);
    const auto count = load_le<uint32_t>(h.data() + format::kChunkRecordCountOffset);
    const auto first = load_le<uint64_t>(h.data() + format::kChunkFirstIndexOffset);
    // Bounds before allocation: the header checksum guards against damage,
    // not against a file crafted to make us allocate gigabytes.
    if (raw_len > format::kMaxChunkRawBytes || clen > ZSTD_compressBound(raw_len) ||
        count > raw_len / format::kRecordHeaderSize) {
      fail_chunk(fmt::format("implausible chunk header (raw {} bytes, compressed {}, {} records)",
                             raw_len, clen, count));
    }
    if (first != next_index) {
      fail_chunk(fmt::format("records out of sequence: chunk starts at record {}, expected {}",
                             first, next_index));
    }

    // A torn payload is recognized from the file size before allocating
    // for it; the short read below still catches a file shrinking under us.
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) fail_io(offset, errno);
    if (offset + h.size() + clen > static_cast<uint64_t>(st.st_size)) {
      mark_truncated();  // the file ends inside the payload: a torn write
      return;
    }
    compressed.resize(clen);
    if (read_at(compressed.data(), clen, offset + h.size()) < clen) {
      mark_truncated();  // the file ends inside the payload: a torn write
      return;
    }
    if (format::checksum(compressed) !=
        load_le<uint64_t>(h.data() + format::kChunkPayloadChecksumOffset)) {
      fail_chunk("checksum mismatch");
    }
    raw.resize(raw_len);
    const size_t d =
        ZSTD_decompressDCtx(dctx.get(), raw.data(), raw.size(), compressed.data(), clen);
    if (ZSTD_isError(d)) {
      fail_chunk(fmt::format("decompression failed ({})", ZSTD_getErrorName(d)));
    }
    if (d != raw_len) {
      fail_chunk(fmt::format("decompressed to {} bytes, header says {}", d, raw_len));
    }
    // Validate all the framing now so that a damaged chunk yields no record
    // at all, and next() can walk it without checks.
    size_t pos = 0;
    for (uint32_t i = 0; i < count; ++i) {
      if (raw.size() - pos < format::kRecordHeaderSize ||
          load_le<uint32_t>(raw.data() + pos + 2) > raw.size() - pos - format::kRecordHeaderSize) {
        fail_chunk(fmt::format("record {} overruns the chunk", first + i));
      }
      pos += format::kRecordHeaderSize + load_le<uint32_t>(raw.data() + pos + 2);
    }
    if (pos != raw.size()) {
      fail_chunk(fmt::format("{} bytes after the last record", raw.size() - pos));
    }
    raw_pos = 0;
    left_in_chunk = count;
    offset += h.size() + clen;
  }

  bool next(Record& out) {
    if (!error.empty()) throw TraceError(error);
    while (left_in_chunk == 0) {
      if (at_end) return false;
      try {
        load_chunk();
      } catch (const TraceError& e) {
        error = e.what();
        throw;
      }
    }
    const std::byte* p = raw.data() + raw_pos;
    const auto len = load_le<uint32_t>(p + 2);
    out.type = load_le<uint16_t>(p);
    out.index = next_index++;
    out.payload = {p + format::kRecordHeaderSize, len};
    raw_pos += format::kRecordHeaderSize + len;
    --left_in_chunk;
    return true;
  }
};

ChunkReader ChunkReader::open(const std::filesystem::path& file) {
  auto impl = std::make_unique<Impl>();
  impl->path = file;
  impl->fd.reset(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!impl->fd) {
    const int err = errno;
    throw TraceError(
        fmt::format("cannot open trace file {}: {}", file.string(), detail::errno_text(err)));
  }
  struct stat st {};
  if (::fstat(impl->fd.get(), &st) != 0) impl->fail_io(0, errno);
  if (!S_ISREG(st.st_mode)) {
    throw TraceError(fmt::format("cannot open trace file {}: not a regular file", file.string()));
  }
  impl->read_file_header();
  impl->dctx.reset(ZSTD_createDCtx());
  if (!impl->dctx) throw std::bad_alloc();
  return ChunkReader(std::move(impl));
}

ChunkReader::ChunkReader(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
ChunkReader::ChunkReader(ChunkReader&&) noexcept = default;
ChunkReader& ChunkReader::operator=(ChunkReader&&) noexcept = default;
ChunkReader::~ChunkReader() = default;

bool ChunkReader::next(Record& out) { return impl_->next(out); }
uint64_t ChunkReader::records_read() const noexcept { return impl_->next_index; }
bool ChunkReader::truncated() const noexcept { return impl_->truncated; }
uint64_t ChunkReader::truncated_at() const noexcept {
  return impl_->truncated ? impl_->next_index : 0;
}
uint64_t ChunkReader::truncated_offset() const noexcept { return impl_->truncated_offset; }
const std::string& ChunkReader::stream_name() const noexcept { return impl_->stream_name; }
uint32_t ChunkReader::flags() const noexcept { return impl_->flags; }
const std::filesystem::path& ChunkReader::path() const noexcept { return impl_->path; }

}  // namespace backstep::trace
