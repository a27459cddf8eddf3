#include "gdbserver/rsp_connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/errors.h"

namespace backstep::gdbserver {
namespace {

int hex_digit(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

UniqueFd cloexec_dup(int fd) {
  UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
  if (!copy) throw_errno("fcntl(F_DUPFD_CLOEXEC)");
  return copy;
}

// A packet as it travels: binary-safe escapes for '$', '#', '}' and '*'
// ('*' would read as run-length encoding), then the checksum.
std::string frame(std::string_view payload) {
  std::string body;
  body.reserve(payload.size() + 8);
  for (char c : payload) {
    if (c == '$' || c == '#' || c == '}' || c == '*') {
      body += '}';
      body += static_cast<char>(c ^ 0x20);
    } else {
      body += c;
    }
  }
  uint8_t sum = 0;
  for (char c : body) sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(c));
  return fmt::format("${}#{:02x}", body, sum);
}

}  // namespace

std::string to_hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string hex_le(uint64_t value, size_t size) {
  std::string bytes;
  for (size_t i = 0; i < size; ++i)
    bytes += static_cast<char>(i < 8 ? (value >> (8 * i)) & 0xff : 0);
  return to_hex(bytes);
}

bool from_hex(std::string_view hex, std::string& out) {
  if (hex.size() % 2) return false;
  out.clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = hex_digit(hex[i]);
    int lo = hex_digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi << 4 | lo);
  }
  return true;
}

std::optional<uint64_t> parse_hex(std::string_view text) {
  if (text.empty() || text.size() > 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    int d = hex_digit(c);
    if (d < 0) return std::nullopt;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  return v;
}

RspConnection::RspConnection(UniqueFd in, UniqueFd out)
    : in_(std::move(in)), out_(std::move(out)) {}

RspConnection RspConnection::from_stdio() {
  UniqueFd in = cloexec_dup(STDIN_FILENO);
  UniqueFd out = cloexec_dup(STDOUT_FILENO);
  if (::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) throw_errno("dup2");
  UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (null && ::dup2(null.get(), STDIN_FILENO) < 0) throw_errno("dup2");
  return RspConnection(std::move(in), std::move(out));
}

RspConnection RspConnection::accept_tcp(uint16_t port,
                                        const std::function<void(uint16_t)>& on_listening) {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener) throw_errno("socket");
  int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    throw_errno(fmt::format("bind 127.0.0.1:{}", port));
  }
  if (::listen(listener.get(), 1) < 0) throw_errno("listen");
  socklen_t len = sizeof addr;
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  on_listening(ntohs(addr.sin_port));
  UniqueFd conn;
  do {
    conn.reset(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  } while (!conn && errno == EINTR);
  if (!conn) throw_errno("accept");
  ::setsockopt(conn.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  UniqueFd out = cloexec_dup(conn.get());
  return RspConnection(std::move(conn), std::move(out));
}

int RspConnection::get() {
  if (pos_ == buffered_) {
    ssize_t n;
    do {
      n = ::read(in_.get(), buffer_, sizeof buffer_);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return -1;
    buffered_ = static_cast<size_t>(n);
    pos_ = 0;
  }
  return static_cast<unsigned char>(buffer_[pos_++]);
}

bool RspConnection::wait_for_break(int stop_fd) {
  for (;;) {
    for (size_t i = pos_; i < buffered_; ++i) {
      if (buffer_[i] != '\x03') continue;
      std::memmove(buffer_ + i, buffer_ + i + 1, buffered_ - i - 1);
      --buffered_;
      return true;
    }
    pollfd fds[2] = {{in_.get(), POLLIN, 0}, {stop_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (fds[1].revents != 0) return false;
    if (fds[0].revents == 0) continue;
    // Keep what is unread, at the front, and read more behind it.
    std::memmove(buffer_, buffer_ + pos_, buffered_ - pos_);
    buffered_ -= pos_;
    pos_ = 0;
    if (buffered_ == sizeof buffer_) return false;
    ssize_t n = ::read(in_.get(), buffer_ + buffered_, sizeof buffer_ - buffered_);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // receive() will find the end again
    buffered_ += static_cast<size_t>(n);
  }
}

bool RspConnection::write_all(std::string_view data) {
  while (!data.empty()) {
    // send() on a socket would need MSG_NOSIGNAL; SIGPIPE is caught by the
    // command instead, so a plain write serves pipes and sockets alike.
    ssize_t n = ::write(out_.get(), data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::optional<std::string> RspConnection::receive() {
  for (;;) {
    int c = get();
    if (c < 0) return std::nullopt;
    // Between packets: acks of our replies, a ^C that came after its motion
    // ended (BreakWatcher takes those during one) and noise are skipped.
    if (c != '$') continue;
    std::string payload;
    uint8_t sum = 0;
    bool too_long = false;
    bool escaped = false;
    for (;;) {
      c = get();
      if (c < 0) return std::nullopt;  // gone in the middle of a packet
      if (c == '#') break;
      if (c == '$') {  // a new packet starts: the old one was truncated
        payload.clear();
        sum = 0;
        escaped = false;
        too_long = false;
        continue;
      }
      sum = static_cast<uint8_t>(sum + c);
      if (payload.size() >= kMaxPacket) {
        too_long = true;
        continue;
      }
      if (escaped) {
        payload += static_cast<char>(c ^ 0x20);
        escaped = false;
      } else if (c == '}') {
        escaped = true;
      } else {
        payload += static_cast<char>(c);
      }
    }
    int hi = get();
    int lo = hi < 0 ? -1 : get();
    if (lo < 0) return std::nullopt;
    bool good = hex_digit(hi) >= 0 && hex_digit(lo) >= 0 &&
                (hex_digit(hi) << 4 | hex_digit(lo)) == sum && !too_long;
    if (log_) {
      fmt::print(stderr, "gdbserver: <- {}{}\n", payload.substr(0, 200), good ? "" : " (bad)");
    }
    if (acks_ && !write_all(good ? "+" : "-")) return std::nullopt;
    // A bad packet without acks cannot be asked again: drop it, gdb will
    // time out and retry or give up.
    if (good) return payload;
  }
}

bool RspConnection::send(std::string_view payload) {
  std::string packet = frame(payload);
  if (log_) fmt::print(stderr, "gdbserver: -> {}\n", payload.substr(0, 200));
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (!write_all(packet)) return false;
    if (!acks_) return true;
    for (;;) {
      int c = get();
      if (c < 0) return false;
      if (c == '+') return true;
      if (c == '-') break;  // resend
      if (c == '$') {       // a packet instead of the ack: take it as one
        --pos_;
        return true;
      }
      // Anything else while waiting for an ack (a new packet cannot come
      // before gdb has our reply): ignore it.
    }
  }
  return true;  // gdb keeps refusing the checksum: go on, it will resync
}

}  // namespace backstep::gdbserver
