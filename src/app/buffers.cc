// `sockprobe buffers`: answers "I set 4000 and got 8000", "iperf3 -w 16M did
// nothing" and "stuck at 30 MB/s over 50 ms" with the kernel's own numbers.
// Limits come from /proc/sys, values from real sockets (bufprobe), the
// reasons from the rules in core/bufrules.h, and live sockets from
// NETLINK_SOCK_DIAG. This file only converts flags and lays out the report.
#include <sys/socket.h>

#include <algorithm>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "app/common.h"
#include "app/buffers_live.h"
#include "core/bufprobe.h"
#include "core/bufrules.h"
#include "core/fields.h"

namespace sp::app {
namespace {

struct BuffersFlags {
  SocketFlags sock;  // -I/--rcvbuf, -O/--sndbuf
  std::string set, bdp, rtt, port, pid, watch, count;
  bool force = false, all = false;
};

struct BuffersOptions {
  ProbeRequest probe;
  std::optional<uint64_t> rate;
  std::optional<Duration> rtt;
  LiveOptions live;
  bool requested() const { return probe.sndbuf || probe.rcvbuf; }
};

// ---- Flags -----------------------------------------------------------------

Status convert_sizes(const BuffersFlags& f, BuffersOptions* o) {
  auto set = size_flag("--set", f.set);
  if (!set.ok()) return set.take_error();
  auto snd = size_flag("--sndbuf", f.sock.sndbuf);
  if (!snd.ok()) return snd.take_error();
  auto rcv = size_flag("--rcvbuf", f.sock.rcvbuf);
  if (!rcv.ok()) return rcv.take_error();
  o->probe.sndbuf = snd->has_value() ? *snd : *set;
  o->probe.rcvbuf = rcv->has_value() ? *rcv : *set;
  o->probe.force = f.force;
  if (f.force && !o->requested()) return usage_error("--force needs a size: --set, --sndbuf or --rcvbuf");
  return {};
}

Status convert_bdp(const BuffersFlags& f, BuffersOptions* o) {
  if (f.bdp.empty() != f.rtt.empty()) return usage_error("--bdp RATE and --rtt DURATION go together");
  if (f.bdp.empty()) return {};
  auto rate = parse_rate(f.bdp);
  if (!rate.ok()) return usage_error(fmt::format("--bdp: {}", rate.error().message));
  auto rtt = duration_flag("--rtt", f.rtt);
  if (!rtt.ok()) return rtt.take_error();
  if ((*rtt)->count() <= 0) return usage_error(fmt::format("--rtt: '{}' must be greater than 0", f.rtt));
  o->rate = *rate;
  o->rtt = **rtt;
  return {};
}

Status convert_live(const BuffersFlags& f, BuffersOptions* o) {
  auto port = port_flag("--port", f.port);
  if (!port.ok()) return port.take_error();
  o->live.port = *port;
  auto pid = count_flag("--pid", f.pid, 1, INT32_MAX);
  if (!pid.ok()) return pid.take_error();
  if (pid->has_value()) o->live.pid = static_cast<int>(**pid);
  o->live.all = f.all;
  auto watch = duration_flag("--watch", f.watch);
  if (!watch.ok()) return watch.take_error();
  if (watch->has_value() && (*watch)->count() <= 0) {
    return usage_error(fmt::format("--watch: '{}' must be greater than 0", f.watch));
  }
  o->live.watch = *watch;
  if (o->live.watch && !o->live.selected()) return usage_error("--watch needs --port, --pid or --all");
  auto count = count_flag("--count", f.count, 1, INT32_MAX);
  if (!count.ok()) return count.take_error();
  o->live.count = *count;
  if (o->live.count && !o->live.watch) return usage_error("--count goes with --watch INTERVAL");
  return {};
}

Result<BuffersOptions> convert(const BuffersFlags& f, const GlobalOptions& g) {
  BuffersOptions o;
  if (auto s = convert_sizes(f, &o); !s) return s.error();
  if (auto s = convert_bdp(f, &o); !s) return s.error();
  if (auto s = convert_live(f, &o); !s) return s.error();
  bool v4 = g.ipv4 || f.sock.ipv4, v6 = g.ipv6 || f.sock.ipv6;
  if (v4 && v6) return usage_error("-4 and -6 exclude each other");
  o.live.family = v4 ? AF_INET : v6 ? AF_INET6 : AF_UNSPEC;
  return o;
}

// ---- System limits -----------------------------------------------------------

std::string join_values(const std::vector<int64_t>& v, std::string_view sep, bool human) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += sep;
    out += human && v[i] >= 0 ? human_bytes(static_cast<uint64_t>(v[i])) : fmt::format("{}", v[i]);
  }
  return out;
}

