// TraceDir: default location, numbering, latest-trace, modes, resolve().
#include "trace/trace_dir.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <optional>
#include <string>

#include "temp_dir.h"
#include "trace/chunk_reader.h"
#include "trace/chunk_writer.h"
#include "trace/error.h"

namespace backstep::trace {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing_support::TempDir;

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

// Points XDG_DATA_HOME and HOME into a scratch directory for one test, and
// puts them back afterwards (the tests may also run in one process).
class TraceDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    save("XDG_DATA_HOME", old_xdg_);
    save("HOME", old_home_);
    ::setenv("XDG_DATA_HOME", xdg_.c_str(), 1);
    ::setenv("HOME", (tmp_ / "home").c_str(), 1);
  }
  void TearDown() override {
    restore("XDG_DATA_HOME", old_xdg_);
    restore("HOME", old_home_);
  }

  static void save(const char* name, std::optional<std::string>& slot) {
    if (const char* v = std::getenv(name)) slot = v;
  }
  static void restore(const char* name, const std::optional<std::string>& slot) {
    if (slot) {
      ::setenv(name, slot->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }

  std::string error_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const TraceError& e) {
      return e.what();
    }
    return "<no TraceError>";
  }

  TempDir tmp_;
  fs::path xdg_ = tmp_ / "data" / "nested";  // does not exist yet
  fs::path root_ = xdg_ / "backstep";
  std::optional<std::string> old_xdg_, old_home_;
};

TEST_F(TraceDirTest, DefaultRootFollowsXdgThenHome) {
  EXPECT_EQ(TraceDir::default_root(), root_);
  ::setenv("XDG_DATA_HOME", "relative/dir", 1);  // invalid per the XDG spec: ignored
  EXPECT_EQ(TraceDir::default_root(), tmp_ / "home" / ".local" / "share" / "backstep");
  ::unsetenv("XDG_DATA_HOME");
  EXPECT_EQ(TraceDir::default_root(), tmp_ / "home" / ".local" / "share" / "backstep");
}

TEST_F(TraceDirTest, ChooseDefaultNumbersTracesAndUpdatesLatest) {
  const auto a = TraceDir::choose_default("/usr/bin/prog");
  EXPECT_EQ(a.path(), root_ / "prog-0");
  EXPECT_EQ(mode_of(root_), 0700u);
  EXPECT_EQ(mode_of(xdg_), 0700u);  // created parents are private too
  EXPECT_EQ(mode_of(a.path()), 0700u);
  EXPECT_EQ(fs::read_symlink(root_ / "latest-trace"), "prog-0");

  const auto b = TraceDir::choose_default("prog");
  EXPECT_EQ(b.path(), root_ / "prog-1");
  EXPECT_EQ(fs::read_symlink(root_ / "latest-trace"), "prog-1");

  const auto c = TraceDir::choose_default("./other");
  EXPECT_EQ(c.path(), root_ / "other-0");
  EXPECT_EQ(fs::read_symlink(root_ / "latest-trace"), "other-0");

  // Numbers continue after the highest one, even with gaps.
  fs::create_directory(root_ / "prog-7");
  fs::create_directory(root_ / "prog-x");
  fs::create_directory(root_ / "prog-");
  EXPECT_EQ(TraceDir::choose_default("prog").path(), root_ / "prog-8");

  // No temporaries left behind.
  for (const auto& e : fs::directory_iterator(root_)) {
    EXPECT_FALSE(e.path().filename().string().starts_with(".")) << e.path();
  }
}

TEST_F(TraceDirTest, OddProgramNamesStillGiveAName) {
  EXPECT_EQ(TraceDir::choose_default("").path(), root_ / "trace-0");
  EXPECT_EQ(TraceDir::choose_default("/bin/").path(), root_ / "trace-1");
  EXPECT_EQ(TraceDir::choose_default("latest-trace").path(), root_ / "trace-2");
}

TEST_F(TraceDirTest, ResolveLatestNameAndPath) {
  EXPECT_THAT(error_of([] { TraceDir::resolve(""); }), HasSubstr("no latest trace"));
  const auto a = TraceDir::choose_default("prog");
  const auto b = TraceDir::choose_default("prog");
  EXPECT_EQ(TraceDir::resolve("").path(), b.path());
  EXPECT_EQ(TraceDir::resolve("prog-0").path(), a.path());
  EXPECT_EQ(TraceDir::resolve(a.path().string()).path(), a.path());

  const auto own = TraceDir::create_new(tmp_ / "mine");
  EXPECT_EQ(TraceDir::resolve(own.path().string()).path(), own.path());
  EXPECT_THAT(error_of([] { TraceDir::resolve("prog-99"); }),
              HasSubstr("no trace named prog-99 in " + root_.string()));
  EXPECT_THAT(error_of([&] { TraceDir::resolve((tmp_ / "nowhere").string()); }),
              HasSubstr("no trace directory at " + (tmp_ / "nowhere").string()));
}

TEST_F(TraceDirTest, CreateNew) {
  const auto d = TraceDir::create_new(tmp_ / "a" / "b" / "trace");
  EXPECT_EQ(mode_of(d.path()), 0700u);
  EXPECT_EQ(d.stream_path("events"), tmp_ / "a" / "b" / "trace" / "events");

  // An existing empty directory is taken, and made private.
  fs::create_directory(tmp_ / "empty");
  fs::permissions(tmp_ / "empty", fs::perms(0755));
  EXPECT_EQ(mode_of(TraceDir::create_new(tmp_ / "empty").path()), 0700u);

  // A non-empty one is refused.
  ChunkWriter::create(d.stream_path("events"), "events").close();
  EXPECT_THAT(error_of([&] { TraceDir::create_new(d.path()); }),
              HasSubstr("already exists and is not empty"));
  EXPECT_THAT(error_of([&] { TraceDir::create_new(d.stream_path("events")); }),
              HasSubstr("not a directory"));
}

TEST_F(TraceDirTest, StreamsInADefaultTraceArePrivate) {
  const auto d = TraceDir::choose_default("prog");
  {
    auto w = ChunkWriter::create(d.stream_path("events"), "events");
    w.append(1, {});
  }
  EXPECT_EQ(mode_of(d.stream_path("events")), 0600u);
  auto r = ChunkReader::open(TraceDir::resolve("").stream_path("events"));
  Record rec;
  EXPECT_TRUE(r.next(rec));
  EXPECT_FALSE(r.next(rec));
}

}  // namespace
}  // namespace backstep::trace
