#include "share/bundle.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <memory>
#include <set>
#include <utility>

#include "base/errors.h"
#include "base/scratch_dir.h"
#include "base/unique_fd.h"
#include "trace/chunk_reader.h"
#include "trace/chunk_writer.h"
#include "trace/io.h"
#include "trace/record.h"
#include "trace/trace_dir.h"
#include "trace/trace_reader.h"
#include "trace/trace_writer.h"

namespace backstep::share {
namespace {

namespace fs = std::filesystem;

// File header: magic, version u32, flags u32 (0), XXH3-64 of bytes 0..15.
constexpr size_t kHeaderSize = 24;
// Entry kinds.
constexpr uint8_t kEnd = 0;
constexpr uint8_t kDirectory = 1;
constexpr uint8_t kFile = 2;
constexpr size_t kPiece = 1 << 16;

struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};
struct XxhFree {
  void operator()(XXH3_state_t* s) const { XXH3_freeState(s); }
};

// XXH3-64 of one entry, fed as it streams by.
class EntryChecksum {
 public:
  EntryChecksum() : state_(XXH3_createState()) {
    if (!state_) throw Error("out of memory");
    XXH3_64bits_reset(state_.get());
  }
  void add(const void* data, size_t n) { XXH3_64bits_update(state_.get(), data, n); }
  uint64_t value() const { return XXH3_64bits_digest(state_.get()); }

 private:
  std::unique_ptr<XXH3_state_t, XxhFree> state_;
};

// The bundle being written: the header, then one zstd frame.
class BundleSink {
 public:
  explicit BundleSink(const fs::path& file)
      : file_(file),
        fd_(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)),
        cctx_(ZSTD_createCCtx()),
        out_(ZSTD_CStreamOutSize()) {
    if (!fd_) throw_errno(fmt::format("cannot create {}", file.string()));
    ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_checksumFlag, 1);
    std::array<std::byte, kHeaderSize> header{};
    std::memcpy(header.data(), kBundleMagic, sizeof kBundleMagic);
    std::memcpy(header.data() + 8, &kBundleVersion, 4);  // flags (12..15) stay 0
    uint64_t sum = XXH3_64bits(header.data(), kHeaderSize - 8);
    std::memcpy(header.data() + 16, &sum, 8);
    put_raw(header);
  }

  void write(const void* data, size_t n) { compress(data, n, ZSTD_e_continue); }
  void finish() { compress(nullptr, 0, ZSTD_e_end); }
  uint64_t size() const { return written_; }

 private:
  void compress(const void* data, size_t n, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{data, n, 0};
    for (;;) {
      ZSTD_outBuffer out{out_.data(), out_.size(), 0};
      size_t left = ZSTD_compressStream2(cctx_.get(), &out, &in, mode);
      if (ZSTD_isError(left)) {
        throw Error(fmt::format("cannot compress {}: {}", file_.string(), ZSTD_getErrorName(left)));
      }
      put_raw(std::as_bytes(std::span(out_.data(), out.pos)));
      bool done = mode == ZSTD_e_end ? left == 0 : in.pos == in.size;
      if (done) return;
    }
  }
  void put_raw(std::span<const std::byte> bytes) {
    if (int err = trace::detail::write_all(fd_.get(), bytes.data(), bytes.size()); err != 0) {
      throw SystemError(fmt::format("cannot write {}", file_.string()), err);
    }
    written_ += bytes.size();
  }

  fs::path file_;
  UniqueFd fd_;
  std::unique_ptr<ZSTD_CCtx, CCtxFree> cctx_;
  std::vector<char> out_;
  uint64_t written_ = 0;
};

