// Why: inet_diag replies (TCP and UDP, IPv4 and IPv6) are parsed by
// `backlog` and `buffers` from the kernel's bytes: messages and attributes
// of any length, a kernel newer or older than our headers, a truncated
// datagram. Nothing may be read past the datagram. Selector bit 2 picks UDP.
#include "fuzz/sockdiag_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sp::Transport t = size > 0 && (data[0] & 4) ? sp::Transport::Udp : sp::Transport::Tcp;
  sp::fuzz::run_sockdiag(data, size, t);
  return 0;
}
