// One GDB remote-serial-protocol connection: packet framing ($...#cs),
// checksums, acknowledgements (+/-, until QStartNoAckMode) and the escapes of
// binary data, over a pair of file descriptors (stdin/stdout for
// `target remote | backstep gdbserver`, or an accepted TCP socket).
//
// It knows nothing of what the packets mean (gdb_server.h does). Whatever the
// peer sends, it neither crashes nor waits forever on something that cannot
// come: garbage between packets is skipped, a bad checksum is answered with
// '-', an oversized packet is dropped, and end of input (even in the middle
// of a packet) is reported as a disconnect.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/unique_fd.h"

namespace backstep::gdbserver {

class RspConnection {
 public:
  // Takes both descriptors (they may be the same socket: pass a dup).
  RspConnection(UniqueFd in, UniqueFd out);

  // Standard input and output, for `target remote | CMD`. The protocol gets
  // private close-on-exec copies; fd 1 then points at stderr and fd 0 at
  // /dev/null, so that nothing else (a stray print, the replayed program)
  // can write into the protocol stream or read from it.
  static RspConnection from_stdio();
  // Listens on 127.0.0.1:port, accepts one connection and stops listening.
  // `on_listening` runs once the socket is bound (port 0: the chosen port).
  static RspConnection accept_tcp(uint16_t port, const std::function<void(uint16_t)>& on_listening);

  // The next packet's payload (unescaped); nullopt once the peer is gone.
  std::optional<std::string> receive();
  // Sends one packet (binary data is escaped here) and, in ack mode, waits
  // for its '+'. False if the peer is gone.
  bool send(std::string_view payload);
  // While a motion runs, from another thread (BreakWatcher): waits until
  // the peer sends ^C (0x03, gdb's interrupt), which it consumes and
  // answers true, or until `stop_fd` becomes readable, the peer goes away,
  // or the buffer fills, which answer false. Other bytes stay buffered for
  // receive(). The caller must not use the connection meanwhile.
  bool wait_for_break(int stop_fd);

  // After QStartNoAckMode's OK has been sent: no more '+'/'-'.
  void disable_acks() { acks_ = false; }

  // Every packet both ways on stderr (--verbose).
  void set_log(bool log) { log_ = log; }

  // Packets larger than this are dropped unread (a peer that never sends
  // '#' cannot make the server grow without bound).
  static constexpr size_t kMaxPacket = 1 << 20;

 private:
  // One byte; -1 at end of input or on an error.
  int get();
  bool write_all(std::string_view data);

  UniqueFd in_;
  UniqueFd out_;
  bool acks_ = true;
  bool log_ = false;
  char buffer_[4096];
  size_t buffered_ = 0;
  size_t pos_ = 0;
};

// The protocol's encodings, shared with the packet handlers.
std::string to_hex(std::string_view bytes);
// Little-endian bytes of `value`, `size` of them, as hex.
std::string hex_le(uint64_t value, size_t size);
// False on an odd length or a non-hex digit.
bool from_hex(std::string_view hex, std::string& out);
std::optional<uint64_t> parse_hex(std::string_view text);

}  // namespace backstep::gdbserver
