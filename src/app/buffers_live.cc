// Live sockets' buffers (see buffers_live.h).
#include "app/buffers_live.h"

namespace sp::app {

Status report_live(Reporter&, const LiveOptions&) {
  return system_error("buffers: live sockets (--port/--pid/--all) are not available in this build yet");
}

}  // namespace sp::app
