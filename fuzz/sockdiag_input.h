// The sock_diag harnesses' shared input format and checks (sockdiag_inet.cc,
// sockdiag_unix.cc). Input: one flags byte, a 16-bit split offset, then the
// reply bytes. Flag bit 0 patches the first message's nlmsg_len to the
// datagram size, so mutations reach the attributes (and their lying
// nla_len) instead of stopping at the header check; bit 1 cuts the reply
// into two datagrams at the split offset, as a dump spread over recv()s.
#pragma once

#include <linux/netlink.h>
#include <sys/socket.h>

#include <vector>

#include "core/sockdiag.h"
#include "fuzz/fuzz.h"

namespace sp::fuzz {

inline void check_sockets(const std::vector<SockInfo>& socks, Transport requested) {
  for (const SockInfo& s : socks) {
    if (requested == Transport::Unix) {
      FUZZ_CHECK(s.family == AF_UNIX && s.transport == Transport::Unix);
    } else {
      FUZZ_CHECK(s.family == AF_INET || s.family == AF_INET6);
      FUZZ_CHECK(!s.local_address.empty() && !s.remote_address.empty());
    }
    (void)state_name(s.state);
  }
}

inline void run_sockdiag(const uint8_t* data, size_t size, Transport transport) {
  Bytes in(data, size);
  uint8_t flags = in.byte();
  size_t split = in.u16();
  std::string_view body = in.rest();
  std::vector<uint8_t> whole(body.begin(), body.end());
  if ((flags & 1) && whole.size() >= sizeof(nlmsghdr)) {
    auto len = static_cast<uint32_t>(whole.size());
    std::memcpy(whole.data(), &len, sizeof len);  // nlmsg_len is the first field
  }
  NetlinkDump dump;
  if ((flags & 2) && split < whole.size()) {
    dump.emplace_back(whole.begin(), whole.begin() + static_cast<long>(split));
    dump.emplace_back(whole.begin() + static_cast<long>(split), whole.end());
  } else {
    dump.push_back(std::move(whole));
  }
  auto socks = parse_dump(dump, transport);
  if (socks.ok()) check_sockets(*socks, transport);
  // The fixture format round-trips whatever the bytes.
  auto back = dump_from_hex(dump_to_hex(dump, "fuzz"));
  FUZZ_CHECK(back.ok());
  size_t nonempty = 0;
  for (const auto& d : dump) nonempty += d.empty() ? 0 : 1;
  FUZZ_CHECK(back->size() == nonempty);
}

}  // namespace sp::fuzz
