#include "gdbserver/break_watcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "base/errors.h"

namespace backstep::gdbserver {

BreakWatcher::BreakWatcher(RspConnection& connection) : server_thread_(::pthread_self()) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
  stop_read_.reset(fds[0]);
  stop_write_.reset(fds[1]);
  thread_ = std::thread([this, &connection] { watch(connection); });
}

BreakWatcher::~BreakWatcher() {
  stopping_ = true;
  char byte = 0;
  [[maybe_unused]] ssize_t n = ::write(stop_write_.get(), &byte, 1);
  thread_.join();
}

void BreakWatcher::watch(RspConnection& connection) {
  if (!connection.wait_for_break(stop_read_.get())) return;
  // One signal could land while the server's thread is between two waits,
  // where nothing notices it: repeat until the motion is over.
  while (!stopping_) {
    ::pthread_kill(server_thread_, kSignal);
    pollfd stop{stop_read_.get(), POLLIN, 0};
    ::poll(&stop, 1, 10);
  }
}

}  // namespace backstep::gdbserver
