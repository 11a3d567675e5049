// Why: addresses reach sockprobe two ways: typed by the user (a host, maybe
// in [brackets], a PORT, a Unix path or @abstract name) and handed back by
// the kernel (accept, recvfrom, getpeername: any family and length, an
// abstract Unix name with NULs in it). Formatting must stay inside the
// sockaddr whatever its length. Input: selector byte, then text or bytes.
// Only numeric hosts (inet_pton accepts them) reach resolve(), so the fuzzer
// never asks DNS.
#include <arpa/inet.h>
#include <sys/un.h>

#include <cstddef>
#include <string>

#include "core/address.h"
#include "core/parse.h"
#include "fuzz/fuzz.h"

namespace {

void format_all(const sp::Endpoint& ep) {
  (void)sp::format_host(ep);
  (void)sp::format_endpoint(ep);
  (void)sp::format_target(ep, "udp");
  (void)sp::endpoint_port(ep);
  (void)sp::endpoint_address_bytes(ep);
}

// A sockaddr as the kernel could return it: family, length, bytes.
void kernel_sockaddr(sp::fuzz::Bytes& in) {
  sp::Endpoint ep;
  static const int families[] = {AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC};
  int family = families[in.byte() % 4];
  // The kernel never reports more than the sockaddr_storage it was given.
  ep.len = static_cast<socklen_t>(in.byte() % (sizeof ep.addr + 1));
  std::string_view bytes = in.take(sizeof ep.addr);
  std::memcpy(&ep.addr, bytes.data(), bytes.size());
  ep.addr.ss_family = static_cast<sa_family_t>(family);
  format_all(ep);
}

void user_unix_path(std::string_view text) {
  std::string path(text);
  auto ep = sp::unix_endpoint(path);
  if (!ep.ok()) return;
  format_all(*ep);
  // A path without NULs names itself back; "@x" comes back as "@x".
  if (path.find('\0') == std::string::npos) FUZZ_CHECK(sp::format_host(*ep) == path);
}

void user_host_port(sp::fuzz::Bytes& in) {
  auto port = sp::parse_port(in.take(in.byte() % 8), true);
  std::string host = sp::strip_brackets(std::string(in.rest()));
  unsigned char buf[16];
  bool numeric = host.find('\0') == std::string::npos &&
                 (inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1);
  if (!numeric || !port.ok()) return;
  auto eps = sp::resolve(host, *port, sp::Transport::Udp, AF_UNSPEC, false);
  if (!eps.ok()) return;
  for (const auto& ep : *eps) {
    format_all(ep);
    FUZZ_CHECK(sp::endpoint_port(ep) == *port);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sp::fuzz::Bytes in(data, size);
  switch (in.byte() % 3) {
    case 0: kernel_sockaddr(in); break;
    case 1: user_unix_path(in.rest()); break;
    default: user_host_port(in); break;
  }
  return 0;
}