// The bundle being read: checks the header, then decompresses on demand.
class BundleSource {
 public:
  explicit BundleSource(const fs::path& file)
      : file_(file),
        fd_(::open(file.c_str(), O_RDONLY | O_CLOEXEC)),
        dctx_(ZSTD_createDCtx()),
        in_buf_(ZSTD_DStreamInSize()) {
    if (!fd_) throw_errno(fmt::format("cannot open bundle {}", file.string()));
    std::array<std::byte, kHeaderSize> h{};
    ssize_t n = trace::detail::pread_full(fd_.get(), h.data(), h.size(), 0);
    if (n < 0)
      throw SystemError(fmt::format("cannot read {}", file.string()), static_cast<int>(-n));
    if (static_cast<size_t>(n) < sizeof kBundleMagic ||
        std::memcmp(h.data(), kBundleMagic, sizeof kBundleMagic) != 0) {
      throw Error(fmt::format("not a backstep bundle: {}", file.string()));
    }
    // The version first: a later version may lay out everything after it
    // differently, checksum included.
    uint32_t version = 0;
    if (n >= 12) std::memcpy(&version, h.data() + 8, 4);
    if (version != kBundleVersion) {
      throw Error(fmt::format(
          "bundle format version {} is not supported (this backstep reads version {}): {}", version,
          kBundleVersion, file.string()));
    }
    if (static_cast<size_t>(n) < kHeaderSize) throw truncated("inside its header");
    uint64_t sum = 0;  // flags (8..15) define nothing yet
    std::memcpy(&sum, h.data() + 16, 8);
    if (sum != XXH3_64bits(h.data(), kHeaderSize - 8)) {
      throw Error(fmt::format("corrupt bundle header in {}: checksum mismatch", file.string()));
    }
    offset_ = kHeaderSize;
  }

  // Exactly `n` decompressed bytes, else the bundle is cut short.
  void read(void* dst, size_t n, const char* where) {
    if (read_some(dst, n) != n) throw truncated(where);
  }

  // The frame must end right after the end marker, and the file with it.
  void expect_end() {
    char c;
    if (read_some(&c, 1) != 0) throw corrupt("data after the end marker");
    if (!frame_done_) throw truncated("before the end of its compressed data");
    if (in_.pos != in_.size || fill() != 0) throw corrupt("data after the end marker");
  }

  Error truncated(const std::string& where) const {
    return Error(fmt::format("bundle {} is truncated: it ends {}", file_.string(), where));
  }
  Error corrupt(const std::string& what) const {
    return Error(fmt::format("corrupt bundle {}: {}", file_.string(), what));
  }

 private:
  size_t read_some(void* dst, size_t n) {
    ZSTD_outBuffer out{dst, n, 0};
    while (out.pos < out.size && !frame_done_) {
      if (in_.pos == in_.size && fill() == 0) {
        // No input left: what the decompressor still holds, if anything.
        size_t before = out.pos;
        step(out);
        if (out.pos == before) break;
        continue;
      }
      step(out);
    }
    return out.pos;
  }
  void step(ZSTD_outBuffer& out) {
    size_t r = ZSTD_decompressStream(dctx_.get(), &out, &in_);
    if (ZSTD_isError(r)) {
      throw corrupt(fmt::format("decompression failed ({})", ZSTD_getErrorName(r)));
    }
    frame_done_ = r == 0;
  }
  size_t fill() {
    ssize_t n = trace::detail::pread_full(fd_.get(), reinterpret_cast<std::byte*>(in_buf_.data()),
                                          in_buf_.size(), offset_);
    if (n < 0)
      throw SystemError(fmt::format("cannot read {}", file_.string()), static_cast<int>(-n));
    offset_ += static_cast<uint64_t>(n);
    in_ = {in_buf_.data(), static_cast<size_t>(n), 0};
    return static_cast<size_t>(n);
  }

  fs::path file_;
  UniqueFd fd_;
  std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx_;
  std::vector<char> in_buf_;
  ZSTD_inBuffer in_{nullptr, 0, 0};
  uint64_t offset_ = 0;
  bool frame_done_ = false;
};

// Entries: kind u8, path length u32, path, mode u32, size u64, the bytes,
// then XXH3-64 of everything from kind to the last byte.
class EntryWriter {
 public:
  explicit EntryWriter(BundleSink& sink) : sink_(sink) {}

  void directory(const std::string& path) { entry(kDirectory, path, 0700, 0, nullptr); }

  void file(const std::string& path, const fs::path& source) {
    UniqueFd fd(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0)
      throw_errno(fmt::format("cannot read {}", source.string()));
    entry(kFile, path, st.st_mode & 0777, static_cast<uint64_t>(st.st_size), &fd);
    raw_bytes_ += static_cast<uint64_t>(st.st_size);
  }

  void end() { entry(kEnd, "", 0, count_, nullptr); }
  uint64_t count() const { return count_; }
  uint64_t raw_bytes() const { return raw_bytes_; }

