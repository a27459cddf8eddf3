#include "recorder/recorder.h"

#include <fstream>
#include <string>

#include "recorder/session.h"

namespace backstep::recorder {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "unknown";
}

RecordResult record(const RecordOptions& options) {
  Session session(options);
  return session.run();
}

}  // namespace backstep::recorder
