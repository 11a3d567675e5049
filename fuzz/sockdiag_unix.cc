// Why: unix_diag replies carry the socket name (sun_path bytes, abstract
// names with NULs), RQLEN, UID, PEER and MEMINFO attributes, any of them
// missing, short or lying about their length; the name ends up in reports.
#include "fuzz/sockdiag_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sp::fuzz::run_sockdiag(data, size, sp::Transport::Unix);
  return 0;
}
