// Symbolizes and unwinds a live program stopped inside inner() (prog.cc),
// from module lists built like replay builds them: from the maps, from
// copies of the files at other paths, and from trace::FileMap records.
#include "symbols/symbolizer.h"

#include <elfutils/libdwfl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "symbols/modules.h"
#include "symbols/names.h"
#include "symbols/unwind.h"
#include "trace/error.h"
#include "trace/trace_writer.h"

namespace backstep::symbols {
namespace {

namespace fs = std::filesystem;

const std::string kSource = BACKSTEP_SYMBOLS_PROG_SOURCE;

// The line of prog.cc tagged with `@marker`.
int marker_line(const std::string& marker) {
  std::ifstream in(kSource);
  std::string text;
  for (int n = 1; std::getline(in, text); ++n) {
    if (text.find("@" + marker) != std::string::npos) return n;
  }
  ADD_FAILURE() << "no @" << marker << " in " << kSource;
  return -1;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// prog.cc started under ptrace and stopped at the int3 in inner().
class Tracee {
 public:
  explicit Tracee(const std::string& program) {
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      ::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
      ::execl(program.c_str(), program.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    int status = 0;
    // The exec stop; then the int3.
    if (::waitpid(pid_, &status, 0) != pid_ || !WIFSTOPPED(status)) fail(out[0], "exec stop");
    // Kill it if the test process dies first.
    ::ptrace(PTRACE_SETOPTIONS, pid_, nullptr, PTRACE_O_EXITKILL);
    ::ptrace(PTRACE_CONT, pid_, nullptr, nullptr);
    if (::waitpid(pid_, &status, 0) != pid_ || !WIFSTOPPED(status) || WSTOPSIG(status) != SIGTRAP) {
      fail(out[0], "int3 stop");
    }
    if (::ptrace(PTRACE_GETREGS, pid_, nullptr, &regs_) != 0) fail(out[0], "GETREGS");
    // "inner=0x... middle=0x... ..." was flushed before the trap.
    std::string line;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n') line.push_back(c);
    ::close(out[0]);
    std::istringstream words(line);
    std::string word;
    while (words >> word) {
      const size_t eq = word.find('=');
      if (eq != std::string::npos)
        addrs_[word.substr(0, eq)] = std::stoull(word.substr(eq + 1), nullptr, 16);
    }
  }
  ~Tracee() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  Tracee(const Tracee&) = delete;
  Tracee& operator=(const Tracee&) = delete;

  pid_t pid() const { return pid_; }
  const user_regs_struct& regs() const { return regs_; }
  uint64_t addr(const std::string& name) const {
    auto it = addrs_.find(name);
    return it == addrs_.end() ? 0 : it->second;
  }
  ReadMemory reader() const {
    return [pid = pid_](uint64_t addr, void* buf, size_t len) {
      iovec local{buf, len};
      iovec remote{reinterpret_cast<void*>(addr), len};
      return ::process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
    };
  }

 private:
  [[noreturn]] void fail(int fd, const char* what) {
    ::close(fd);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    throw std::runtime_error(std::string("tracee: ") + what);
  }

  pid_t pid_ = -1;
  user_regs_struct regs_{};
  std::map<std::string, uint64_t> addrs_;
};

// A temporary directory, removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "backstep-symbols-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

bool is_libc(const std::string& name) { return fs::path(name).filename() == "libc.so.6"; }

class SymbolsTest : public testing::TestWithParam<const char*> {
 protected:
  // One tracee per program for the whole suite: starting one costs a fork
  // and an exec, and nothing here resumes it.
  static Tracee& tracee() {
    static std::map<std::string, std::unique_ptr<Tracee>> cache;
    auto& slot = cache[GetParam()];
    if (!slot) slot = std::make_unique<Tracee>(GetParam());
    return *slot;
  }

  // The frames every unwind of the stopped program must start with, with the
  // line the caller frames must be at.
  void expect_program_frames(const Symbolizer& symbols, const std::vector<Frame>& frames) {
    ASSERT_GE(frames.size(), 4u);
    const std::pair<const char*, const char*> expected[] = {{"inner(int)", "inner-break"},
                                                            {"middle(int)", "middle-call"},
                                                            {"outer(int)", "outer-call"},
                                                            {"main", "main-call"}};
    for (size_t i = 0; i < std::size(expected); ++i) {
      SCOPED_TRACE("frame " + std::to_string(i) + ": " + frames[i].where.describe());
      EXPECT_EQ(frames[i].where.function, expected[i].first);
      ASSERT_TRUE(frames[i].where.line.has_value());
      EXPECT_TRUE(ends_with(frames[i].where.line->file, "/prog.cc"));
      EXPECT_EQ(frames[i].where.line->line, marker_line(expected[i].second));
      EXPECT_EQ(frames[i].where.module, GetParam());
    }
    EXPECT_EQ(frames[0].pc, tracee().regs().rip);
    EXPECT_EQ(frames[0].cfa_or_sp, tracee().regs().rsp);
    for (size_t i = 1; i < frames.size(); ++i) {
      EXPECT_GT(frames[i].cfa_or_sp, frames[i - 1].cfa_or_sp) << "frame " << i;
    }
    (void)symbols;
  }

  // main's caller is libc's, and unwinding goes on to _start.
  void expect_libc_frames(const Symbolizer& symbols, const std::vector<Frame>& frames) {
    ASSERT_GE(frames.size(), 5u);
    const Location& caller = frames[4].where;
    SCOPED_TRACE(caller.describe());
    EXPECT_TRUE(is_libc(caller.module)) << caller.module;
    // __libc_start_call_main is a local symbol, only in libc's separate
    // debug info (libc6-dbg); without it only the module is known.
    if (symbols.function_address("__libc_start_call_main")) {
      EXPECT_EQ(caller.function, "__libc_start_call_main");
      EXPECT_EQ(frames.back().where.function, "_start");
    }
    EXPECT_LE(frames.size(), kMaxFrames);
  }
};

TEST_P(SymbolsTest, LocatesTheStopInInner) {
  Symbolizer symbols(modules_from_proc_maps(tracee().pid()));
  const Location loc = symbols.locate(tracee().regs().rip);
  EXPECT_EQ(loc.function, "inner(int)");
  EXPECT_EQ(loc.module, GetParam());
  EXPECT_EQ(loc.pc - loc.offset, tracee().addr("inner"));
  ASSERT_TRUE(loc.line.has_value());
  EXPECT_TRUE(ends_with(loc.line->file, "/prog.cc")) << loc.line->file;
  EXPECT_EQ(loc.line->line, marker_line("inner-break"));
  EXPECT_GT(loc.line->column, 0);
  EXPECT_EQ(loc.describe(), "inner(int)+0x" +
                                (std::ostringstream() << std::hex << loc.offset).str() +
                                " at prog.cc:" + std::to_string(marker_line("inner-break")));
}

TEST_P(SymbolsTest, UnwindsThroughTheProgramIntoLibc) {
  Symbolizer symbols(modules_from_proc_maps(tracee().pid()));
  const auto frames = unwind(symbols, tracee().regs(), tracee().reader(), tracee().pid());
  for (const Frame& f : frames) testing::Test::RecordProperty("frame", f.where.describe());
  expect_program_frames(symbols, frames);
  expect_libc_frames(symbols, frames);
  // A second unwind on the same session (libdwfl attaches a session once).
  EXPECT_EQ(unwind(symbols, tracee().regs(), tracee().reader()).size(), frames.size());
}

TEST_P(SymbolsTest, UnwindsByFramePointers) {
  Symbolizer symbols(modules_from_proc_maps(tracee().pid()));
  expect_program_frames(symbols,
                        unwind_frame_pointers(symbols, tracee().regs(), tracee().reader()));
}

TEST_P(SymbolsTest, UnwindsByFramePointersWithoutModules) {
  Symbolizer symbols({});
  const auto frames = unwind(symbols, tracee().regs(), tracee().reader());
  ASSERT_GE(frames.size(), 4u);
  EXPECT_EQ(frames[0].pc, tracee().regs().rip);
  EXPECT_EQ(frames[0].where.describe(),
            (std::ostringstream() << "0x" << std::hex << tracee().regs().rip).str() + " in ??");
  // The return addresses into middle, outer and main.
  for (size_t i = 1; i < 4; ++i) EXPECT_NE(frames[i].pc, 0u);
}

TEST_P(SymbolsTest, FindsFunctionsByName) {
  Symbolizer symbols(modules_from_proc_maps(tracee().pid()));
  EXPECT_EQ(symbols.function_address("middle"), tracee().addr("middle"));
  EXPECT_EQ(symbols.function_address("middle(int)"), tracee().addr("middle"));
  EXPECT_EQ(symbols.function_address("_Z6middlei"), tracee().addr("middle"));
  EXPECT_EQ(symbols.function_address("inner"), tracee().addr("inner"));
  EXPECT_EQ(symbols.function_address("outer"), tracee().addr("outer"));
  const auto main_addr = symbols.function_address("main");
  ASSERT_TRUE(main_addr.has_value());
  EXPECT_EQ(symbols.locate(*main_addr).function, "main");
  EXPECT_EQ(symbols.locate(*main_addr).module, GetParam());
  // Templates and namespaces: full, qualified without arguments, unqualified.
  EXPECT_EQ(symbols.function_address("int geo::scale<int>(int)"), tracee().addr("scale"));
  EXPECT_EQ(symbols.function_address("geo::scale<int>"), tracee().addr("scale"));
  EXPECT_EQ(symbols.function_address("geo::scale"), tracee().addr("scale"));
  EXPECT_EQ(symbols.function_address("scale"), tracee().addr("scale"));
  const auto get = symbols.function_address("Box::get");
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ(symbols.locate(*get).function, "geo::Box<int>::get() const");
  EXPECT_EQ(symbols.function_address("geo::Box<int>::get"), get);
  EXPECT_EQ(symbols.function_address("get"), get);
  EXPECT_EQ(symbols.function_address("ox::get"), std::nullopt);  // components, not text
  EXPECT_EQ(symbols.function_address("no_such_function"), std::nullopt);
  // Other modules too.
  const auto getpid_addr = symbols.function_address("getpid");
  ASSERT_TRUE(getpid_addr.has_value());
  EXPECT_TRUE(is_libc(symbols.locate(*getpid_addr).module));
}

TEST_P(SymbolsTest, FindsLineAddresses) {
  Symbolizer symbols(modules_from_proc_maps(tracee().pid()));
  for (const char* marker : {"inner-break", "middle-call", "outer-call", "main-call"}) {
    SCOPED_TRACE(marker);
    const int line = marker_line(marker);
    const auto addrs = symbols.line_addresses("prog.cc", line);
    ASSERT_FALSE(addrs.empty());
    for (uint64_t a : addrs) {
      const Location loc = symbols.locate(a);
      ASSERT_TRUE(loc.line.has_value());
      EXPECT_EQ(loc.line->line, line);
      EXPECT_EQ(loc.module, GetParam());
    }
    EXPECT_EQ(symbols.line_addresses("symbols/prog.cc", line), addrs);
    EXPECT_EQ(symbols.line_addresses(kSource, line), addrs);
  }
  EXPECT_TRUE(symbols.line_addresses("rog.cc", marker_line("middle-call")).empty());
  EXPECT_TRUE(symbols.line_addresses("prog.cc", marker_line("comment")).empty());
  EXPECT_EQ(symbols.first_line_with_code("prog.cc", marker_line("comment")),
            marker_line("inner-break"));
}

TEST_P(SymbolsTest, FunctionRangeContainsThePc) {
  Symbolizer symbols(modules_from_proc_maps(tracee().pid()));
  const uint64_t pc = tracee().regs().rip;
  const auto range = symbols.function_range(pc);
  ASSERT_TRUE(range.has_value());
  EXPECT_EQ(range->first, tracee().addr("inner"));
  EXPECT_GT(range->second, pc);
  EXPECT_EQ(symbols.function_range(0), std::nullopt);
}

TEST_P(SymbolsTest, SymbolizesLibcFromACopy) {
  TempDir dir;
  std::vector<Module> modules = modules_from_proc_maps(tracee().pid());
  bool copied = false;
  for (Module& m : modules) {
    if (!is_libc(m.name)) continue;
    // Named like a trace's content copy: no trace of the original name.
    m.path = (dir.path() / "3f9a0c2e").string();
    fs::copy_file(m.name, m.path);
    copied = true;
  }
  ASSERT_TRUE(copied);
  Symbolizer symbols(modules);
  const auto frames = unwind(symbols, tracee().regs(), tracee().reader());
  expect_program_frames(symbols, frames);
  expect_libc_frames(symbols, frames);
  // The module is reported at the address the process has it, bias included.
  for (size_t i = 0; i < symbols.modules().size(); ++i) {
    if (!is_libc(symbols.modules()[i].name)) continue;
    Dwfl_Module* mod = dwfl_addrmodule(symbols.dwfl(), symbols.modules()[i].start);
    ASSERT_NE(mod, nullptr);
    Dwarf_Addr bias = 0;
    ASSERT_NE(dwfl_module_getelf(mod, &bias), nullptr);
    EXPECT_EQ(bias, symbols.modules()[i].start);  // libc's first PT_LOAD is at vaddr 0
  }
}

// Replay's situation: only the trace's FileMap records and file copies.
TEST_P(SymbolsTest, SymbolizesFromTraceFileMaps) {
  TempDir dir;
  const fs::path files = dir.path() / "files";
  fs::create_directory(files);
  std::vector<trace::FileMap> maps;
  std::map<std::string, std::string> copies;  // original path -> content name
  std::ifstream in("/proc/" + std::to_string(tracee().pid()) + "/maps");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string range, perms, offset, dev, inode, path;
    words >> range >> perms >> offset >> dev >> inode >> path;
    if (path.empty() || path[0] != '/') continue;
    // Named by content, as the recorder names them: replay checks that.
    auto [it, inserted] = copies.try_emplace(path, trace::hash_file(path));
    if (inserted) fs::copy_file(path, files / it->second);
    trace::FileMap f;
    f.addr = std::stoull(range.substr(0, range.find('-')), nullptr, 16);
    f.length = std::stoull(range.substr(range.find('-') + 1), nullptr, 16) - f.addr;
    f.offset = std::stoull(offset, nullptr, 16);
    f.path = path;
    f.content = it->second;
    maps.push_back(f);
  }
  const std::vector<Module> modules = modules_from_file_maps(maps, files);
  ASSERT_GE(modules.size(), 3u);  // the program, libc, ld.so (libstdc++, libm...)
  for (const Module& m : modules) {
    EXPECT_EQ(fs::path(m.path).parent_path(), files) << m.name;
  }
  Symbolizer symbols(modules);
  EXPECT_EQ(symbols.modules().size(), modules.size());
  const auto frames = unwind(symbols, tracee().regs(), tracee().reader());
  expect_program_frames(symbols, frames);
  expect_libc_frames(symbols, frames);
  EXPECT_EQ(symbols.function_address("middle"), tracee().addr("middle"));
  // A copy whose bytes changed since it was named: refused, not read.
  const fs::path program_copy = files / copies.at(GetParam());
  std::string bytes;
  {
    std::ifstream f(program_copy, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  bytes[bytes.size() / 2] ^= 1;
  {
    std::ofstream f(program_copy, std::ios::binary | std::ios::trunc);
    f << bytes;
  }
  try {
    modules_from_file_maps(maps, files);
    ADD_FAILURE() << "a damaged copy was used";
  } catch (const trace::TraceError& e) {
    EXPECT_EQ(std::string(e.what()), program_copy.string() + ": the trace's copy of " + GetParam() +
                                         " does not match its content hash (the trace is damaged)");
  }
}

TEST_P(SymbolsTest, SkipsUnusableModules) {
  TempDir dir;
  std::ofstream(dir.path() / "not-elf") << "just text\n";
  std::vector<Module> modules = modules_from_proc_maps(tracee().pid());
  const size_t usable = modules.size();
  modules.push_back(Module{(dir.path() / "not-elf").string(), "/not-elf", 0x10000});
  modules.push_back(Module{(dir.path() / "missing").string(), "/missing", 0x20000});
  // Overlaps the program: dropped, not reported over it.
  modules.push_back(Module{modules.front().path, "/overlap", modules.front().start});
  Symbolizer symbols(modules);
  EXPECT_EQ(symbols.modules().size(), usable);
  EXPECT_EQ(symbols.locate(tracee().regs().rip).function, "inner(int)");
}

size_t open_fds() {
  return static_cast<size_t>(
      std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator()));
}

// libdwfl takes over the fds it is given; dwfl_end must close them all, and
// the separate debug info files it opened.
TEST_P(SymbolsTest, ClosesItsFiles) {
  const size_t before = open_fds();
  {
    Symbolizer symbols(modules_from_proc_maps(tracee().pid()));
    EXPECT_GT(open_fds(), before);
    unwind(symbols, tracee().regs(), tracee().reader());
    symbols.function_address("getpid");
    Symbolizer moved(std::move(symbols));
    EXPECT_EQ(moved.locate(tracee().regs().rip).function, "inner(int)");
  }
  EXPECT_EQ(open_fds(), before);
}

INSTANTIATE_TEST_SUITE_P(Programs, SymbolsTest,
                         testing::Values(BACKSTEP_SYMBOLS_PROG_PIE, BACKSTEP_SYMBOLS_PROG_NOPIE),
                         [](const testing::TestParamInfo<const char*>& param) {
                           return param.index == 0 ? std::string("Pie") : std::string("NoPie");
                         });

TEST(SymbolsSourceLines, ReadsAroundALine) {
  const int line = marker_line("middle-call");
  const auto lines = Symbolizer::source_lines(kSource, line, 2, 1);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].first, line - 2);
  EXPECT_EQ(lines[3].first, line + 1);
  EXPECT_NE(lines[2].second.find("@middle-call"), std::string::npos);
  // Clamped at the start, empty for a missing file.
  EXPECT_EQ(Symbolizer::source_lines(kSource, 2, 5, 0).front().first, 1);
  EXPECT_TRUE(Symbolizer::source_lines("/nonexistent/prog.cc", 3, 1, 1).empty());
}

TEST(SymbolsDescribe, Formats) {
  Location loc;
  loc.pc = 0x7f0000001234;
  EXPECT_EQ(loc.describe(), "0x7f0000001234 in ??");
  loc.module = "/lib/x86_64-linux-gnu/libc.so.6";
  EXPECT_EQ(loc.describe(), "0x7f0000001234 in libc.so.6");
  loc.function = "write";
  loc.offset = 0x17;
  EXPECT_EQ(loc.describe(), "write+0x17 in libc.so.6");
  loc.function = "inner(int)";
  loc.offset = 0;
  loc.line = SourceLine{"/src/prog.cc", 42, 3};
  EXPECT_EQ(loc.describe(), "inner(int) at prog.cc:42");
  EXPECT_EQ(loc.describe(NameStyle::kShort), "inner at prog.cc:42");
}

TEST(SymbolsShortNames, DropWhatIsNotTheName) {
  const std::string gomap = "backstep::GoMap<int, int, std::hash<int>, std::equal_to<int> >";
  const std::pair<std::string, std::string> cases[] = {
      // The map's operations: defaults, the function's own template
      // arguments (a lambda), the return type, parameters and the clone
      // suffix go.
      {"int* " + gomap + "::assign<" + gomap + "::put(int const&, int)::{lambda(unsigned char*, " +
           "bool)#1}>(int const&, " + gomap + "::put(int const&, int)::{lambda(unsigned char*, " +
           "bool)#1}&&) [clone .isra.0]",
       "GoMap<int, int>::assign"},
      {gomap + "::put(int const&, int)", "GoMap<int, int>::put"},
      {gomap + "::iter_next(" + gomap + "::Iterator&) const", "GoMap<int, int>::iter_next"},
      {"stats_pass(" + gomap + "&, long)", "stats_pass"},
      // A lambda is the lambda, not its operator(), in a function without
      // its parameters.
      {"Pool::Pool(Stock&, int, long)::{lambda()#1}::operator()() const", "Pool::Pool::{lambda#1}"},
      // Long class template arguments read as "...".
      {"std::thread::_State_impl<std::thread::_Invoker<std::tuple<Pool::Pool()::{lambda()#1}> > "
       ">::_M_run()",
       "std::thread::_State_impl<...>::_M_run"},
      {"(anonymous namespace)::writer(backstep::GoMap<std::__cxx11::basic_string<char, "
       "std::char_traits<char>, std::allocator<char> >, std::vector<int, std::allocator<int> > >&)",
       "writer"},
      {"std::vector<int, std::allocator<int> >::push_back(int const&)",
       "std::vector<int>::push_back"},
      {"backstep::GoMap<std::__cxx11::basic_string<char, std::char_traits<char>, "
       "std::allocator<char> >, int, std::hash<std::__cxx11::basic_string<char, "
       "std::char_traits<char>, std::allocator<char> > >, "
       "std::equal_to<std::__cxx11::basic_string<char, std::char_traits<char>, "
       "std::allocator<char> > > >::erase(std::__cxx11::basic_string<char, "
       "std::char_traits<char>, std::allocator<char> > const&)",
       "GoMap<std::string, int>::erase"},
      // Operators keep their punctuation, not their template arguments.
      {"bool operator< <int>(Foo<int> const&, Foo<int> const&)", "operator<"},
      {"ns::Box<int>::operator()(int)", "ns::Box<int>::operator()"},
      // C names and names without parameters stay.
      {"main", "main"},
      {"write", "write"},
      {"_start", "_start"},
  };
  for (const auto& [full, short_name] : cases) {
    EXPECT_EQ(short_function_name(full), short_name) << full;
    EXPECT_EQ(display_name(full, NameStyle::kFull), full);
  }
}

Frame frame_in(const std::string& function, const std::string& module, bool inlined = false) {
  Frame f;
  f.where.function = function;
  f.where.module = module;
  f.where.inlined = inlined;
  return f;
}

TEST(SymbolsThreadNames, TheNameGivenOrTheUsersOutermostFunction) {
  // The kernel calls an unnamed thread by the file's name cut to 15 bytes.
  const std::string exe = "/home/u/shop_with_a_long_name";
  const std::string unnamed = "shop_with_a_lon";
  const std::string libc = "/lib/x86_64-linux-gnu/libc.so.6";
  // A pool worker: below libstdc++'s machinery, a lambda that calls a
  // named function (inlined into it).
  const std::vector<Frame> worker = {
      frame_in("backstep::GoMap<int, int>::put(int const&, int)", exe, true),
      frame_in("restock(backstep::GoMap<int, int>&, int)", exe),
      frame_in("Pool::worker_loop(int)", exe, true),
      frame_in("Pool::Pool(Stock&, int, long)::{lambda()#1}::operator()() const", exe, true),
      frame_in("void std::__invoke_impl<void, Pool::Pool()::{lambda()#1}>(std::__invoke_other, "
               "Pool::Pool()::{lambda()#1}&&)",
               exe, true),
      frame_in(
          "std::thread::_State_impl<std::thread::_Invoker<std::tuple<Pool::Pool()::{lambda()#1}"
          "> > >::_M_run()",
          exe),
      frame_in("execute_native_thread_routine", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"),
      frame_in("start_thread", libc),
      frame_in("clone3", libc)};
  EXPECT_EQ(thread_name(worker, exe, unnamed), "Pool::worker_loop");
  EXPECT_EQ(thread_name(worker, exe, ""), "Pool::worker_loop");
  // The name the program gave wins.
  EXPECT_EQ(thread_name(worker, exe, "restocker"), "restocker");
  // A lambda that calls nothing of the user's names the thread.
  const std::vector<Frame> lambda_only = {worker[0], worker[3], worker[5], worker[7]};
  EXPECT_EQ(thread_name(lambda_only, exe, ""), "Pool::Pool::{lambda#1}");
  // The main thread.
  const std::vector<Frame> main_thread = {
      frame_in("main", exe), frame_in("__libc_start_call_main", libc), frame_in("_start", exe)};
  EXPECT_EQ(thread_name(main_thread, exe, unnamed), "main");
  EXPECT_EQ(thread_name({worker[7], worker[8]}, exe, unnamed), "");
}

}  // namespace
}  // namespace backstep::symbols
