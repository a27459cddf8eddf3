#include "e2e_support.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace e2e {

std::string RunResult::describe() const {
  std::ostringstream s;
  if (timed_out) s << "TIMED OUT, ";
  s << (exited ? "exit status " : "killed by signal ") << code << " after " << seconds << " s\n"
    << "--- stdout (" << out.size() << " bytes, last 2000) ---\n"
    << (out.size() > 2000 ? out.substr(out.size() - 2000) : out) << "\n"
    << "--- stderr (" << err.size() << " bytes, last 2000) ---\n"
    << (err.size() > 2000 ? err.substr(err.size() - 2000) : err);
  return s.str();
}

namespace {

void set_cloexec_pipe(int fds[2]) {
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
}

}  // namespace

RunResult run(const std::vector<std::string>& argv, const RunOptions& options) {
  RunResult r;
  // Environment: ours, with the overrides.
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : options.env) env[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);
  std::string cwd = options.cwd ? options.cwd->string() : std::string();

  int out_pipe[2], err_pipe[2];
  set_cloexec_pipe(out_pipe);
  set_cloexec_pipe(err_pipe);
  int pty_master = -1, pty_slave = -1;
  if (options.stdout_terminal || options.stderr_terminal) {
    termios raw{};
    ::cfmakeraw(&raw);
    if (::openpty(&pty_master, &pty_slave, nullptr, &raw, nullptr) != 0) {
      throw std::runtime_error("openpty failed");
    }
    ::fcntl(pty_master, F_SETFD, FD_CLOEXEC);
    ::fcntl(pty_slave, F_SETFD, FD_CLOEXEC);
  }
  auto start = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::setpgid(0, 0);  // a group of its own, so that a timeout kills everything it started
    ::dup2(options.stdout_terminal ? pty_slave : out_pipe[1], 1);
    ::dup2(options.stderr_terminal ? pty_slave : err_pipe[1], 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) _exit(125);
    ::execve(args[0], args.data(), envp.data());
    const char* msg = "e2e: execve failed\n";
    [[maybe_unused]] ssize_t n = ::write(2, msg, std::strlen(msg));
    _exit(127);
  }
  ::setpgid(pid, pid);  // also here, to win the race with the child
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (pty_slave >= 0) {
    // The terminal's output replaces the pipe of the stream(s) it stands for.
    ::close(pty_slave);
    if (options.stdout_terminal) {
      ::close(out_pipe[0]);
      out_pipe[0] = pty_master;
    }
    if (options.stderr_terminal) {
      ::close(err_pipe[0]);
      err_pipe[0] = options.stdout_terminal ? -1 : pty_master;
    }
  }

  auto deadline = start + options.timeout;
  // The child's exit is watched through a pidfd, so that nothing here sleeps.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) throw std::runtime_error("pidfd_open failed");
  std::array<pollfd, 3> fds{pollfd{out_pipe[0], POLLIN, 0}, pollfd{err_pipe[0], POLLIN, 0},
                            pollfd{pidfd, POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int status = 0;
  bool reaped = false;
  while (fds[0].fd >= 0 || fds[1].fd >= 0 || !reaped) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      r.timed_out = true;
      break;
    }
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("poll failed");
    }
    for (size_t i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[65536];
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
      }
    }
    if (!reaped && fds[2].revents != 0) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        reaped = true;
        fds[2].fd = -1;  // poll ignores negative descriptors
      }
    }
  }
  if (r.timed_out) {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    if (!reaped) ::waitpid(pid, &status, 0);
  }
  ::close(pidfd);
  for (size_t i = 0; i < 2; ++i) {
    if (fds[i].fd >= 0) ::close(fds[i].fd);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (WIFEXITED(status)) {
    r.exited = true;
    r.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.exited = false;
    r.code = WTERMSIG(status);
  }
  if (r.timed_out) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    ADD_FAILURE() << "child timed out after " << options.timeout.count()
                  << " s and was killed: " << cmd << "\n"
                  << r.describe();
  }
  return r;
}

TempDir::TempDir() {
  std::string tmpl = "/tmp/backstep-e2e-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

RunResult backstep(const std::vector<std::string>& args, const fs::path& xdg_home,
                   const RunOptions& options) {
  std::vector<std::string> argv{BACKSTEP_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOptions o = options;
  o.env["XDG_DATA_HOME"] = xdg_home.string();
  return run(argv, o);
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& p, const std::string& content) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

Recording record_failing(const std::string& program, const std::string& rounds, int max_seed) {
  Recording r;
  r.dir = std::make_unique<TempDir>();
  for (int seed = 1; seed <= max_seed; ++seed) {
    fs::path trace = *r.dir / ("seed-" + std::to_string(seed));
    auto res = backstep({"record", "-o", trace.string(), "--chaos", "--seed", std::to_string(seed),
                         "--", program, rounds},
                        r.dir->path());
    if (res.shell_status() != 0) {
      r.trace = trace;
      r.seed = seed;
      r.status = res.shell_status();
      return r;
    }
  }
  ADD_FAILURE() << program << " did not fail under seeds 1.." << max_seed;
  return r;
}

std::vector<nlohmann::json> dump_json(const fs::path& trace, const fs::path& xdg_home) {
  RunResult r = backstep({"dump", "--json", trace.string()}, xdg_home);
  std::vector<nlohmann::json> out;
  if (!r.exited || r.code != 0) {
    ADD_FAILURE() << "backstep dump --json " << trace << " failed: " << r.describe();
    return out;
  }
  for (const auto& l : lines(r.out)) {
    if (l.empty()) continue;
    try {
      out.push_back(nlohmann::json::parse(l));
    } catch (const std::exception& e) {
      ADD_FAILURE() << "dump --json printed a line that is not JSON (" << e.what() << "): " << l;
    }
  }
  return out;
}

}  // namespace e2e
