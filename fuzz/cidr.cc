// Why: CIDR blocks (backlog/buffers filters) go through inet_pton and a
// prefix-length mask; cidr_contains then indexes the address by the prefix.
// Input: the block text, a NUL, then address bytes. A block must contain its
// own network address, and never match an address of the other family.
#include <netinet/in.h>
#include <sys/socket.h>

#include "core/parse.h"
#include "fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view all = sp::fuzz::as_text(data, size);
  size_t nul = all.find('\0');
  std::string_view text = all.substr(0, nul);
  auto block = sp::parse_cidr(text);
  if (!block.ok()) return 0;
  int max = block->family == AF_INET ? 32 : 128;
  FUZZ_CHECK(block->prefix >= 0 && block->prefix <= max);
  FUZZ_CHECK(sp::cidr_contains(*block, block->family, block->addr));
  unsigned char addr[16] = {};
  if (nul != std::string_view::npos) {
    std::string_view bytes = all.substr(nul + 1, 16);
    std::memcpy(addr, bytes.data(), bytes.size());
  }
  (void)sp::cidr_contains(*block, AF_INET, addr);
  (void)sp::cidr_contains(*block, AF_INET6, addr);
  if (block->family == AF_INET6) FUZZ_CHECK(!sp::cidr_contains(*block, AF_INET, addr));
  return 0;
}
