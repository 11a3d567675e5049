// Shared flag handling for the subcommand front-ends (see common.h).
#include "app/common.h"

#include <unistd.h>

#include <fmt/format.h>

namespace sp::app {

void add_socket_flags(CLI::App* sub, SocketFlags* f, unsigned which) {
  sub->add_flag("-4", f->ipv4, "IPv4 only");
  sub->add_flag("-6", f->ipv6, "IPv6 only");
  if (which & kFlagUdp) sub->add_flag("-u,--udp", f->udp, "Use UDP instead of TCP");
  if (which & kFlagUnix) {
    sub->add_option("-U,--unix", f->unix_path, "Unix socket PATH instead of HOST PORT (@name: abstract)")
        ->type_name("PATH");
  }
  if (which & kFlagBuffers) {
    sub->add_option("-I,--rcvbuf", f->rcvbuf, "Request SO_RCVBUF of SIZE (before connect/listen)")
        ->type_name("SIZE");
    sub->add_option("-O,--sndbuf", f->sndbuf, "Request SO_SNDBUF of SIZE")->type_name("SIZE");
  }
  if (which & kFlagSource) {
    sub->add_option("-s,--source", f->source, "Local address to send from")->type_name("ADDR");
    sub->add_option("-p,--source-port", f->source_port, "Local port to send from")->type_name("PORT");
  }
}

Result<std::optional<uint64_t>> size_flag(const char* flag, const std::string& text) {
  if (text.empty()) return std::optional<uint64_t>();
  auto v = parse_size(text);
  if (!v.ok()) return usage_error(fmt::format("{}: {}", flag, v.error().message));
  return std::optional<uint64_t>(*v);
}

Result<std::optional<Duration>> duration_flag(const char* flag, const std::string& text) {
  if (text.empty()) return std::optional<Duration>();
  auto v = parse_duration(text);
  if (!v.ok()) return usage_error(fmt::format("{}: {}", flag, v.error().message));
  return std::optional<Duration>(*v);
}

Result<std::optional<uint16_t>> port_flag(const char* flag, const std::string& text) {
  if (text.empty()) return std::optional<uint16_t>();
  auto v = parse_port(text);
  if (!v.ok()) return usage_error(fmt::format("{}: {}", flag, v.error().message));
  return std::optional<uint16_t>(*v);
}

Result<std::optional<long long>> count_flag(const char* flag, const std::string& text, long long min,
                                            long long max) {
  if (text.empty()) return std::optional<long long>();
  auto v = parse_count(text, min, max);
  if (!v.ok()) return usage_error(fmt::format("{}: {}", flag, v.error().message));
  return std::optional<long long>(*v);
}

Result<std::vector<Cidr>> cidr_flags(const char* flag, const std::vector<std::string>& texts) {
  std::vector<Cidr> out;
  for (const auto& t : texts) {
    auto c = parse_cidr(t);
    if (!c.ok()) return usage_error(fmt::format("{}: {}", flag, c.error().message));
    out.push_back(*c);
  }
  return out;
}

Result<SocketConfig> socket_config(const SocketFlags& f, const GlobalOptions& g) {
  SocketConfig cfg;
  cfg.transport = f.udp ? Transport::Udp : Transport::Tcp;
  bool v4 = g.ipv4 || f.ipv4, v6 = g.ipv6 || f.ipv6;
  if (v4 && v6) return usage_error("-4 and -6 exclude each other");
  cfg.family = v4 ? AF_INET : v6 ? AF_INET6 : AF_UNSPEC;
  auto rcv = size_flag("--rcvbuf", f.rcvbuf);
  if (!rcv.ok()) return rcv.take_error();
  auto snd = size_flag("--sndbuf", f.sndbuf);
  if (!snd.ok()) return snd.take_error();
  cfg.rcvbuf = *rcv;
  cfg.sndbuf = *snd;
  cfg.source_host = f.source;
  auto source_port = port_flag("--source-port", f.source_port);
  if (!source_port.ok()) return source_port.take_error();
  cfg.source_port = *source_port;
  if (!f.unix_path.empty() && (!f.source.empty() || !f.source_port.empty())) {
    return usage_error("--unix cannot be combined with --source/--source-port");
  }
  return cfg;
}

Reporter make_reporter(const GlobalOptions& g, std::FILE* stream) {
  ReportOptions o;
  o.json = g.json;
  o.verbosity = g.verbose;
  o.quiet = g.quiet;
  o.color = resolve_color(g.color, fileno(stream));
  o.stderr_color = resolve_color(g.color, STDERR_FILENO);
  return Reporter(o, stream);
}

}  // namespace sp::app
