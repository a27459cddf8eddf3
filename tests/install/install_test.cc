// backstep from other projects: `cmake --install` into a temporary prefix,
// then, against that installed tree only, a CMake project
// (examples/standalone: find_package + backstep_instrument), a Makefile
// project with the compiler wrappers and with pkg-config; and the Debian
// package, unpacked with `dpkg -x`. Every program built is recorded and
// replayed by the installed backstep. One ctest entry: the tree is
// installed once.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "../e2e/e2e_support.h"

namespace {

using e2e::contains;
using e2e::RunOptions;
using e2e::RunResult;
using e2e::fs::path;
using nlohmann::json;

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// A command of the test's, allowed the time of a build on a busy machine.
RunResult run_long(const std::vector<std::string>& argv, RunOptions options = {}) {
  options.timeout = std::chrono::seconds(300);
  return e2e::run(argv, options);
}

// What the installed (or unpacked) tree holds, relative to its prefix.
struct Layout {
  path backstep = path("bin/backstep");
  path cc = path("bin/backstep-cc");
  path cxx = path("bin/backstep-c++");
  path runtime = path(INSTALL_LIBDIR) / "libbackstep_runtime.a";
  path plugin = path(INSTALL_LIBDIR) / "backstep/backstep_ticks.so";
  path cmake_dir = path(INSTALL_LIBDIR) / "cmake/backstep";
  path pc_dir = path(INSTALL_LIBDIR) / "pkgconfig";
  path include = path("include/backstep");
};

// Records `program` with the backstep under `prefix`, replays it, and
// checks both: same output as a native run, ticks preempted the spinning
// threads (timeslice switches) and the map published its events.
void expect_records_and_replays(const path& prefix, const std::vector<std::string>& program,
                                const std::string& expected_output) {
  SCOPED_TRACE(program.front());
  RunResult native = run_long(program);
  ASSERT_EQ(native.shell_status(), 0) << native.describe();
  ASSERT_EQ(native.out, expected_output);

  e2e::TempDir work;
  RunOptions options;
  options.env["XDG_DATA_HOME"] = work.path().string();
  std::string backstep = (prefix / Layout().backstep).string();
  std::string trace = (work / "trace").string();
  std::vector<std::string> record = {backstep, "record", "-o", trace, "--"};
  record.insert(record.end(), program.begin(), program.end());
  RunResult rec = run_long(record, options);
  ASSERT_EQ(rec.shell_status(), 0) << rec.describe();
  EXPECT_EQ(rec.out, expected_output);

  RunResult rep = run_long({backstep, "replay", trace}, options);
  ASSERT_EQ(rep.shell_status(), 0) << rep.describe();
  EXPECT_EQ(rep.out, expected_output);
  EXPECT_TRUE(has(rep.err, "the program exited with status 0")) << rep.describe();

  RunResult dump = run_long({backstep, "dump", "--json", trace}, options);
  ASSERT_EQ(dump.shell_status(), 0) << dump.describe();
  int timeslice_switches = 0;
  int map_events = 0;
  for (const std::string& line : e2e::lines(dump.out)) {
    if (line.empty()) continue;
    json e = json::parse(line);
    std::string type = e.value("type", "");
    if (type == "switch" && e.value("reason", "") == "timeslice") ++timeslice_switches;
    if (type == "map") ++map_events;
  }
  EXPECT_GT(timeslice_switches, 0) << "no thread was preempted by its ticks";
  EXPECT_GT(map_events, 0) << "the map published no events";
}

// The output of handoff (examples/standalone) and relay (make_project) with
// 10 rounds.
constexpr const char* kHandoffOutput = "handoff: 100 keys, 989175\n";
constexpr const char* kRelayOutput = "relay: 80 keys, 13420\n";

// `make` in a copy of tests/install/make_project, with `args` and `env`;
// the built program's path.
path make_relay(const e2e::TempDir& dir, const std::vector<std::string>& args,
                const std::map<std::string, std::string>& env, RunResult* out) {
  e2e::fs::copy(path(SOURCE_DIR) / "tests/install/make_project", dir.path(),
                e2e::fs::copy_options::recursive);
  std::vector<std::string> argv = {MAKE_BIN, "-C", dir.path().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOptions options;
  options.env = env;
  *out = run_long(argv, options);
  return dir / "relay";
}

class InstalledTree : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    prefix_ = new e2e::TempDir;
    install_ = new RunResult(
        run_long({CMAKE_COMMAND, "--install", BUILD_DIR, "--prefix", prefix_->path().string()}));
  }
  static void TearDownTestSuite() {
    delete install_;
    delete prefix_;
  }
  void SetUp() override { ASSERT_EQ(install_->shell_status(), 0) << install_->describe(); }

