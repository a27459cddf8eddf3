// ChunkWriter / ChunkReader: round trips, damage detection and torn tails.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.h"
#include "trace/byte_order.h"
#include "trace/chunk_reader.h"
#include "trace/chunk_writer.h"
#include "trace/error.h"
#include "trace/format.h"

namespace backstep::trace {
namespace {

using ::testing::HasSubstr;
using testing_support::TempDir;

struct OwnedRecord {
  uint16_t type;
  uint64_t index;
  std::vector<std::byte> payload;
};

std::vector<std::byte> make_payload(uint64_t seed, size_t size) {
  std::vector<std::byte> p(size);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& b : p) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    // Mostly-small values, so zstd has something to do but it is not free.
    b = std::byte(static_cast<uint8_t>(x % 16));
  }
  return p;
}

std::vector<std::byte> read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  if (!chars.empty()) std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

void write_bytes(const std::filesystem::path& p, std::span<const std::byte> bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

struct ChunkInfo {
  uint64_t offset;
  uint32_t compressed_len;
  uint32_t record_count;
};

// Walks the chunk headers independently of ChunkReader (from the layout in
// format.h), to find the offsets the damage tests aim at.
std::vector<ChunkInfo> chunks_of(const std::vector<std::byte>& file) {
  const auto name_len = load_le<uint16_t>(file.data() + format::kFileNameLenOffset);
  std::vector<ChunkInfo> chunks;
  for (uint64_t off = format::file_header_size(name_len); off < file.size();) {
    ChunkInfo c{off, load_le<uint32_t>(file.data() + off + format::kChunkCompressedLenOffset),
                load_le<uint32_t>(file.data() + off + format::kChunkRecordCountOffset)};
    chunks.push_back(c);
    off += format::kChunkHeaderSize + c.compressed_len;
  }
  return chunks;
}

std::vector<OwnedRecord> read_all(ChunkReader& reader) {
  std::vector<OwnedRecord> out;
  Record r;
  while (reader.next(r)) out.push_back({r.type, r.index, {r.payload.begin(), r.payload.end()}});
  return out;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const TraceError& e) {
    return e.what();
  }
  return "<no TraceError>";
}

class ChunkIoTest : public ::testing::Test {
 protected:
  // Writes `n` records of sizes cycling through an assorted list and returns
  // what was written.
  std::vector<OwnedRecord> write_stream(const std::filesystem::path& file, size_t n,
                                        const WriterOptions& opts = {}) {
    static constexpr size_t kSizes[] = {0, 1, 2, 7, 64, 300, 4096, 20000, 0, 33};
    std::vector<OwnedRecord> written;
    auto w = ChunkWriter::create(file, "events", opts);
    for (size_t i = 0; i < n; ++i) {
      written.push_back({static_cast<uint16_t>(i % 7), i, make_payload(i, kSizes[i % 10])});
      w.append(written.back().type, written.back().payload);
    }
    w.close();
    return written;
  }

  TempDir tmp_;
  std::filesystem::path file_ = tmp_ / "events";
};

TEST_F(ChunkIoTest, RoundTripAssortedSizesAcrossChunks) {
  WriterOptions opts;
  opts.flags = 0xA5A5'0001;
  std::vector<OwnedRecord> written;
  {
    auto w = ChunkWriter::create(file_, "events", opts);
    for (uint64_t i = 0; i < 3000; ++i) {
      size_t size = (i * 37) % 3000;
      if (i % 100 == 0) size = 0;
      if (i == 1500) size = 300 * 1024;  // > chunk_bytes: a chunk of its own
      if (i == 2999) size = 1100 * 1024;
      written.push_back({static_cast<uint16_t>(i * 31), i, make_payload(i, size)});
      w.append(written.back().type, written.back().payload);
      EXPECT_EQ(w.records_written(), i + 1);
    }
    w.close();
    EXPECT_EQ(w.file_size(), std::filesystem::file_size(file_));
  }

  const auto chunks = chunks_of(read_bytes(file_));
  EXPECT_GE(chunks.size(), 5u);

  auto r = ChunkReader::open(file_);
  EXPECT_EQ(r.stream_name(), "events");
  EXPECT_EQ(r.flags(), 0xA5A5'0001u);
  const auto got = read_all(r);
  ASSERT_EQ(got.size(), written.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].type, written[i].type) << i;
    EXPECT_EQ(got[i].index, i);
    EXPECT_EQ(got[i].payload, written[i].payload) << i;
  }
  EXPECT_EQ(r.records_read(), written.size());
  EXPECT_FALSE(r.truncated());
  Record rec;
  EXPECT_FALSE(r.next(rec));  // stays at the end
}

