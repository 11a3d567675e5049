// Socket inode -> owning processes by walking /proc/PID/fd (see owners.h).
#include "core/owners.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

namespace sp {
namespace {

std::optional<int> pid_of(const char* name) {
  int pid = 0;
  const char* end = name + std::char_traits<char>::length(name);
  auto [p, ec] = std::from_chars(name, end, pid);
  if (ec != std::errc() || p != end || pid <= 0) return std::nullopt;
  return pid;
}

std::vector<int> list_pids(const std::string& root) {
  std::vector<int> pids;
  DIR* d = ::opendir(root.c_str());
  if (d == nullptr) return pids;
  while (dirent* e = ::readdir(d)) {
    if (auto pid = pid_of(e->d_name)) pids.push_back(*pid);
  }
  ::closedir(d);
  std::sort(pids.begin(), pids.end());
  return pids;
}

std::string command_of(const ProcFs& proc, int pid) {
  auto comm = proc.read(fmt::format("{}/comm", pid));
  if (!comm.ok()) return "";
  std::string s = *comm;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

// The socket inodes among PID's fds; the errno if the directory is unreadable.
int socket_inodes(const std::string& fd_dir, std::vector<uint64_t>* out) {
  DIR* d = ::opendir(fd_dir.c_str());
  if (d == nullptr) return errno;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char link[64];
    std::string path = fd_dir + "/" + e->d_name;
    ssize_t n = ::readlink(path.c_str(), link, sizeof link);
    if (n <= 0 || static_cast<size_t>(n) >= sizeof link) continue;
    if (auto ino = parse_socket_link(std::string_view(link, static_cast<size_t>(n)))) out->push_back(*ino);
  }
  ::closedir(d);
  return 0;
}

}  // namespace

std::optional<uint64_t> parse_socket_link(std::string_view link) {
  constexpr std::string_view prefix = "socket:[";
  if (link.size() <= prefix.size() + 1 || link.substr(0, prefix.size()) != prefix || link.back() != ']') {
    return std::nullopt;
  }
  std::string_view digits = link.substr(prefix.size(), link.size() - prefix.size() - 1);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || p != digits.data() + digits.size()) return std::nullopt;
  return v;
}

OwnerScan scan_socket_owners(const ProcFs& proc, std::optional<int> only_pid) {
  OwnerScan scan;
  std::vector<int> pids = only_pid ? std::vector<int>{*only_pid} : list_pids(proc.root());
  for (int pid : pids) {
    std::vector<uint64_t> inodes;
    int err = socket_inodes(fmt::format("{}/{}/fd", proc.root(), pid), &inodes);
    if (err == EACCES || err == EPERM) ++scan.unreadable;  // ENOENT: the process just exited
    if (err != 0) continue;
    if (inodes.empty()) continue;
    std::string command = command_of(proc, pid);
    for (uint64_t ino : inodes) {
      auto& owners = scan.by_inode[ino];
      if (owners.empty() || owners.back().pid != pid) owners.push_back({pid, command});
    }
  }
  return scan;
}

const SocketOwner* first_owner(const OwnerScan& scan, uint64_t inode) {
  auto it = scan.by_inode.find(inode);
  if (it == scan.by_inode.end() || it->second.empty()) return nullptr;
  return &it->second.front();
}

}  // namespace sp