  static path prefix() { return prefix_->path(); }

  static e2e::TempDir* prefix_;
  static RunResult* install_;
};
e2e::TempDir* InstalledTree::prefix_ = nullptr;
RunResult* InstalledTree::install_ = nullptr;

TEST_F(InstalledTree, PutsEachPieceInItsGnuInstallDirsPlace) {
  Layout l;
  for (const path& p :
       {l.backstep, l.cc, l.cxx, l.runtime, l.include / "gomap/go_map.h",
        l.include / "runtime/abi.h", l.include / "runtime/runtime.h",
        l.cmake_dir / "backstepConfig.cmake", l.cmake_dir / "backstepConfigVersion.cmake",
        l.cmake_dir / "backstepTargets.cmake", l.cmake_dir / "BackstepInstrument.cmake",
        l.pc_dir / "backstep.pc", path("share/doc/backstep/README.md"),
        path("share/doc/backstep/examples/standalone/CMakeLists.txt")}) {
    EXPECT_TRUE(e2e::fs::is_regular_file(prefix() / p)) << p;
  }
#ifdef TICK_PLUGIN_BUILT
  EXPECT_TRUE(e2e::fs::is_regular_file(prefix() / l.plugin));
#endif
  for (const path& p : {l.backstep, l.cc, l.cxx}) {
    auto perms = e2e::fs::status(prefix() / p).permissions();
    EXPECT_NE(perms & e2e::fs::perms::owner_exec, e2e::fs::perms::none) << p;
  }
  RunResult version = run_long({(prefix() / l.backstep).string(), "--version"});
  EXPECT_EQ(version.shell_status(), 0) << version.describe();
  EXPECT_EQ(version.out, "backstep " PROJECT_VERSION "\n");
}

// examples/standalone, configured with nothing but CMAKE_PREFIX_PATH.
TEST_F(InstalledTree, CMakeProjectFindsThePackageAndRecords) {
  e2e::TempDir build;
  RunResult configure =
      run_long({CMAKE_COMMAND, "-S", SOURCE_DIR "/examples/standalone", "-B", build.path().string(),
                "-DCMAKE_PREFIX_PATH=" + prefix().string()});
  ASSERT_EQ(configure.shell_status(), 0) << configure.describe();
  RunResult compile = run_long({CMAKE_COMMAND, "--build", build.path().string(), "--verbose"});
  ASSERT_EQ(compile.shell_status(), 0) << compile.describe();
#ifdef TICK_PLUGIN_BUILT
  // The installed plugin, not the build tree's.
  EXPECT_TRUE(has(compile.out, "-fplugin=" + (prefix() / Layout().plugin).string())) << compile.out;
#else
  EXPECT_TRUE(has(compile.out, "-fsanitize-coverage=trace-pc")) << compile.out;
#endif
  EXPECT_FALSE(has(compile.out, BUILD_DIR)) << "the build tree leaked into the package";
  expect_records_and_replays(prefix(), {(build / "handoff").string()}, kHandoffOutput);
}