TEST_F(ChunkIoTest, BigRecordGetsAChunkOfItsOwn) {
  auto w = ChunkWriter::create(file_, "data");
  w.append(1, make_payload(1, 10));
  w.append(2, make_payload(2, 512 * 1024));
  w.append(3, make_payload(3, 10));
  w.close();
  const auto chunks = chunks_of(read_bytes(file_));
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].record_count, 1u);
  EXPECT_EQ(chunks[1].record_count, 1u);
  EXPECT_EQ(chunks[2].record_count, 1u);
  auto r = ChunkReader::open(file_);
  const auto got = read_all(r);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1].payload, make_payload(2, 512 * 1024));
}

TEST_F(ChunkIoTest, RecordCountLimitSealsChunks) {
  WriterOptions opts;
  opts.chunk_records = 10;
  auto w = ChunkWriter::create(file_, "events", opts);
  for (int i = 0; i < 95; ++i) w.append(0, {});
  w.close();
  const auto chunks = chunks_of(read_bytes(file_));
  ASSERT_EQ(chunks.size(), 10u);
  EXPECT_EQ(chunks.back().record_count, 5u);
  auto r = ChunkReader::open(file_);
  EXPECT_EQ(read_all(r).size(), 95u);
}

TEST_F(ChunkIoTest, EmptyStream) {
  ChunkWriter::create(file_, "events").close();
  auto r = ChunkReader::open(file_);
  Record rec;
  EXPECT_FALSE(r.next(rec));
  EXPECT_FALSE(r.truncated());
  EXPECT_EQ(r.records_read(), 0u);
}

TEST_F(ChunkIoTest, ExplicitFlushMakesChunksAndEmptyFlushDoesNot) {
  auto w = ChunkWriter::create(file_, "events");
  w.flush();
  w.append(1, make_payload(1, 5));
  w.flush();
  w.flush();
  w.append(2, make_payload(2, 5));
  w.close();
  w.close();  // idempotent
  EXPECT_EQ(chunks_of(read_bytes(file_)).size(), 2u);
}

