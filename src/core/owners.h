// Which process owns a socket: the kernel reports a socket's inode, and
// /proc/PID/fd/N links read "socket:[INODE]", so we walk them (what ss -p
// does). Everything goes through a ProcFs root, the replay seam: tests build
// a fake tree. Other users' fds are unreadable without privileges; the scan
// counts them instead of failing, so reports can say "not visible".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/procfs.h"

namespace sp {

struct SocketOwner {
  int pid = 0;
  std::string command;  // /proc/PID/comm
};

struct OwnerScan {
  // inode -> owners, lowest pid first (a socket can be shared after fork).
  std::map<uint64_t, std::vector<SocketOwner>> by_inode;
  int unreadable = 0;  // processes whose fd directory we could not read
};

// "socket:[12345]" -> 12345; nullopt for any other link text.
std::optional<uint64_t> parse_socket_link(std::string_view link);

// Walks ROOT/PID/fd for every PID (or only `only_pid`).
OwnerScan scan_socket_owners(const ProcFs& proc, std::optional<int> only_pid = std::nullopt);

// The lowest-pid owner of inode, or nullptr.
const SocketOwner* first_owner(const OwnerScan& scan, uint64_t inode);

}  // namespace sp