// CC=backstep-cc CXX=backstep-c++ make: each compile gets the ticks and the
// include path; only the link gets the runtime.
TEST_F(InstalledTree, MakeWithTheCompilerWrappers) {
  e2e::TempDir dir;
  RunResult make;
  path relay = make_relay(
      dir, {"CC=" + (prefix() / Layout().cc).string(), "CXX=" + (prefix() / Layout().cxx).string()},
      {{"BACKSTEP_WRAPPER_VERBOSE", "1"}}, &make);
  ASSERT_EQ(make.shell_status(), 0) << make.describe();
  std::string runtime = (prefix() / Layout().runtime).string();
  std::string include = "-I" + (prefix() / Layout().include).string();
#ifdef TICK_PLUGIN_BUILT
  std::string ticks = "-fplugin=" + (prefix() / Layout().plugin).string();
#else
  std::string ticks = "-fsanitize-coverage=trace-pc";
#endif
  // The wrappers' commands, as BACKSTEP_WRAPPER_VERBOSE shows them.
  int compiles = 0, links = 0;
  for (const std::string& line : e2e::lines(make.err)) {
    if (line.empty()) continue;
    SCOPED_TRACE(line);
    EXPECT_TRUE(has(line, " " + include + " " + ticks));
    if (has(line, " -c ")) {
      ++compiles;
      EXPECT_FALSE(has(line, runtime));
    } else {
      ++links;
      EXPECT_TRUE(has(line, runtime + " -pthread"));
    }
  }
  EXPECT_EQ(compiles, 2);
  EXPECT_EQ(links, 1);
  expect_records_and_replays(prefix(), {relay.string()}, kRelayOutput);
}

TEST_F(InstalledTree, MakeWithPkgConfig) {
  RunOptions options;
  options.env["PKG_CONFIG_PATH"] = (prefix() / Layout().pc_dir).string();
  RunResult cflags = run_long({PKG_CONFIG_BIN, "--cflags", "backstep"}, options);
  ASSERT_EQ(cflags.shell_status(), 0) << cflags.describe();
#ifdef TICK_PLUGIN_BUILT
  RunResult plugin = run_long({PKG_CONFIG_BIN, "--variable=plugin", "backstep"}, options);
  std::string plugin_path = plugin.out.substr(0, plugin.out.find('\n'));
  EXPECT_TRUE(has(cflags.out, "-fplugin=" + plugin_path)) << cflags.out;
  EXPECT_TRUE(e2e::fs::equivalent(plugin_path, prefix() / Layout().plugin)) << plugin_path;
#endif

  e2e::TempDir dir;
  RunResult make;
  path relay = make_relay(dir, {"USE_PKG_CONFIG=1"}, options.env, &make);
  ASSERT_EQ(make.shell_status(), 0) << make.describe();
  expect_records_and_replays(prefix(), {relay.string()}, kRelayOutput);
}

// BACKSTEP_CC naming the wrapper itself would loop: refused, with a reason.
TEST_F(InstalledTree, WrapperRefusesToRunItself) {
  std::string cc = (prefix() / Layout().cc).string();
  RunOptions options;
  options.env["BACKSTEP_CC"] = cc;
  RunResult r = run_long({cc, "--version"}, options);
  EXPECT_EQ(r.shell_status(), 2) << r.describe();
  EXPECT_EQ(r.err, "backstep-cc: BACKSTEP_CC names this wrapper; set it to the real compiler\n");
}

// Any compiler but the plugin's gcc: the wrapper falls back to trace-pc.
TEST_F(InstalledTree, WrappersGiveOtherCompilersTracePc) {
  if (!e2e::fs::exists("/usr/bin/clang")) GTEST_SKIP() << "no /usr/bin/clang";
  e2e::TempDir dir;
  RunResult make;
  path relay = make_relay(
      dir, {"CC=" + (prefix() / Layout().cc).string(), "CXX=" + (prefix() / Layout().cxx).string()},
      {{"BACKSTEP_WRAPPER_VERBOSE", "1"}, {"BACKSTEP_CC", "clang"}, {"BACKSTEP_CXX", "clang++"}},
      &make);
  ASSERT_EQ(make.shell_status(), 0) << make.describe();
  EXPECT_TRUE(has(make.err, "clang -O2 -g")) << make.err;
  EXPECT_TRUE(has(make.err, "-fsanitize-coverage=trace-pc")) << make.err;
  EXPECT_FALSE(has(make.err, "-fplugin")) << make.err;
  expect_records_and_replays(prefix(), {relay.string()}, kRelayOutput);
}

}  // namespace

