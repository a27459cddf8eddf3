// The gdb remote protocol: packet framing and the command handlers.
//
// The input is what gdb would send (acks, `$payload#cs` packets, garbage,
// ^C), read by an RspConnection from a file that stands in for the socket;
// every packet goes to GdbServer::handle as in GdbServer::serve, and the
// replies go out through the connection (to /dev/null), acks and escapes
// included. The server drives a real replay of a small recording, named by
// BACKSTEP_FUZZ_TRACE (the fuzz tests record one with the main build), so
// the handlers do everything they do for gdb: registers, memory, break and
// watch points, motions both ways, vFile and qXfer reads from the trace.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>

#include "gdbserver/gdb_server.h"
#include "gdbserver/rsp_connection.h"
#include "replayer/time_travel.h"
#include "trace/trace_reader.h"

using namespace backstep;

namespace {

struct Replay {
  trace::Trace trace;
  replayer::TimeTravel tt;
  explicit Replay(const char* dir) : trace(trace::Trace::load(dir)), tt(trace) {}
};

std::unique_ptr<Replay> replay;

// Motions replay the program: a few per input keep runs fast.
constexpr int kMaxMotions = 4;

bool is_motion(const std::string& p) {
  if (p.empty()) return false;
  return p[0] == 'c' || p[0] == 'C' || p[0] == 's' || p[0] == 'S' || p == "bc" || p == "bs" ||
         p.rfind("vCont;", 0) == 0 || p.rfind("qRcmd", 0) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("BACKSTEP_FUZZ_TRACE");
  if (!dir) {
    fprintf(stderr, "gdb_protocol_fuzzer: set BACKSTEP_FUZZ_TRACE to a trace directory\n");
    std::exit(2);
  }
  replay = std::make_unique<Replay>(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int in = ::memfd_create("gdb-input", MFD_CLOEXEC);
  if (in < 0 || ::write(in, data, size) != static_cast<ssize_t>(size) ||
      ::lseek(in, 0, SEEK_SET) != 0) {
    std::abort();
  }
  gdbserver::RspConnection connection(UniqueFd(in),
                                      UniqueFd(::open("/dev/null", O_WRONLY | O_CLOEXEC)));
  replay->tt.goto_start();
  gdbserver::GdbServer server(replay->tt, connection,
                              [](const std::string& line) { return "monitor: " + line + "\n"; });
  int motions = 0;
  while (!server.finished()) {
    std::optional<std::string> packet = connection.receive();
    if (!packet) break;
    if (is_motion(*packet) && ++motions > kMaxMotions) continue;
    std::optional<std::string> reply;
    try {
      reply = server.handle(*packet);
    } catch (const std::exception&) {
      reply = "E01";  // what serve() answers
    }
    if (reply && !connection.send(*reply)) break;
    if (*packet == "QStartNoAckMode") connection.disable_acks();
  }
  return 0;
}
