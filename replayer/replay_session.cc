#include "replayer/replay_session.h"

#include "replayer/replay_engine.h"

namespace backstep::replayer {

ReplayResult replay(const trace::Trace& trace, const ReplayOptions& options) {
  ReplayEngine engine(trace, options.echo_output);
  return engine.run(options);
}

}  // namespace backstep::replayer
