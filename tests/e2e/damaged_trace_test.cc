// Damaged traces: replay, info and dump must fail cleanly (one line on
// stderr starting with "backstep:", a non-zero exit status, never a crash),
// or, for a trace cut short, say so.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "e2e_support.h"

namespace e2e {
namespace {

// From docs/trace-format.md.
constexpr size_t kVersionOffset = 8;
constexpr size_t kNameLenOffset = 16;
constexpr size_t kChunkHeaderSize = 40;
constexpr size_t kCompressedLenOffset = 8;  // in the chunk header

uint32_t le32(const std::string& b, size_t at) {
  uint32_t v = 0;
  std::memcpy(&v, b.data() + at, 4);
  return v;
}

struct Layout {
  size_t header_size = 0;
  std::vector<std::pair<size_t, size_t>> chunks;  // offset, total size
};

Layout layout(const std::string& bytes) {
  Layout l;
  uint16_t name_len = 0;
  std::memcpy(&name_len, bytes.data() + kNameLenOffset, 2);
  l.header_size = 18 + name_len + 8;
  size_t at = l.header_size;
  while (at + kChunkHeaderSize <= bytes.size()) {
    size_t size = kChunkHeaderSize + le32(bytes, at + kCompressedLenOffset);
    l.chunks.emplace_back(at, size);
    at += size;
  }
  EXPECT_EQ(at, bytes.size()) << "the events file does not end at a chunk boundary";
  return l;
}

class DamagedTrace : public ::testing::Test {
 protected:
  void SetUp() override {
    // threads_cv with 1500 items: a trace of many chunks (about 20: ~6000
    // syscall stops), whatever the schedule.
    RunResult rec = backstep(
        {"record", "-o", (tmp_ / "good").string(), "--", E2E_THREADS_CV, "1500"}, xdg());
    ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
    good_ = read_file(tmp_ / "good" / "events");
    ASSERT_GT(good_.size(), 100u);
  }

  fs::path xdg() const { return tmp_ / "xdg"; }

  // A copy of the good trace whose events file is `bytes`.
  fs::path damaged(const std::string& name, const std::string& bytes) {
    fs::path dir = tmp_ / name;
    fs::copy(tmp_ / "good", dir, fs::copy_options::recursive);
    fs::permissions(dir / "events", fs::perms::owner_read | fs::perms::owner_write);
    write_file(dir / "events", bytes);
    return dir;
  }

  // Every command fails with one clean line that contains `message`.
  void expect_clean_error(const fs::path& trace, const std::string& message) {
    for (const std::vector<std::string>& cmd :
         std::vector<std::vector<std::string>>{{"replay", "-q"}, {"info"}, {"dump", "--json"}}) {
      std::vector<std::string> args = cmd;
      args.push_back(trace.string());
      RunResult r = backstep(args, xdg());
      std::string what = cmd[0] + " " + trace.filename().string();
      EXPECT_TRUE(r.exited) << what << ": killed by a signal: " << r.describe();
      EXPECT_NE(r.code, 0) << what << ": " << r.describe();
      std::vector<std::string> err = lines(r.err);
      ASSERT_EQ(err.size(), 1u) << what << ": want one line on stderr: " << r.describe();
      EXPECT_EQ(err[0].rfind("backstep: ", 0), 0u) << what << ": " << err[0];
      EXPECT_TRUE(contains(err[0], message)) << what << ": want '" << message << "' in: " << err[0];
      EXPECT_EQ(r.out, "") << what << ": printed something before failing";
    }
  }