TEST_F(ChunkIoTest, FileIsPrivateAndNeverOverwritten) {
  ChunkWriter::create(file_, "events").close();
  struct stat st {};
  ASSERT_EQ(::stat(file_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_THAT(error_of([&] { ChunkWriter::create(file_, "events"); }),
              HasSubstr("cannot create trace file " + file_.string() + ": File exists"));
}

TEST_F(ChunkIoTest, InvalidUseIsAnError) {
  EXPECT_THAT(error_of([&] { ChunkWriter::create(file_, ""); }), HasSubstr("invalid stream name"));
  auto w = ChunkWriter::create(file_, "events");
  w.close();
  EXPECT_THAT(error_of([&] { w.append(1, {}); }), HasSubstr("is closed"));
}

TEST_F(ChunkIoTest, WriterDestroyedWithoutCloseLeavesReadableFile) {
  {
    auto w = ChunkWriter::create(file_, "events");
    for (int i = 0; i < 100; ++i) w.append(7, make_payload(i, 100));
    // No close(): the destructor flushes.
  }
  auto r = ChunkReader::open(file_);
  const auto got = read_all(r);
  ASSERT_EQ(got.size(), 100u);
  EXPECT_EQ(got[99].payload, make_payload(99, 100));
  EXPECT_FALSE(r.truncated());
}

TEST_F(ChunkIoTest, MovedWriterAndReaderKeepWorking) {
  auto w1 = ChunkWriter::create(file_, "events");
  w1.append(1, make_payload(1, 3));
  ChunkWriter w2 = std::move(w1);
  w2.append(2, make_payload(2, 3));
  w2 = ChunkWriter::create(tmp_ / "other", "other");  // flushes and closes the first file
  w2.close();
  auto r1 = ChunkReader::open(file_);
  ChunkReader r2 = std::move(r1);
  EXPECT_EQ(read_all(r2).size(), 2u);
}

TEST_F(ChunkIoTest, FlippedPayloadByteIsAChecksumErrorNamingTheOffset) {
  WriterOptions opts;
  opts.chunk_records = 50;
  write_stream(file_, 200, opts);
  auto bytes = read_bytes(file_);
  const auto chunks = chunks_of(bytes);
  ASSERT_EQ(chunks.size(), 4u);
  bytes[chunks[1].offset + format::kChunkHeaderSize + chunks[1].compressed_len / 2] ^=
      std::byte{0x10};
  write_bytes(file_, bytes);

  auto r = ChunkReader::open(file_);
  Record rec;
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(r.next(rec));  // the first chunk is fine
  const std::string expected = "corrupt chunk at offset " + std::to_string(chunks[1].offset) +
                               " in " + file_.string() + ": checksum mismatch";
  EXPECT_EQ(error_of([&] { r.next(rec); }), expected);
  EXPECT_EQ(error_of([&] { r.next(rec); }), expected);  // and it stays failed
  EXPECT_EQ(r.records_read(), 50u);
}

TEST_F(ChunkIoTest, FlippedChunkHeaderByteIsAnError) {
  WriterOptions opts;
  opts.chunk_records = 50;
  write_stream(file_, 200, opts);
  auto bytes = read_bytes(file_);
  const auto chunks = chunks_of(bytes);
  bytes[chunks[2].offset + format::kChunkRecordCountOffset] ^= std::byte{0x01};
  write_bytes(file_, bytes);
  auto r = ChunkReader::open(file_);
  EXPECT_EQ(error_of([&] { read_all(r); }), "corrupt chunk at offset " +
                                                std::to_string(chunks[2].offset) + " in " +
                                                file_.string() + ": header checksum mismatch");
}

TEST_F(ChunkIoTest, MissingChunkInTheMiddleIsAnError) {
  WriterOptions opts;
  opts.chunk_records = 50;
  write_stream(file_, 150, opts);
  auto bytes = read_bytes(file_);
  const auto chunks = chunks_of(bytes);
  // Cut the middle chunk out: every remaining chunk is intact, but the
  // record numbering shows the hole.
  bytes.erase(bytes.begin() + static_cast<ptrdiff_t>(chunks[1].offset),
              bytes.begin() + static_cast<ptrdiff_t>(chunks[2].offset));
  write_bytes(file_, bytes);
  auto r = ChunkReader::open(file_);
  EXPECT_THAT(error_of([&] { read_all(r); }),
              HasSubstr("corrupt chunk at offset " + std::to_string(chunks[1].offset) + " in " +
                        file_.string() +
                        ": records out of sequence: chunk starts at record 100, expected 50"));
}

TEST_F(ChunkIoTest, FlippedFileHeaderByteIsAClearError) {
  write_stream(file_, 10);
  const auto good = read_bytes(file_);
  // Every byte after the version field is covered by the header checksum
  // (or is the checksum).
  const size_t header_size = format::file_header_size(6);
  for (size_t at = format::kFileFlagsOffset; at < header_size; ++at) {
    auto bytes = good;
    bytes[at] ^= std::byte{0x04};
    write_bytes(file_, bytes);
    const std::string err = error_of([&] { ChunkReader::open(file_); });
    EXPECT_THAT(err, HasSubstr("corrupt trace header at offset ")) << at;
    EXPECT_THAT(err, HasSubstr(file_.string())) << at;
  }
  auto bytes = good;
  bytes[format::kFileNameOffset + 1] ^= std::byte{0x04};
  write_bytes(file_, bytes);
  EXPECT_EQ(error_of([&] { ChunkReader::open(file_); }),
            "corrupt trace header at offset 0 in " + file_.string() + ": checksum mismatch");
  bytes = good;
  bytes[2] ^= std::byte{0x04};  // in the magic
  write_bytes(file_, bytes);
  EXPECT_EQ(error_of([&] { ChunkReader::open(file_); }), "not a backstep trace: " + file_.string());
}

TEST_F(ChunkIoTest, WrongVersionIsRejectedByNumber) {
  write_stream(file_, 10);
  auto bytes = read_bytes(file_);
  store_le<uint32_t>(bytes.data() + format::kFileVersionOffset, 2);
  write_bytes(file_, bytes);
  EXPECT_EQ(
      error_of([&] { ChunkReader::open(file_); }),
      "trace format version 2 is not supported (this backstep reads version 1): " + file_.string());
}

TEST_F(ChunkIoTest, NotATrace) {
  const std::string text = "#!/bin/sh\necho hello, this is not a trace\n";
  write_bytes(file_, std::as_bytes(std::span(text)));
  EXPECT_EQ(error_of([&] { ChunkReader::open(file_); }), "not a backstep trace: " + file_.string());
  write_bytes(file_, {});
  EXPECT_EQ(error_of([&] { ChunkReader::open(file_); }), "not a backstep trace: " + file_.string());
  EXPECT_THAT(error_of([&] { ChunkReader::open(tmp_.path()); }), HasSubstr("not a regular file"));
}

TEST_F(ChunkIoTest, MissingFile) {
  EXPECT_EQ(error_of([&] { ChunkReader::open(tmp_ / "nope"); }),
            "cannot open trace file " + (tmp_ / "nope").string() + ": No such file or directory");
}

TEST_F(ChunkIoTest, FileCutInsideItsHeaderIsAnError) {
  write_stream(file_, 10);
  const auto bytes = read_bytes(file_);
  write_bytes(file_, std::span(bytes).first(format::kFileNameOffset + 2));
  EXPECT_THAT(error_of([&] { ChunkReader::open(file_); }),
              HasSubstr("file ends inside the header"));
}

// Cuts the file at several points in and around its last chunk.
TEST_F(ChunkIoTest, TruncatedFinalChunkStopsAtTheLastCompleteChunk) {
  WriterOptions opts;
  opts.chunk_records = 40;
  const auto written = write_stream(file_, 160, opts);  // 4 chunks of 40
  const auto full = read_bytes(file_);
  const auto chunks = chunks_of(full);
  ASSERT_EQ(chunks.size(), 4u);
  const uint64_t last = chunks.back().offset;
  const uint64_t payload = last + format::kChunkHeaderSize;

  struct Cut {
    const char* what;
    uint64_t size;
  };
  const Cut cuts[] = {
      {"one byte into the header", last + 1},
      {"after the magic", last + 4},
      {"mid header", last + 20},
      {"one byte short of the header", payload - 1},
      {"header only", payload},
      {"mid payload", payload + chunks.back().compressed_len / 2},
      {"one byte short", full.size() - 1},
  };
  for (const auto& cut : cuts) {
    SCOPED_TRACE(cut.what);
    write_bytes(file_, std::span(full).first(cut.size));
    auto r = ChunkReader::open(file_);
    const auto got = read_all(r);
    EXPECT_EQ(got.size(), 120u);
    EXPECT_TRUE(r.truncated());
    EXPECT_EQ(r.truncated_at(), 120u);
    EXPECT_EQ(r.truncated_offset(), last);
    EXPECT_EQ(r.records_read(), 120u);
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got.back().payload, written[119].payload);
  }

  // Ending exactly at a chunk boundary is a complete (shorter) stream.
  write_bytes(file_, std::span(full).first(last));
  auto r = ChunkReader::open(file_);
  EXPECT_EQ(read_all(r).size(), 120u);
  EXPECT_FALSE(r.truncated());
  EXPECT_EQ(r.truncated_at(), 0u);

  // A torn first chunk: nothing to read, but still not an error.
  write_bytes(file_, std::span(full).first(chunks[0].offset + 10));
  auto r0 = ChunkReader::open(file_);
  EXPECT_TRUE(read_all(r0).empty());
  EXPECT_TRUE(r0.truncated());
  EXPECT_EQ(r0.truncated_at(), 0u);
}

TEST_F(ChunkIoTest, ZeroFilledTailIsATruncation) {
  WriterOptions opts;
  opts.chunk_records = 40;
  write_stream(file_, 80, opts);
  auto bytes = read_bytes(file_);
  const uint64_t end = bytes.size();
  for (size_t zeros : {size_t{3}, size_t{40}, size_t{100000}}) {
    SCOPED_TRACE(zeros);
    auto padded = bytes;
    padded.resize(end + zeros);
    write_bytes(file_, padded);
    auto r = ChunkReader::open(file_);
    EXPECT_EQ(read_all(r).size(), 80u);
    EXPECT_TRUE(r.truncated());
    EXPECT_EQ(r.truncated_offset(), end);
  }
}

TEST_F(ChunkIoTest, GarbageTailIsAnError) {
  write_stream(file_, 10);
  auto bytes = read_bytes(file_);
  const uint64_t end = bytes.size();
  for (size_t n : {size_t{5}, size_t{64}}) {
    auto padded = bytes;
    padded.resize(end + n, std::byte{'x'});
    write_bytes(file_, padded);
    auto r = ChunkReader::open(file_);
    EXPECT_EQ(error_of([&] { read_all(r); }), "corrupt chunk at offset " + std::to_string(end) +
                                                  " in " + file_.string() + ": bad chunk magic");
  }
}

// A recorder killed with SIGKILL while writing: whatever it left is readable
// up to its last complete chunk, and never reported as corruption.
TEST_F(ChunkIoTest, KilledWriterLeavesAReadableFile) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Never return into the test framework from the child.
    try {
      WriterOptions opts;
      opts.chunk_bytes = 4096;
      auto w = ChunkWriter::create(file_, "events", opts);
      for (uint64_t i = 0;; ++i) w.append(1, make_payload(i, 1 + i % 5000));
    } catch (...) {
    }
    ::_exit(1);
  }
  // Wait until it has written something, then kill it mid-stream.
  for (int i = 0; i < 2000 && (!std::filesystem::exists(file_) ||
                               std::filesystem::file_size(file_) < 2 * 1024 * 1024);
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);

  auto r = ChunkReader::open(file_);
  Record rec;
  uint64_t n = 0;
  while (r.next(rec)) {
    ASSERT_EQ(rec.index, n);
    ASSERT_EQ(rec.payload.size(), 1 + n % 5000);
    ++n;
  }
  EXPECT_GT(n, 0u);
  EXPECT_EQ(r.truncated() ? r.truncated_at() : r.records_read(), n);
}

}  // namespace
}  // namespace backstep::trace
