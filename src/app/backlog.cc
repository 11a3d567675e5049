// `sockprobe backlog`: the listen backlog explained — limits, overflow
// counters and every listener's accept queue; --watch for deltas, --check for
// scripts, and `backlog test` for the experiment. A hidden --capture DIR saves
// raw sock_diag dumps and /proc/net/netstat for fixtures and bug reports.
#include <sys/stat.h>
#include <sys/utsname.h>

#include <fstream>

#include <fmt/format.h>

#include "app/common.h"
#include "core/procfs.h"
#include "core/sockdiag.h"

namespace sp::app {
namespace {

struct BacklogFlags {
  std::string capture_dir;
};

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

Status run_backlog(const BacklogFlags& f, const GlobalOptions& /*g*/) {
  if (!f.capture_dir.empty()) return capture(f.capture_dir);
  return {};
}

}  // namespace

Command add_backlog(CLI::App& app, const GlobalOptions& g) {
  auto f = std::make_shared<BacklogFlags>();
  CLI::App* sub = app.add_subcommand("backlog", "Listen backlog: limits, overflow counters, accept-queue fill");
  sub->add_option("--capture", f->capture_dir, "Save raw sock_diag dumps and /proc/net/netstat into DIR")
      ->group("");
  return {sub, [f, &g] { return run_backlog(*f, g); }};
}

}  // namespace sp::app