namespace {

// cpack -G DEB: the package's name, fields and files; then, unpacked with
// `dpkg -x` into an empty root, its backstep runs and its wrappers build a
// program that it records and replays.
TEST(DebianPackage, BuildsAndWorksFromAnUnpackedRoot) {
  e2e::TempDir work;
  RunResult cpack = run_long({CPACK_COMMAND, "-G", "DEB", "--config",
                              BUILD_DIR "/CPackConfig.cmake", "-B", work.path().string()});
  ASSERT_EQ(cpack.shell_status(), 0) << cpack.describe();
  path deb = work / ("backstep_" PROJECT_VERSION "_amd64.deb");
  ASSERT_TRUE(e2e::fs::is_regular_file(deb)) << cpack.out;

  RunResult fields = run_long(
      {DPKG_DEB_BIN, "--field", deb.string(), "Package", "Version", "Architecture", "Depends"});
  ASSERT_EQ(fields.shell_status(), 0) << fields.describe();
  std::vector<std::string> lines = e2e::lines(fields.out);
  ASSERT_GE(lines.size(), 4u) << fields.out;
  EXPECT_EQ(lines[0], "Package: backstep");
  EXPECT_EQ(lines[1], "Version: " PROJECT_VERSION);
  EXPECT_EQ(lines[2], "Architecture: amd64");
  // dpkg-shlibdeps: exactly the Debian packages of the libraries backstep
  // links, each with a minimum version (Capstone is linked statically).
  ASSERT_EQ(lines[3].rfind("Depends: ", 0), 0u) << lines[3];
  std::set<std::string> packages;
  std::string depends = lines[3].substr(9);
  for (size_t at = 0; at < depends.size();) {
    size_t comma = std::min(depends.find(", ", at), depends.size());
    std::string dependency = depends.substr(at, comma - at);
    EXPECT_TRUE(has(dependency, " (>= ")) << dependency;
    packages.insert(dependency.substr(0, dependency.find(' ')));
    at = comma + 2;
  }
  EXPECT_EQ(packages,
            (std::set<std::string>{"libc6", "libdw1", "libelf1", "libfmt9", "libgcc-s1",
                                   "libreadline8", "libstdc++6", "libxxhash0", "libzstd1"}))
      << lines[3];

  RunResult contents = run_long({DPKG_DEB_BIN, "--contents", deb.string()});
  ASSERT_EQ(contents.shell_status(), 0) << contents.describe();
  Layout l;
  for (const path& p : {l.backstep, l.cc, l.cxx, l.runtime, l.include / "gomap/go_map.h",
                        l.cmake_dir / "backstepConfig.cmake", l.pc_dir / "backstep.pc"}) {
    EXPECT_TRUE(has(contents.out, " ./usr/" + p.string() + "\n")) << p;
  }
#ifdef TICK_PLUGIN_BUILT
  EXPECT_TRUE(has(contents.out, " ./usr/" + l.plugin.string() + "\n"));
#endif

  e2e::TempDir root;
  RunResult unpack = run_long({DPKG_BIN, "-x", deb.string(), root.path().string()});
  ASSERT_EQ(unpack.shell_status(), 0) << unpack.describe();
  path usr = root / "usr";
  RunResult version = run_long({(usr / l.backstep).string(), "--version"});
  EXPECT_EQ(version.shell_status(), 0) << version.describe();
  EXPECT_EQ(version.out, "backstep " PROJECT_VERSION "\n");

  e2e::TempDir dir;
  RunResult make;
  path relay =
      make_relay(dir, {"CC=" + (usr / l.cc).string(), "CXX=" + (usr / l.cxx).string()}, {}, &make);
  ASSERT_EQ(make.shell_status(), 0) << make.describe();
  expect_records_and_replays(usr, {relay.string()}, kRelayOutput);
}

}  // namespace