 private:
  void entry(uint8_t kind, const std::string& path, uint32_t mode, uint64_t size, UniqueFd* data) {
    trace::RecordBuilder head;
    head.u8(kind).str(path).u32(mode).u64(size);
    EntryChecksum sum;
    sum.add(head.view().data(), head.view().size());
    sink_.write(head.view().data(), head.view().size());
    std::vector<char> piece(kPiece);
    uint64_t left = data ? size : 0;  // the end marker's size is the entry count
    while (left > 0) {
      ssize_t n = ::read(data->get(), piece.data(), std::min<uint64_t>(left, piece.size()));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw Error(fmt::format("{} changed while it was packed", path));
      sum.add(piece.data(), static_cast<size_t>(n));
      sink_.write(piece.data(), static_cast<size_t>(n));
      left -= static_cast<uint64_t>(n);
    }
    uint64_t checksum = sum.value();
    sink_.write(&checksum, sizeof checksum);
    if (kind != kEnd) ++count_;
  }

  BundleSink& sink_;
  uint64_t count_ = 0;
  uint64_t raw_bytes_ = 0;
};

// A bundle's path must stay inside the trace directory.
bool safe_relative(const std::string& path) {
  if (path.empty() || path.front() == '/') return false;
  for (const auto& part : fs::path(path)) {
    if (part.empty() || part == "." || part == "..") return false;
  }
  return true;
}

// Removes what a failed pack or unpack wrote, unless dismissed.
class Rollback {
 public:
  explicit Rollback(std::function<void()> undo) : undo_(std::move(undo)) {}
  ~Rollback() {
    if (undo_) undo_();
  }
  Rollback(const Rollback&) = delete;
  Rollback& operator=(const Rollback&) = delete;
  void dismiss() { undo_ = nullptr; }

 private:
  std::function<void()> undo_;
};

bool keeps_value(std::string_view name) {
  return name.starts_with("LD_") || name == "GLIBC_TUNABLES" || name.starts_with("MALLOC_");
}

}  // namespace

std::vector<std::string> redact_environment(const std::vector<std::string>& envp) {
  std::vector<std::string> out;
  out.reserve(envp.size());
  for (const std::string& entry : envp) {
    size_t eq = entry.find('=');
    if (eq == std::string::npos || keeps_value(std::string_view(entry).substr(0, eq))) {
      out.push_back(entry);
      continue;
    }
    out.push_back(entry.substr(0, eq + 1) + std::string(entry.size() - eq - 1, 'x'));
  }
  return out;
}

void rewrite_header(const fs::path& from, const fs::path& to, const trace::Header& header) {
  trace::ChunkReader reader = trace::ChunkReader::open(from);
  trace::WriterOptions options;
  options.flags = reader.flags();
  trace::ChunkWriter writer = trace::ChunkWriter::create(to, trace::kEventsFile, options);
  trace::RecordBuilder encoded;
  trace::encode(header, encoded);
  trace::Record record;
  bool first = true;
  while (reader.next(record)) {
    if (first) {
      writer.append(static_cast<uint16_t>(trace::RecordType::kHeader), encoded.view());
      first = false;
      continue;
    }
    writer.append(record.type, record.payload);
  }
  writer.close();
}