bool is_byte_sysctl(std::string_view name) {
  return name != "net.ipv4.tcp_moderate_rcvbuf" && name != "net.unix.max_dgram_qlen";
}

// One sysctl, each field once: the "sysctl" event and its line of the
// limits (the values, in bytes where they are sizes, and what it does; or
// "unavailable" and why).
FieldRow sysctl_fields(Reporter& rep, const SysctlValue& s) {
  FieldRow f;
  f.add("name", "name", s.name, s.name);
  if (!s.values) {
    return f.add("value", "value", nullptr, rep.yellow("unavailable")).add("error", "error", s.error, s.error);
  }
  Json value = s.values->size() == 1 ? Json(s.values->front()) : Json(*s.values);
  f.add("value", "value", value, join_values(*s.values, " ", false));
  f.cell("bytes", is_byte_sysctl(s.name) ? join_values(*s.values, " / ", true) : "");
  return f.cell("meaning", std::string(sysctl_meaning(s.name)));
}

void report_sysctl(Reporter& rep, const SysctlValue& s) {
  FieldRow f = sysctl_fields(rep, s);
  std::vector<std::string> c = f.cells({"name", "value", "bytes", "meaning", "error"});
  std::string human = s.values ? fmt::format("  {:<30} {:<22} {:<26} {}", c[0], c[1], c[2], c[3])
                               : fmt::format("  {:<30} {:<22} {}", c[0], c[1], c[4]);
  rep.event("sysctl", f.to_json(), human);
}

void report_limits(Reporter& rep, const BufferLimits& lim) {
  rep.text(rep.bold("System limits (/proc/sys)") + "\n");
  for (const auto& s : lim.sysctls) report_sysctl(rep, s);
}

// ---- Socket table ------------------------------------------------------------

// "Why" lines shared by several sockets are printed once, naming them all.
class WhyLines {
 public:
  void add(SockKind k, std::string_view what, const std::string& why) {
    if (why.empty()) return;
    std::string key = fmt::format("{}: {}", what, why);
    if (!groups_.count(key)) order_.push_back(key);
    groups_[key].push_back(std::string(sock_kind_name(k)));
  }
  void print(Reporter& rep) const {
    for (const auto& key : order_) {
      const auto& kinds = groups_.at(key);
      std::string who = kinds.size() == std::size(kAllSockKinds) ? "all" : fmt::format("{}", fmt::join(kinds, ", "));
      rep.text(fmt::format("    {} {}\n", who, key));
    }
  }

 private:
  std::vector<std::string> order_;
  std::map<std::string, std::vector<std::string>> groups_;
};

struct Explained {
  std::string reason;
  std::string note;  // TCP lock note, when a size was set
};

std::string force_prefix(BufDir d, const DirOutcome& o) {
  if (o.force != ForceOutcome::Refused) return "";
  return fmt::format("{} refused ({}: needs CAP_NET_ADMIN), plain {} used: ", option_name(d, true), o.force_error,
                     option_name(d, false));
}

Explained explain(SockKind k, BufDir d, const DirOutcome& o, const BufferLimits& lim, const KernelMinima& min) {
  if (!o.requested) return {explain_fresh(k, d, lim, o.effective), ""};
  bool forced = o.force == ForceOutcome::Allowed;
  SetPrediction p = predict_set(d, *o.requested, forced, lim, min);
  return {force_prefix(d, o) + explain_set(d, p, o.effective), tcp_lock_note(k, d, lim, o.effective)};
}

std::string force_cell(const DirOutcome& o) {
  if (o.force == ForceOutcome::Allowed) return "forced";
  if (o.force == ForceOutcome::Refused) return "force refused";
  return "";
}

