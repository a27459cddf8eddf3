// gdb's Ctrl-C during a long `continue`: gdb sends a lone 0x03 byte and
// expects the target to stop and say so. The server's thread is busy
// replaying then, so a BreakWatcher, alive for the length of one motion,
// waits for that byte on a thread of its own and interrupts the server's
// thread the way a terminal's Ctrl-C would (base/interrupt.h): the motion
// throws Interrupted out of its next wait, and the server reports SIGINT.
#pragma once

#include <pthread.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "base/unique_fd.h"
#include "gdbserver/rsp_connection.h"

namespace backstep::gdbserver {

class BreakWatcher {
 public:
  // The signal sent to the server's thread; its handler must request an
  // interrupt (install_interrupt_handler). Ignored by default, so a stray
  // one harms nothing.
  static constexpr int kSignal = SIGURG;

  // Watches `connection` for ^C from now on, for the calling thread.
  explicit BreakWatcher(RspConnection& connection);
  // Stops watching; the connection is the caller's again.
  ~BreakWatcher();
  BreakWatcher(const BreakWatcher&) = delete;
  BreakWatcher& operator=(const BreakWatcher&) = delete;

 private:
  void watch(RspConnection& connection);

  pthread_t server_thread_;
  UniqueFd stop_read_;
  UniqueFd stop_write_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace backstep::gdbserver
