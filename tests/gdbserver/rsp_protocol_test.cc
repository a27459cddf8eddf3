// Raw protocol bytes over the pipe `target remote |` uses: malformed and
// unsupported packets get answers, not a crash; a peer that disappears in
// the middle of a packet ends the server cleanly and quickly.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include "gdbserver_fixture.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string packet(const std::string& payload) {
  unsigned sum = 0;
  for (unsigned char c : payload) sum += c;
  char cs[3];
  std::snprintf(cs, sizeof cs, "%02x", sum & 0xff);
  return "$" + payload + "#" + cs;
}

std::string to_hex(const std::string& s) {
  std::string out;
  char b[3];
  for (unsigned char c : s) {
    std::snprintf(b, sizeof b, "%02x", c);
    out += b;
  }
  return out;
}

// `backstep gdbserver TRACE` with its stdin and stdout on pipes.
class ServerProcess {
 public:
  // With `port`, `--port PORT`: the protocol then goes over TCP (see
  // connect_tcp) and stdout is the server's stderr.
  explicit ServerProcess(const gdbtest::Recording& r, std::optional<int> port = std::nullopt) {
    int to[2], from[2];
    if (::pipe2(to, O_CLOEXEC) || ::pipe2(from, O_CLOEXEC)) throw std::runtime_error("pipe");
    std::string xdg = "XDG_DATA_HOME=" + r.dir.string();
    std::string trace = r.trace.string();
    std::string port_arg = port ? std::to_string(*port) : "";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      ::dup2(to[0], 0);
      ::dup2(from[1], port ? 2 : 1);
      ::putenv(xdg.data());
      if (port) {
        ::execl(BACKSTEP_BIN, BACKSTEP_BIN, "gdbserver", "--port", port_arg.c_str(), trace.c_str(),
                nullptr);
      } else {
        ::execl(BACKSTEP_BIN, BACKSTEP_BIN, "gdbserver", trace.c_str(), nullptr);
      }
      ::_exit(127);
    }
    ::close(to[0]);
    ::close(from[1]);
    in_ = to[1];
    out_ = from[0];
  }

  // For --port: reads the port the server announces on stderr, connects,
  // and speaks the protocol over the socket from then on.
  bool connect_tcp() {
    std::string said;
    char c;
    auto deadline = Clock::now() + 60s;
    while (said.find('\n') == std::string::npos && Clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 1000) > 0 && ::read(out_, &c, 1) == 1) said += c;
    }
    size_t at = said.find("127.0.0.1:");
    if (at == std::string::npos) return false;
    int port = std::stoi(said.substr(at + 10));
    int sock = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
    close_input();
    ::close(out_);
    in_ = sock;
    out_ = ::dup(sock);
    return true;
  }
  ~ServerProcess() {
    close_input();
    if (out_ >= 0) ::close(out_);
    if (pid_ > 0 && !reaped_) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  void send(const std::string& bytes) {
    ASSERT_EQ(::write(in_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  void close_input() {
    if (in_ >= 0) ::shutdown(in_, SHUT_WR);  // a socket: its dup stays open for reading
    if (in_ >= 0) ::close(in_);
    in_ = -1;
  }

  // The next ack ("+", "-") or packet ("$payload"), "" on timeout or EOF.
  std::string next(std::chrono::seconds timeout = 60s) {
    auto deadline = Clock::now() + timeout;
    auto byte = [&]() -> int {
      if (pos_ < buf_.size()) return static_cast<unsigned char>(buf_[pos_++]);
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return -1;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return -1;
      char b[4096];
      ssize_t n = ::read(out_, b, sizeof b);
      if (n <= 0) return -1;
      buf_.assign(b, static_cast<size_t>(n));
      pos_ = 1;
      return static_cast<unsigned char>(buf_[0]);
    };
    for (;;) {
      int c = byte();
      if (c < 0) return "";
      if (c == '+' || c == '-') return std::string(1, static_cast<char>(c));
      if (c != '$') continue;
      std::string payload = "$";
      while ((c = byte()) >= 0 && c != '#') payload += static_cast<char>(c);
      if (byte() < 0 || byte() < 0) return "";
      return payload;
    }
  }
  // Sends a packet and returns the reply's payload (after the ack, if
  // `acks`). Console output packets (O...) are skipped.
  std::string ask(const std::string& payload, bool acks = true) {
    send(packet(payload));
    if (acks) {
      EXPECT_EQ(next(), "+") << payload;
    }
    for (;;) {
      std::string reply = next();
      if (reply.empty()) return "<nothing>";
      if (acks) send("+");
      if (reply.rfind("$O", 0) == 0 && reply != "$OK") continue;
      return reply.substr(1);
    }
  }

  // The exit status, or -1 if it is still running after `timeout`.
  int wait_exit(std::chrono::seconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      ::usleep(20000);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  bool reaped_ = false;
  std::string buf_;
  size_t pos_ = 0;
};

class RspProtocol : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(gdbtest::growth_panic().trace.empty()); }
};

TEST_F(RspProtocol, AnswersMalformedAndUnsupportedPacketsAndDetaches) {
  ServerProcess s(gdbtest::growth_panic());
  s.send("+");
  std::string features = s.ask("qSupported:multiprocess+;swbreak+;hwbreak+");
  EXPECT_NE(features.find("ReverseStep+"), std::string::npos) << features;
  EXPECT_NE(features.find("ReverseContinue+"), std::string::npos) << features;
  EXPECT_NE(features.find("qXfer:features:read+"), std::string::npos) << features;

  // A wrong checksum is refused with '-', and the stream resynchronises.
  s.send("$g#00");
  EXPECT_EQ(s.next(), "-");
  // Noise between packets is skipped.
  s.send("garbage\x03");
  EXPECT_EQ(s.ask("qNoSuchPacket"), "");  // unsupported: the empty reply
  EXPECT_EQ(s.ask("vNoSuchPacket;1"), "");
  EXPECT_EQ(s.ask("m zz,yy"), "E01");
  EXPECT_EQ(s.ask("m"), "E01");
  EXPECT_EQ(s.ask("Hgzz"), "E01");
  EXPECT_EQ(s.ask("H"), "E01");
  EXPECT_EQ(s.ask("p999"), "E01");
  EXPECT_EQ(s.ask("Z9,0,0"), "");
  EXPECT_EQ(s.ask("Z0,zz"), "E01");
  EXPECT_EQ(s.ask("vCont;x"), "E01");
  EXPECT_EQ(s.ask("qRcmd,zzz"), "E01");
  EXPECT_EQ(s.ask("qXfer:features:read:other.xml:0,100"), "E00");
  EXPECT_EQ(s.ask("qXfer:features:read:target.xml:nonsense"), "E01");
  EXPECT_EQ(s.ask(""), "");
  // The recording cannot be written to.
  EXPECT_EQ(s.ask("M1000,1:00"), "E01");
  EXPECT_EQ(s.ask("G00"), "E01");
  EXPECT_EQ(s.ask("P10=0000000000000000"), "OK");

  // And it still serves.
  EXPECT_EQ(s.ask("?").rfind("T05thread:p", 0), 0u);
  std::string xml = s.ask("qXfer:features:read:target.xml:0,3fff");
  EXPECT_EQ(xml.rfind("l<?xml", 0), 0u) << xml.substr(0, 80);
  EXPECT_NE(xml.find("<architecture>i386:x86-64</architecture>"), std::string::npos);
  EXPECT_NE(xml.find("orig_rax"), std::string::npos);
  EXPECT_EQ(s.ask("qXfer:auxv:read::0,1000").rfind("l", 0), 0u);
  EXPECT_EQ(s.ask("qAttached"), "1");
  EXPECT_EQ(s.ask("qRcmd," + to_hex("when")), "OK");
  // Without acks from here on.
  EXPECT_EQ(s.ask("QStartNoAckMode"), "OK");
  EXPECT_EQ(s.ask("qC", false).rfind("QCp", 0), 0u);
  EXPECT_EQ(s.ask("D", false), "OK");
  EXPECT_EQ(s.wait_exit(30s), 0);
}

TEST_F(RspProtocol, ADisconnectInTheMiddleOfAPacketEndsTheServer) {
  ServerProcess s(gdbtest::growth_panic());
  s.send("+");
  EXPECT_NE(s.ask("qSupported").find("PacketSize"), std::string::npos);
  s.send("$qXfer:features:read:targ");
  s.close_input();
  EXPECT_EQ(s.wait_exit(30s), 0);
}

TEST_F(RspProtocol, ServesOverTcp) {
  ServerProcess s(gdbtest::growth_panic(), 0);  // port 0: any free port
  ASSERT_TRUE(s.connect_tcp());
  s.send("+");
  EXPECT_NE(s.ask("qSupported").find("ReverseContinue+"), std::string::npos);
  EXPECT_EQ(s.ask("?").rfind("T05thread:p", 0), 0u);
  s.close_input();  // gdb gone: the server ends
  EXPECT_EQ(s.wait_exit(30s), 0);
}

TEST_F(RspProtocol, KillEndsTheServer) {
  ServerProcess s(gdbtest::growth_panic());
  s.send("+" + packet("k"));
  EXPECT_EQ(s.wait_exit(30s), 0);
}

// The RSP binary escape: '}' then the byte XOR 0x20.
std::string unescape(const std::string& data) {
  std::string out;
  for (size_t i = 0; i < data.size(); ++i) {
    out += data[i] == '}' && i + 1 < data.size() ? static_cast<char>(data[++i] ^ 0x20) : data[i];
  }
  return out;
}

// gdb's File-I/O: the program and its libraries come from the trace's
// copies (vFile), the library list from the program's link map.
TEST_F(RspProtocol, ServesTheProgramsFilesFromTheTrace) {
  ServerProcess s(gdbtest::growth_panic());
  s.send("+");
  std::string features = s.ask("qSupported:multiprocess+");
  EXPECT_NE(features.find("qXfer:libraries-svr4:read+"), std::string::npos) << features;
  EXPECT_EQ(s.ask("QStartNoAckMode"), "OK");

  // Before the dynamic loader ran: no library yet.
  EXPECT_EQ(s.ask("qXfer:libraries-svr4:read::0,fff", false),
            "l<library-list-svr4 version=\"1.0\"/>");

  std::string exec_file = s.ask("qXfer:exec-file:read::0,fff", false);
  ASSERT_EQ(exec_file.rfind("l/", 0), 0u) << exec_file;
  std::string program = exec_file.substr(1);
  EXPECT_EQ(s.ask("vFile:setfs:0", false), "F0");
  EXPECT_EQ(s.ask("vFile:open:" + to_hex(program) + ",0,0", false), "F1");
  EXPECT_EQ(s.ask("vFile:pread:1,4,0", false),
            "F4;\x7f"
            "ELF");
  std::string stat = s.ask("vFile:fstat:1", false);
  ASSERT_EQ(stat.rfind("F40;", 0), 0u) << stat;
  std::string st = unescape(stat.substr(4));
  ASSERT_EQ(st.size(), 64u);
  uint64_t size = 0;
  for (int i = 0; i < 8; ++i) size = size << 8 | static_cast<unsigned char>(st[28 + i]);
  EXPECT_EQ(size, e2e::fs::file_size(program));
  EXPECT_EQ(s.ask("vFile:close:1", false), "F0");
  EXPECT_EQ(s.ask("vFile:close:1", false), "F-1,9");                                   // EBADF
  EXPECT_EQ(s.ask("vFile:pread:1,4,0", false), "F-1,9");                               // EBADF
  EXPECT_EQ(s.ask("vFile:open:" + to_hex("/no/such/file") + ",0,0", false), "F-1,2");  // ENOENT
  EXPECT_EQ(s.ask("vFile:open:" + to_hex(program) + ",1,0", false), "F-1,1e");         // EROFS
  EXPECT_EQ(s.ask("vFile:unlink:" + to_hex(program), false), "F-1,1e");
  EXPECT_EQ(s.ask("vFile:readlink:" + to_hex(program), false), "");  // not supported

  // At the recorded fatal signal every library is loaded; each is served
  // under the name the dynamic loader gave it.
  EXPECT_EQ(s.ask("vCont;c", false).rfind("T06", 0), 0u);  // SIGABRT
  std::string list = s.ask("qXfer:libraries-svr4:read::0,3fff", false);
  ASSERT_EQ(list.rfind("l<library-list-svr4 version=\"1.0\" main-lm=\"0x", 0), 0u) << list;
  size_t libc = list.find("libc.so.6\"");
  ASSERT_NE(libc, std::string::npos) << list;
  size_t name = list.rfind("name=\"", libc) + 6;
  std::string libc_name = list.substr(name, libc + 9 - name);
  EXPECT_EQ(libc_name.rfind("/", 0), 0u) << libc_name;
  EXPECT_EQ(s.ask("vFile:open:" + to_hex(libc_name) + ",0,0", false), "F2");
  EXPECT_EQ(s.ask("vFile:pread:2,4,0", false),
            "F4;\x7f"
            "ELF");
  EXPECT_EQ(s.ask("D", false), "OK");
  EXPECT_EQ(s.wait_exit(30s), 0);
}

}  // namespace