// One direction of a probed socket, each field once: the object under
// "sndbuf"/"rcvbuf" in the `buffers` event and its cell in `column`: the
// effective size, "REQUESTED -> EFFECTIVE [forced]" when a size was asked.
FieldRow dir_fields(const DirOutcome& o, const Explained& e, const std::string& column) {
  std::string cell = o.requested ? fmt::format("{} -> {}", *o.requested, sized(o.effective)) : sized(o.effective);
  std::string force = force_cell(o);
  if (!force.empty()) cell = fmt::format("{} [{}]", cell, force);
  FieldRow f;
  f.json("requested", o.requested ? Json(*o.requested) : Json(nullptr));
  f.add("effective", column, o.effective, cell);
  f.json("fresh", o.fresh).json("reason", e.reason);
  if (!e.note.empty()) f.json("note", e.note);
  if (o.force == ForceOutcome::Allowed) f.json("force", "allowed");
  if (o.force == ForceOutcome::Refused) f.json("force", "refused");
  return f;
}

// The probe table's columns.
const std::vector<std::string> kProbeColumns = {"socket", "SO_SNDBUF", "SO_RCVBUF"};

// The probe table: the header, then one row per socket kind: its three
// cells, or two (socket, error) when the kernel cannot make it. Each column
// is as wide as its widest cell: "104857600 -> 209715200 (200 MiB) [forced]"
// does not push the SO_RCVBUF column out of line (a fixed width did).
class ProbeTable {
 public:
  void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  std::string render() const {
    size_t w0 = 0, w1 = 0;
    for (const auto& r : rows_) {
      w0 = std::max(w0, r[0].size());
      if (r.size() == 3) w1 = std::max(w1, r[1].size());
    }
    std::string out;
    for (const auto& r : rows_) {
      out += r.size() == 3 ? fmt::format("  {:<{}}  {:<{}}  {}\n", r[0], w0, r[1], w1, r[2])
                           : fmt::format("  {:<{}}  {}\n", r[0], w0, r[1]);
    }
    return out;
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

// A probed socket, each field once: the `buffers` event and its table line.
FieldRow probe_fields(const ProbeOutcome& out, const Explained& snd, const Explained& rcv) {
  FieldRow f;
  f.add("socket", "socket", sock_kind_name(out.kind), sock_kind_name(out.kind));
  f.nest("sndbuf", dir_fields(out.snd, snd, "SO_SNDBUF"), true, "");
  f.nest("rcvbuf", dir_fields(out.rcv, rcv, "SO_RCVBUF"), true, "");
  return f;
}

void report_socket(Reporter& rep, const ProbeOutcome& out, const BufferLimits& lim, const KernelMinima& min,
                   ProbeTable* table, WhyLines* why) {
  Explained snd = explain(out.kind, BufDir::Send, out.snd, lim, min);
  Explained rcv = explain(out.kind, BufDir::Receive, out.rcv, lim, min);
  why->add(out.kind, "SO_SNDBUF", snd.reason);
  why->add(out.kind, "SO_RCVBUF", rcv.reason);
  why->add(out.kind, "note", snd.note);
  why->add(out.kind, "note", rcv.note);
  FieldRow f = probe_fields(out, snd, rcv);
  rep.event("buffers", f.to_json(), "");
  table->row(f.cells(kProbeColumns));
}

// A socket kind this kernel cannot make: its name and why, in both forms.
void report_unavailable(Reporter& rep, SockKind k, const Error& err, ProbeTable* table) {
  FieldRow f;
  f.add("socket", "socket", sock_kind_name(k), sock_kind_name(k)).json("available", false);
  f.add("error", "error", err.message, err.message);
  rep.event("buffers", f.to_json(), "");
  table->row(f.cells({"socket", "error"}));
}

std::string table_title(const ProbeRequest& req) {
  if (!req.sndbuf && !req.rcvbuf) return "What a fresh socket gets (getsockopt on a new, unconnected socket)";
  auto part = [](const char* name, const std::optional<uint64_t>& v) {
    return v ? fmt::format("{} {} ({})", name, *v, human_bytes(*v)) : fmt::format("{} not set", name);
  };
  return fmt::format("Requested{}: {}, {}; effective value read back with getsockopt",
                     req.force ? " with --force" : "", part("SO_SNDBUF", req.sndbuf), part("SO_RCVBUF", req.rcvbuf));
}

// -4 leaves out tcp6/udp6, -6 tcp4/udp4; Unix sockets always count.
bool family_wanted(SockKind k, int family) {
  if (family == AF_INET) return k != SockKind::Tcp6 && k != SockKind::Udp6;
  if (family == AF_INET6) return k != SockKind::Tcp4 && k != SockKind::Udp4;
  return true;
}

Status report_sockets(Reporter& rep, const BufferLimits& lim, const ProbeRequest& req, int family) {
  bool requested = req.sndbuf || req.rcvbuf;
  KernelMinima min = measure_minima();
  rep.text("\n" + rep.bold(table_title(req)) + "\n");
  std::string arrow = requested ? " requested -> effective" : "";
  ProbeTable table;
  table.row({kProbeColumns[0], kProbeColumns[1] + arrow, kProbeColumns[2] + arrow});
  WhyLines why;
  for (SockKind k : kAllSockKinds) {
    if (!family_wanted(k, family)) continue;
    auto out = probe_socket(k, req);
    if (!out.ok() && out.error().message.find("setsockopt") != std::string::npos) return out.take_error();
    if (!out.ok()) {
      report_unavailable(rep, k, out.error(), &table);
      continue;
    }
    report_socket(rep, *out, lim, min, &table, &why);
  }
  rep.text(table.render());
  rep.text("  Why:\n");
  why.print(rep);
  return {};
}

// ---- Bandwidth-delay product -------------------------------------------------

// One check of a limit against what the flow needs, each field once: its
// object in the "checks" array of the `bdp` event and its line of the text.
FieldRow check_fields(Reporter& rep, const BdpAdvice::Check& c) {
  std::string verdict = c.ok() ? rep.green("enough") : c.current ? rep.red("too small") : rep.yellow("unknown");
  FieldRow f;
  f.add("name", "name", c.name, c.name);
  f.add("current", "current", c.current ? Json(*c.current) : Json(nullptr),
        c.current ? sized(*c.current) : "unavailable");
  f.add("needed", "needed", c.needed, sized(static_cast<int64_t>(c.needed)));
  return f.add("ok", "verdict", c.ok(), verdict);
}

std::string check_line(const FieldRow& check) {
  std::vector<std::string> c = check.cells({"name", "current", "needed", "verdict"});
  return fmt::format("    {:<24} {:<24} needs {:<24} {}\n", c[0], c[1], c[2], c[3]);
}

Json bdp_json(const BdpAdvice& a, const std::vector<FieldRow>& checks) {
  Json j{{"rate", a.rate}, {"rtt", a.rtt_seconds}, {"bdp", a.bdp}, {"possible", a.possible}};
  if (a.possible) {
    j["buffer"] = a.buffer;
    j["request"] = a.request;
  }
  j["checks"] = Json::array();
  for (const auto& c : checks) j["checks"].push_back(c.to_json());
  j["sysctl"] = a.sysctl_lines;
  j["ceiling"] = a.autotune_ceiling ? Json(*a.autotune_ceiling) : Json(nullptr);
  return j;
}

std::string bdp_text(Reporter& rep, const BdpAdvice& a, const std::vector<FieldRow>& checks) {
  std::string t = "\n" + rep.bold("Bandwidth-delay product") + "\n";
  t += fmt::format("  {} x {} = {} bytes ({}) in flight\n", human_bits_per_second(static_cast<double>(a.rate)),
                   human_duration(a.rtt_seconds), a.bdp, human_bytes(a.bdp));
  if (!a.possible) {
    return t + "  One TCP socket cannot hold that: its buffer is an int (at most 2 GiB) and needs 2 x BDP.\n"
               "  Use several parallel flows (iperf3 -P) or a shorter path.\n";
  }
  t += fmt::format("  One TCP flow needs socket buffers of {} ({}) on each side: 2 x BDP, since about half\n"
                   "  of a buffer carries payload (skb overhead; tcp_adv_win_scale / scaling_ratio).\n"
                   "  As a request (SO_RCVBUF/SO_SNDBUF, iperf3 -w) that is {} ({}): the kernel doubles it.\n",
                   a.buffer, human_bytes(a.buffer), a.request, human_bytes(a.request));
  for (const auto& c : checks) t += check_line(c);
  if (a.autotune_ceiling) {
    t += fmt::format("  With the current tcp_rmem[2]/tcp_wmem[2] one autotuned flow tops out near {} at this RTT.\n",
                     human_bits_per_second(*a.autotune_ceiling));
  }
  if (a.sysctl_lines.empty()) return t + "  The limits allow it.\n";
  t += "  To allow it (as root; until reboot, or put them in /etc/sysctl.d/):\n";
  for (const auto& l : a.sysctl_lines) t += "    " + l + "\n";
  return t;
}

Status report_bdp(Reporter& rep, const BufferLimits& lim, uint64_t rate, Duration rtt) {
  auto a = bdp_advice(rate, rtt, lim);
  if (!a.ok()) return a.take_error();
  std::vector<FieldRow> checks;
  for (const auto& c : a->checks) checks.push_back(check_fields(rep, c));
  rep.event("bdp", bdp_json(*a, checks), "");
  rep.text(bdp_text(rep, *a, checks));
  return {};
}

// ---- The command ---------------------------------------------------------------

Status run_buffers(const BuffersFlags& f, const GlobalOptions& g) {
  auto o = convert(f, g);
  if (!o.ok()) return o.take_error();
  Reporter rep = make_reporter(g, stdout);
  if (o->live.selected()) {
    if (o->requested() || o->rate) return usage_error("--port/--pid/--all show live sockets; run --set/--bdp separately");
    return report_live(rep, o->live);
  }
  BufferLimits lim = read_buffer_limits(ProcFs());
  report_limits(rep, lim);
  if (!o->rate || o->requested()) {
    if (auto s = report_sockets(rep, lim, o->probe, o->live.family); !s) return s;
  }
  if (o->rate) return report_bdp(rep, lim, *o->rate, *o->rtt);
  return {};
}

}  // namespace

Command add_buffers(CLI::App& app, const GlobalOptions& g) {
  auto f = std::make_shared<BuffersFlags>();
  CLI::App* sub = app.add_subcommand(
      "buffers", "SO_SNDBUF/SO_RCVBUF: system limits, what sockets get and why, BDP, live sockets' buffer use");
  sub->footer(
      "Examples:\n"
      "  sockprobe buffers                             # the limits and what a new socket gets\n"
      "  sockprobe buffers --set 1M                    # what asking for 1M really gives\n"
      "  sockprobe buffers --bdp 10Gbit --rtt 50ms\n"
      "  sockprobe buffers --all --port 443            # live sockets' buffers and queues");
  sub->add_option("--set", f->set, "Request SIZE for both SO_SNDBUF and SO_RCVBUF on each socket type")
      ->type_name("SIZE");
  add_socket_flags(sub, &f->sock, kFlagBuffers);
  sub->add_flag("--force", f->force, "Use SO_SNDBUFFORCE/SO_RCVBUFFORCE (needs CAP_NET_ADMIN; skips *mem_max)");
  sub->add_option("--bdp", f->bdp, "Link RATE (10Gbit, 100Mbit, or bytes/s like 10M): buffer one flow needs")
      ->type_name("RATE");
  sub->add_option("--rtt", f->rtt, "Round-trip time for --bdp (50ms)")->type_name("DURATION");
  sub->add_option("--port", f->port, "Live TCP/UDP sockets with this local or remote port")->type_name("PORT");
  sub->add_option("--pid", f->pid, "Live sockets owned by process PID")->type_name("PID");
  sub->add_flag("--all", f->all, "Every live TCP, UDP and Unix socket");
  sub->add_option("--watch", f->watch, "Repeat the live view every INTERVAL with deltas")->type_name("INTERVAL");
  sub->add_option("--count", f->count, "With --watch: stop after N intervals")->type_name("N");
  return {sub, [f, &g] { return run_buffers(*f, g); }};
}

}  // namespace sp::app
