// `backlog --capture DIR` (hidden): the raw sock_diag dumps (tcp4, tcp6,
// udp4, udp6, unix; all states, skmem) and /proc/net/netstat, saved as
// fixtures for the parser tests (tests/data/capture*.sh) and for bug reports.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <fstream>

#include <fmt/format.h>

#include "app/backlog_view.h"
#include "core/procfs.h"

namespace sp::app {
namespace {

std::string kernel_release() {
  utsname u = {};
  if (::uname(&u) != 0) return "unknown kernel";
  return fmt::format("{} {}", u.sysname, u.release);
}

Status write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) return system_error(fmt::format("write {}: {}", path, errno_text(errno)));
  return {};
}

}  // namespace

// One fixture per dump: tcp4, tcp6, udp4, udp6, unix; plus netstat.
Status capture(const std::string& dir) {
  ::mkdir(dir.c_str(), 0755);
  struct Item {
    const char* name;
    Transport transport;
    int family;
  };
  const Item items[] = {{"tcp4", Transport::Tcp, AF_INET},  {"tcp6", Transport::Tcp, AF_INET6},
                        {"udp4", Transport::Udp, AF_INET},  {"udp6", Transport::Udp, AF_INET6},
                        {"unix", Transport::Unix, AF_UNIX}};
  for (const Item& it : items) {
    DumpRequest req;
    req.transport = it.transport;
    auto raw = dump_raw(req, it.family);
    if (!raw.ok()) return raw.take_error();
    std::string comment = fmt::format("sock_diag {} dump, all states, skmem; {}", it.name, kernel_release());
    if (Status st = write_file(fmt::format("{}/{}.hex", dir, it.name), dump_to_hex(*raw, comment)); !st) return st;
  }
  auto netstat = ProcFs().read("net/netstat");
  if (!netstat.ok()) return netstat.take_error();
  return write_file(dir + "/netstat", *netstat);
}


}  // namespace sp::app