  TempDir tmp_;
  std::string good_;
};

TEST_F(DamagedTrace, FlippedPayloadByte) {
  Layout l = layout(good_);
  ASSERT_GE(l.chunks.size(), 2u);
  for (size_t c : {size_t{0}, l.chunks.size() - 1}) {
    std::string bytes = good_;
    auto [off, size] = l.chunks[c];
    bytes[off + kChunkHeaderSize + (size - kChunkHeaderSize) / 2] ^= 0x40;
    fs::path t = damaged("flip-payload-" + std::to_string(c), bytes);
    expect_clean_error(t, "corrupt chunk at offset " + std::to_string(off) + " in " +
                              (t / "events").string() + ": checksum mismatch");
  }
}

TEST_F(DamagedTrace, FlippedChunkHeaderByte) {
  Layout l = layout(good_);
  std::string bytes = good_;
  size_t off = l.chunks.back().first;
  bytes[off + 17] ^= 0x01;  // first_record_index
  fs::path t = damaged("flip-chunk-header", bytes);
  expect_clean_error(t, "corrupt chunk at offset " + std::to_string(off));
}

TEST_F(DamagedTrace, FlippedFileHeaderByte) {
  std::string bytes = good_;
  bytes[19] ^= 0x01;  // inside the stream name
  fs::path t = damaged("flip-file-header", bytes);
  expect_clean_error(t, "corrupt trace header at offset");
}

TEST_F(DamagedTrace, BadMagic) {
  std::string bytes = good_;
  bytes[0] = 'X';
  fs::path t = damaged("bad-magic", bytes);
  expect_clean_error(t, "not a backstep trace: " + (t / "events").string());
}

TEST_F(DamagedTrace, EmptyEventsFile) {
  fs::path t = damaged("empty", "");
  expect_clean_error(t, "not a backstep trace: " + (t / "events").string());
}

TEST_F(DamagedTrace, OtherVersion) {
  std::string bytes = good_;
  ASSERT_EQ(le32(bytes, kVersionOffset), 1u);
  uint32_t v = 2;
  std::memcpy(bytes.data() + kVersionOffset, &v, 4);
  fs::path t = damaged("version-2", bytes);
  expect_clean_error(t, "trace format version 2 is not supported (this backstep reads version 1): " +
                            (t / "events").string());
}

TEST_F(DamagedTrace, MissingEventsFile) {
  fs::path t = tmp_ / "no-events";
  fs::copy(tmp_ / "good", t, fs::copy_options::recursive);
  fs::remove(t / "events");
  expect_clean_error(t, "cannot open trace file " + (t / "events").string() +
                            ": No such file or directory");
}

TEST_F(DamagedTrace, MissingTraceDirectory) {
  expect_clean_error(tmp_ / "does-not-exist", "does-not-exist");
}

// A recorder killed mid-write leaves a partial last chunk: not an error, the
// trace was cut. replay says so and fails; info and dump say so.
TEST_F(DamagedTrace, CutInTheLastChunk) {
  Layout l = layout(good_);
  ASSERT_GE(l.chunks.size(), 2u);
  auto [off, size] = l.chunks.back();
  for (size_t cut : {off + size / 2, off + 20}) {  // inside the frame, inside the header
    fs::path t = damaged("cut-" + std::to_string(cut), good_.substr(0, cut));
    const std::string name = t.filename().string();

    RunResult rep = backstep({"replay", "-q", t.string()}, xdg());
    EXPECT_TRUE(rep.exited) << name << ": " << rep.describe();
    EXPECT_NE(rep.code, 0) << name << ": replay of a cut trace succeeded: " << rep.describe();
    EXPECT_TRUE(contains(rep.err, "backstep: the trace was cut short")) << name << ": "
                                                                        << rep.describe();

    RunResult info = backstep({"info", t.string()}, xdg());
    EXPECT_TRUE(info.exited) << name << ": " << info.describe();
    EXPECT_TRUE(contains(info.out, "ended:      unknown: the trace was cut short"))
        << name << ": " << info.describe();

    RunResult dump = backstep({"dump", "--json", t.string()}, xdg());
    EXPECT_TRUE(dump.exited) << name << ": " << dump.describe();
    EXPECT_TRUE(contains(dump.err, "backstep: the trace was cut short after")) << name << ": "
                                                                              << dump.describe();
  }
}

// Cut inside the first chunk: not even the header record survives.
TEST_F(DamagedTrace, CutInTheFirstChunk) {
  Layout l = layout(good_);
  auto [off, size] = l.chunks.front();
  fs::path t = damaged("cut-first", good_.substr(0, off + size / 2));
  for (const std::vector<std::string>& cmd :
       std::vector<std::vector<std::string>>{{"replay", "-q"}, {"info"}}) {
    std::vector<std::string> args = cmd;
    args.push_back(t.string());
    RunResult r = backstep(args, xdg());
    EXPECT_TRUE(r.exited) << cmd[0] << ": killed by a signal: " << r.describe();
    EXPECT_NE(r.code, 0) << cmd[0] << ": " << r.describe();
    std::vector<std::string> err = lines(r.err);
    ASSERT_FALSE(err.empty()) << r.describe();
    EXPECT_EQ(err.back().rfind("backstep: ", 0), 0u) << r.describe();
    // Not corruption: a recorder killed early leaves exactly this, and the
    // reader knows the file ends inside a chunk (truncated()); the message
    // should say so rather than only that the header is missing.
    std::string msg = err.back();
    for (size_t at; (at = msg.find(t.string())) != std::string::npos;) msg.erase(at, t.string().size());
    EXPECT_TRUE(contains(msg, "cut")) << cmd[0] << ": should say the trace was cut short: "
                                      << r.describe();
  }
}

// Files the trace keeps a copy of (files/) going missing.
TEST_F(DamagedTrace, MissingFileCopies) {
  fs::path t = tmp_ / "no-files";
  fs::copy(tmp_ / "good", t, fs::copy_options::recursive);
  ASSERT_TRUE(fs::exists(t / "files"));
  fs::remove_all(t / "files");
  RunResult r = backstep({"replay", "-q", t.string()}, xdg());
  EXPECT_TRUE(r.exited) << r.describe();
  EXPECT_NE(r.code, 0) << r.describe();
  std::vector<std::string> err = lines(r.err);
  ASSERT_EQ(err.size(), 1u) << r.describe();
  EXPECT_EQ(err[0].rfind("backstep: ", 0), 0u) << r.describe();
}


// A copy under files/ whose bytes changed after recording (its name is the
// hash of what it held): replay and pack refuse it, naming the file, rather
// than run or ship code the program never ran (symbolization: see
// symbolizer_test.cc).
TEST_F(DamagedTrace, FlippedByteInFileCopy) {
  const fs::path libc = fs::canonical("/lib/x86_64-linux-gnu/libc.so.6");
  const std::string libc_bytes = read_file(libc);
  fs::path t = tmp_ / "flipped";
  fs::copy(tmp_ / "good", t, fs::copy_options::recursive);
  fs::path copy;
  for (const auto& f : fs::directory_iterator(t / "files")) {
    if (fs::file_size(f.path()) == libc_bytes.size() && read_file(f.path()) == libc_bytes) {
      copy = f.path();
    }
  }
  ASSERT_FALSE(copy.empty()) << "no copy of " << libc << " in the trace";
  std::string bytes = libc_bytes;
  bytes[bytes.size() / 2] ^= 0x10;  // in the code, away from the ELF headers
  fs::permissions(copy, fs::perms::owner_read | fs::perms::owner_write);
  write_file(copy, bytes);
  for (const std::vector<std::string>& cmd : std::vector<std::vector<std::string>>{
           {"replay", "-q", t.string()},
           {"pack", t.string(), "-o", (tmp_ / "flipped.bundle").string()}}) {
    RunResult r = backstep(cmd, xdg());
    EXPECT_TRUE(r.exited) << cmd[0] << ": " << r.describe();
    EXPECT_NE(r.code, 0) << cmd[0] << ": " << r.describe();
    std::vector<std::string> err = lines(r.err);
    ASSERT_EQ(err.size(), 1u) << cmd[0] << ": " << r.describe();
    // The path the program mapped it by (ld.so's, or the maps file's).
    const std::string head = "backstep: " + copy.string() + ": the trace's copy of /";
    const std::string tail = "/libc.so.6 does not match its content hash (the trace is damaged)";
    EXPECT_EQ(err[0].rfind(head, 0), 0u) << cmd[0] << ": " << err[0];
    EXPECT_TRUE(err[0].ends_with(tail)) << cmd[0] << ": " << err[0];
  }
  EXPECT_FALSE(fs::exists(tmp_ / "flipped.bundle"));
}

}  // namespace
}  // namespace e2e