PackResult pack(const fs::path& trace_dir, const fs::path& bundle, const PackOptions& options) {
  trace::Trace trace = trace::Trace::load(trace_dir);
  std::set<std::string> copies;
  for (const auto& e : trace.events()) {
    const auto* f = std::get_if<trace::FileMap>(&e);
    if (!f) continue;
    if (!fs::is_regular_file(trace.file_copy(f->content))) {
      throw Error(fmt::format("{}: the trace lacks its copy of {} ({}/{})", trace_dir.string(),
                              f->path, trace::kFilesDir, f->content));
    }
    copies.insert(f->content);
  }

  PackResult result;
  ScratchDir scratch("backstep-pack");
  fs::path events = trace_dir / trace::kEventsFile;
  trace::Header header = trace.header();
  if (!options.keep_env) {
    header.envp = redact_environment(header.envp);
    header.env_redacted = true;
    events = scratch.path() / trace::kEventsFile;
    rewrite_header(trace_dir / trace::kEventsFile, events, header);
  }
  result.env_redacted = header.env_redacted;

  fs::path partial = bundle;
  partial += fmt::format(".partial.{}", ::getpid());
  Rollback remove_partial([&] {
    std::error_code ec;
    fs::remove(partial, ec);
  });
  BundleSink sink(partial);
  EntryWriter entries(sink);
  // Every top-level stream of the trace (only `events` today), then the
  // copies the recording refers to (stale or temporary files are left out).
  std::vector<std::string> top;
  for (const auto& d : fs::directory_iterator(trace_dir)) {
    if (d.is_regular_file() && !d.is_symlink()) top.push_back(d.path().filename().string());
  }
  std::sort(top.begin(), top.end());
  for (const auto& name : top) {
    entries.file(name, name == trace::kEventsFile ? events : trace_dir / name);
  }
  entries.directory(trace::kFilesDir);
  for (const auto& name : copies) {
    entries.file(std::string(trace::kFilesDir) + "/" + name, trace.file_copy(name));
  }
  entries.end();
  sink.finish();
  fs::rename(partial, bundle);
  remove_partial.dismiss();
  result.files = entries.count();
  result.raw_bytes = entries.raw_bytes();
  result.bundle_bytes = sink.size();
  return result;
}

fs::path unpack(const fs::path& bundle, const fs::path& dir) {
  BundleSource source(bundle);
  bool existed = fs::exists(dir);
  fs::path out = trace::TraceDir::create_new(dir).path();
  Rollback remove_written([&] {
    std::error_code ec;
    if (existed) {
      for (const auto& d : fs::directory_iterator(out, ec)) fs::remove_all(d.path(), ec);
    } else {
      fs::remove_all(out, ec);
    }
  });
  uint64_t count = 0;
  std::vector<char> piece(kPiece);
  for (;;) {
    std::string where = fmt::format("inside entry {}", count);
    trace::RecordBuilder head;
    uint8_t kind = 0;
    uint32_t path_len = 0;
    source.read(&kind, 1, where.c_str());
    source.read(&path_len, 4, where.c_str());
    if (path_len > 4096)
      throw source.corrupt(fmt::format("bad entry {} (path length {})", count, path_len));
    std::string path(path_len, '\0');
    source.read(path.data(), path.size(), where.c_str());
    uint32_t mode = 0;
    uint64_t size = 0;
    source.read(&mode, 4, where.c_str());
    source.read(&size, 8, where.c_str());
    head.u8(kind).str(path).u32(mode).u64(size);
    EntryChecksum sum;
    sum.add(head.view().data(), head.view().size());
    if (kind == kEnd) {
      uint64_t stored = 0;
      source.read(&stored, 8, where.c_str());
      if (stored != sum.value()) throw source.corrupt("checksum mismatch in the end marker");
      if (size != count) {
        throw source.corrupt(
            fmt::format("the end marker counts {} entries, found {}", size, count));
      }
      source.expect_end();
      break;
    }
    if ((kind != kDirectory && kind != kFile) || !safe_relative(path)) {
      throw source.corrupt(fmt::format("bad entry {} (kind {}, path \"{}\")", count, kind, path));
    }
    fs::path target = out / path;
    if (kind == kDirectory) {
      fs::create_directory(target);
      fs::permissions(target, static_cast<fs::perms>(mode & 0700));
    } else {
      UniqueFd fd(::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0700));
      if (!fd) throw_errno(fmt::format("cannot create {}", target.string()));
      for (uint64_t left = size; left > 0;) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(left, piece.size()));
        source.read(piece.data(), n, fmt::format("inside {}", path).c_str());
        sum.add(piece.data(), n);
        if (int err =
                trace::detail::write_all(fd.get(), reinterpret_cast<std::byte*>(piece.data()), n);
            err != 0) {
          throw SystemError(fmt::format("cannot write {}", target.string()), err);
        }
        left -= n;
      }
    }
    uint64_t stored = 0;
    source.read(&stored, 8, where.c_str());
    if (stored != sum.value()) throw source.corrupt(fmt::format("checksum mismatch in {}", path));
    ++count;
  }
  try {
    trace::Trace::load(out);
  } catch (const std::exception& e) {
    throw Error(fmt::format("bundle {} holds no usable trace: {}", bundle.string(), e.what()));
  }
  remove_written.dismiss();
  return out;
}

}  // namespace backstep::share
