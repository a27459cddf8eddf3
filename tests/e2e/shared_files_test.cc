// Mappings of files that cannot be opened again by their path (unlinked
// files, POSIX shm objects, memfds), shared mappings that alias, and the
// effects of write(), pwrite(), ftruncate() and mremap() on what mappings
// show: native run, record and three replays print the same and end the
// same, for the program built plain and with the tick plugin.
#include <gtest/gtest.h>
#include <unistd.h>

#include <set>

#include "e2e_support.h"

namespace e2e {
namespace {

struct Build {
  const char* name;
  const char* program;
};

void PrintTo(const Build& b, std::ostream* os) { *os << b.name; }

class SharedFiles : public ::testing::TestWithParam<Build> {
 protected:
  RunResult record(const std::vector<std::string>& args, const std::string& trace_name,
                   std::vector<std::string> flags = {}) {
    std::vector<std::string> argv{"record", "-o", (tmp_ / trace_name).string()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back("--");
    argv.push_back(GetParam().program);
    argv.insert(argv.end(), args.begin(), args.end());
    return backstep(argv, xdg());
  }
  RunResult native(const std::vector<std::string>& args) {
    std::vector<std::string> argv{GetParam().program};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
  fs::path xdg() const { return tmp_ / "xdg"; }
  // A name for shm_open no other test run uses at the same time.
  std::string shm_name(const std::string& what) const {
    return "/backstep-e2e-" + std::to_string(::getpid()) + "-" + what;
  }

  // Native, recorded and replayed three times: the same output and status,
  // no divergence. Returns the trace's name.
  std::string expect_same_everywhere(const std::vector<std::string>& native_args,
                                     const std::vector<std::string>& record_args,
                                     const std::string& trace_name,
                                     std::vector<std::string> flags = {}) {
    RunResult nat = native(native_args);
    EXPECT_EQ(nat.shell_status(), 0) << nat.describe();
    RunResult rec = record(record_args, trace_name, flags);
    EXPECT_EQ(rec.shell_status(), nat.shell_status()) << rec.describe();
    EXPECT_EQ(rec.out, nat.out) << rec.describe();
    EXPECT_FALSE(contains(rec.err, "warning")) << rec.describe();
    for (int i = 0; i < 3; ++i) {
      RunResult rep = backstep({"replay", (tmp_ / trace_name).string()}, xdg());
      EXPECT_EQ(rep.shell_status(), 0) << rep.describe();
      EXPECT_EQ(rep.out, nat.out) << "replay " << i << ": " << rep.describe();
      EXPECT_FALSE(contains(rep.err, "diverged")) << rep.describe();
      EXPECT_TRUE(contains(rep.err, "the program exited with status 0")) << rep.describe();
    }
    return trace_name;
  }

  TempDir tmp_;
};

TEST_P(SharedFiles, UnlinkedFileMappedTwiceAliases) {
  TempDir files;
  std::string t = expect_same_everywhere({"unlinked", files.path().string()},
                                         {"unlinked", files.path().string()}, "t");
  // Both mappings name one file object; pwrite, write and the ftruncates
  // are recorded as changes of it.
  std::set<uint64_t> objects;
  int changes = 0;
  for (const auto& e : dump_json(tmp_ / t, xdg())) {
    if (e.value("type", "") == "file_map" && contains(e.value("path", ""), "unlinked")) {
      objects.insert(e.value("object", 0u));
    }
    if (e.value("type", "") == "file_change") ++changes;
  }
  EXPECT_EQ(objects.size(), 1u);
  EXPECT_EQ(changes, 5);  // pwrite, write, three ftruncates
}

// On disk: replay maps its own copy of the file, which must alias too.
TEST_P(SharedFiles, FileOnDiskMappedTwiceAliases) {
  TempDir a;
  TempDir b;
  expect_same_everywhere({"file", a.path().string()}, {"file", b.path().string()}, "t");
}

TEST_P(SharedFiles, ShmObjectsAlias) {
  expect_same_everywhere({"shm", shm_name("native")}, {"shm", shm_name("record")}, "t");
}

TEST_P(SharedFiles, MemfdSharedAndPrivateMappings) {
  expect_same_everywhere({"memfd"}, {"memfd"}, "t");
}

// MAP_PRIVATE of an unlinked file and of a memfd: the content at map time,
// and a page not written yet shows a later pwrite of the file.
TEST_P(SharedFiles, PrivateMappingsOfUnreachableFiles) {
  TempDir a;
  TempDir b;
  expect_same_everywhere({"private", a.path().string()}, {"private", b.path().string()}, "t");
}

// write with O_APPEND, writev, pwritev2, sendfile, copy_file_range,
// fallocate, truncate and open(O_TRUNC) change what a mapping shows; reading
// past the end raises SIGBUS; a read-only fd's mapping cannot become writable.
TEST_P(SharedFiles, EverySyscallThatChangesAMappedFile) {
  TempDir a;
  TempDir b;
  RunResult nat = native({"syscalls", a.path().string()});
  ASSERT_TRUE(contains(nat.out, "past the end raised SIGBUS")) << nat.describe();
  ASSERT_TRUE(contains(nat.out, "read-only fd's mapping: Permission denied")) << nat.describe();
  expect_same_everywhere({"syscalls", a.path().string()}, {"syscalls", b.path().string()}, "t");
}

// A mapping after every other mapping of the file is gone starts a new
// file object, read anew.
TEST_P(SharedFiles, MappingAfterAllAreGoneIsANewObject) {
  std::string t = expect_same_everywhere({"memfd"}, {"memfd"}, "t");
  std::vector<uint64_t> objects;
  for (const auto& e : dump_json(tmp_ / t, xdg())) {
    if (e.value("type", "") == "file_map" && contains(e.value("path", ""), "/memfd:shared_files")) {
      objects.push_back(e.value("object", 0u));
    }
  }
  // alias(): a, b and c; then s and p, after a, b and c were unmapped.
  ASSERT_EQ(objects.size(), 5u);
  EXPECT_EQ(objects[0], objects[1]);
  EXPECT_EQ(objects[0], objects[2]);
  EXPECT_NE(objects[2], objects[3]);
  EXPECT_EQ(objects[3], objects[4]);
}

// A device is not a file the trace can keep: a one-line error naming it.
TEST_P(SharedFiles, MappingADeviceStopsTheRecording) {
  RunResult rec = record({"device"}, "t");
  EXPECT_NE(rec.shell_status(), 0) << rec.describe();
  EXPECT_TRUE(contains(rec.err, "the program mapped /dev/zero, which is not a regular file"))
      << rec.describe();
}

// SysV shm: attachments of one segment alias (a read-only one too), shmdt
// unmaps, a segment attached again keeps its content.
TEST_P(SharedFiles, SysVAttachmentsAlias) { expect_same_everywhere({"sysv"}, {"sysv"}, "t"); }

// Two threads that talk only through two mappings of one memfd.
TEST_P(SharedFiles, ThreadsTalkThroughTwoMappings) {
  expect_same_everywhere({"threads"}, {"threads"}, "fair");
  expect_same_everywhere({"threads"}, {"threads"}, "chaos", {"--chaos", "--seed", "3"});
}

INSTANTIATE_TEST_SUITE_P(Builds, SharedFiles,
                         ::testing::Values(Build{"plain", E2E_SHARED_FILES},
                                           Build{"instrumented", E2E_SHARED_FILES_INSTRUMENTED}),
                         [](const auto& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace e2e
