// `sockprobe backlog`: the listen backlog explained — the limits, the
// overflow counters and every listener's accept queue (depth, maximum, fill,
// drops, owner); --watch prints per-interval deltas, --check turns it into a
// health check for cron and CI (exit 4). The snapshot, the SYN-queue
// columns, --openmetrics and the hidden --capture DIR live beside it
// (backlog_view.h); `backlog test` in backlog_experiment.cc.
#include <sys/socket.h>

#include <cmath>

#include <fmt/format.h>

#include "app/backlog_cmd.h"
#include "app/backlog_table.h"
#include "core/netstat.h"
#include "core/openmetrics.h"
#include "core/owners.h"
#include "core/procfs.h"
#include "core/signals.h"
#include "core/wait.h"
#include "core/sockdiag.h"
#include "core/sockname.h"
#include "app/backlog_view.h"
#include "core/textsafe.h"

namespace sp::app {
namespace {

using Clock = BacklogClock;

struct BacklogFlags {
  std::string port, pid, watch, count, fail_above;
  bool check = false, fail_on_overflow = false, fail_on_drops = false, openmetrics = false;
  std::string capture_dir, output;
};

// ---- flags ------------------------------------------------------------------

// --openmetrics replaces the report: the flags of the report are errors with it.
Status metrics_conflicts(const BacklogOptions& o, const GlobalOptions& g) {
  // The rules that depend on no other flag's presence are in app/flagrules.cc.
  if (!o.openmetrics) return {};
  if (g.json) return usage_error("--openmetrics and --json are two different outputs: choose one");
  if (o.watch && o.output.empty()) {
    return usage_error("--openmetrics --watch needs -o FILE: the file is rewritten every interval");
  }
  return {};
}

Result<BacklogOptions> backlog_options(const BacklogFlags& f, const GlobalOptions& g) {
  BacklogOptions o;
  auto port = port_flag("--port", f.port);
  if (!port.ok()) return port.take_error();
  o.port = *port;
  auto pid = count_flag("--pid", f.pid, 1, INT32_MAX);
  if (!pid.ok()) return pid.take_error();
  if (*pid) o.pid = static_cast<int>(**pid);
  if (g.ipv4) o.family = AF_INET;
  if (g.ipv6) o.family = AF_INET6;
  auto watch = duration_flag("--watch", f.watch);
  if (!watch.ok()) return watch.take_error();
  o.watch = *watch;
  if (o.watch && o.watch->count() <= 0) return usage_error("--watch: the interval must be above 0");
  auto count = count_flag("--count", f.count, 1, INT32_MAX);
  if (!count.ok()) return count.take_error();
  o.count = *count;
  auto pct = count_flag("--fail-above", f.fail_above, 0, 100);
  if (!pct.ok()) return pct.take_error();
  if (*pct) o.fail_above = static_cast<double>(**pct);
  o.check = f.check;
  o.fail_on_overflow = f.fail_on_overflow;
  o.fail_on_drops = f.fail_on_drops;
  o.openmetrics = f.openmetrics;
  o.output = f.output;
  if (Status st = metrics_conflicts(o, g); !st) return st.error();
  return o;  // which flags go together: app/flagrules.cc
}

// ---- the snapshot -------------------------------------------------------------

// ---- per-listener facts ---------------------------------------------------------

std::optional<int64_t> somaxconn_of(const Snapshot& s) { return sysctl_of(s, "net.core.somaxconn"); }

// Human text only (JSON and metrics carry the raw name): another user's
// socket name may hold terminal escapes.
std::string human_address(const SockInfo& s) { return terminal_safe(listener_address(s)); }

// The NOTE column: the accept queue's notes, then the SYN queue's.
std::string notes_of(const ListenerRow& row, const Snapshot& snap, double threshold) {
  std::vector<std::string> notes = accept_notes(row.sock, somaxconn_of(snap), threshold);
  for (auto& n : syn_notes(row, snap)) notes.push_back(std::move(n));
  return join_notes(notes);
}

}  // namespace

// One listener, each field once: the "listener" event (JSON EVENTS), a row
// of the Listeners table and the labels and values of --openmetrics.
FieldRow listener_fields(const ListenerRow& row, const Snapshot& snap, double threshold) {
  const SockInfo& s = row.sock;
  bool unix = s.transport == Transport::Unix;
  FieldRow f;
  // Decision: PROTO is the socket kind as buffers names it (tcp4, tcp6,
  // unix-stream), not netstat's tcp/tcp6/unix: one word per kind everywhere.
  f.add("protocol", "PROTO", protocol_name(kind_of(s)), kind_name(kind_of(s)));
  f.json("family", family_name(kind_of(s)));
  f.add("address", "ADDRESS", s.local_address, human_address(s));
  f.add("port", "PORT", unix ? Json(nullptr) : Json(s.local_port), unix ? "-" : std::to_string(s.local_port));
  f.add("queue", "QUEUE", s.recv_q, std::to_string(s.recv_q));
  f.add("max", "MAX", s.send_q, std::to_string(s.send_q));
  f.add("fill_pct", "FILL", std::round(fill_pct(s) * 10) / 10, fmt::format("{:.0f}%", fill_pct(s)));
  f.add("drops", "DROPS", s.skmem ? Json(s.skmem->drops) : Json(nullptr),
        s.skmem ? std::to_string(s.skmem->drops) : "?");
  f.add("pid", "PID", row.owner ? Json(row.owner->pid) : Json(nullptr),
        row.owner ? std::to_string(row.owner->pid) : "-");
  f.add("command", "COMMAND", row.owner ? Json(row.owner->command) : Json(nullptr),
        row.owner ? terminal_safe(row.owner->command) : "-");
  f.json("inode", s.inode);
  f.json("clamped", clamped(s, somaxconn_of(snap)));
  f.json("above_threshold", fill_pct(s) > threshold);
  add_syn_fields(f, row, snap);
  f.cell("NOTE", notes_of(row, snap, threshold));
  return f;
}

namespace {

const std::vector<Column>& listener_columns() {
  static const std::vector<Column> c = {
      {"PROTO", Align::Left},     {"ADDRESS", Align::Left},  {"PORT", Align::Right}, {"QUEUE", Align::Right},
      {"MAX", Align::Right},      {"FILL", Align::Right},    {"SYN-RECV", Align::Right},
      {"RETRANS", Align::Right},  {"DROPS", Align::Right},   {"PID", Align::Right},  {"COMMAND", Align::Left},
      {"NOTE", Align::Left}};
  return c;
}

// ---- the report ------------------------------------------------------------------

// One sysctl, each field once: the "sysctl" event and a line of Limits.
FieldRow sysctl_fields(const SysctlValue& v) {
  FieldRow f;
  f.add("name", "NAME", v.name, v.name);
  f.add("value", "VALUE", v.value ? Json(*v.value) : Json(nullptr), v.value ? std::to_string(*v.value) : "?");
  f.cell("MEANING", backlog_sysctl_meaning(v.name, v.value));
  return f;
}

// The Limits lines have no header line: the names only pick the cells.
const std::vector<Column>& sysctl_columns() {
  static const std::vector<Column> c = {{"NAME", Align::Left}, {"VALUE", Align::Right}, {"MEANING", Align::Left}};
  return c;
}

void report_sysctls(Reporter& rep, const Snapshot& s) {
  Table t;
  std::vector<std::string> columns = column_names(sysctl_columns());
  for (const auto& v : s.sysctls) {
    FieldRow f = sysctl_fields(v);
    rep.event("sysctl", f.to_json(), "");
    t.row(f.cells(columns));
  }
  rep.text(rep.bold("Limits") + " (this network namespace)\n" + t.render(column_aligns(sysctl_columns()), "  "));
}

// The `counters` event and the Overflow counters lines, both from
// counter_fields (core/backlogrules.h): a line per counter, its meaning
// beside it, TCPBacklogDrop apart. "delta": false for totals since boot,
// true for a --watch round's changes (over "interval" seconds): a script
// tells them apart by it.
void report_counters(Reporter& rep, const Counters& c) {
  FieldRow f = counter_fields(c, false);
  rep.event("counters", f.to_json(), "");
  Table t;
  Table apart;
  for (const Field& x : f.fields()) {
    if (x.column.empty()) continue;
    (x.column == kBacklogDropCounter ? apart : t).row({x.column, x.text, std::string(counter_meaning(x.column))});
  }
  std::vector<Align> al = {Align::Left, Align::Right, Align::Left};
  rep.text("\n" + rep.bold("Overflow counters") +
           " (TcpExt, this network namespace, cumulative; they count packets, not connections)\n" +
           t.render(al, "  ") + "\n" + apart.render(al, "  "));
}

std::string listener_summary(const Snapshot& s, double threshold) {
  ListenerTally n = tally(s.listeners, somaxconn_of(s), threshold);
  std::string out = fmt::format("{} listener{}", s.listeners.size(), s.listeners.size() == 1 ? "" : "s");
  if (n.above) out += fmt::format("; {} above {:.0f}% full", n.above, threshold);
  if (n.clamped) {
    out += fmt::format("; {} with a maximum equal to somaxconn (the request was probably clamped)", n.clamped);
  }
  out += ".\n";
  if (n.hidden && s.owners_unreadable) {
    out += fmt::format("Owner not visible for {} (no access to {} processes' fds; root sees all).\n", n.hidden,
                       s.owners_unreadable);
  }
  return out;
}

void report_listeners(Reporter& rep, const Snapshot& s, double threshold) {
  Table t;
  std::vector<std::string> columns = column_names(listener_columns());
  t.row(columns);
  for (const auto& row : s.listeners) {
    FieldRow f = listener_fields(row, s, threshold);
    rep.event("listener", f.to_json(), "");
    t.row(f.cells(columns));
  }
  std::vector<Align> al = column_aligns(listener_columns());
  rep.text("\n" + rep.bold("Listeners") + " (QUEUE = accept queue now, MAX = effective backlog; " +
           "FILL = QUEUE / (MAX + 1): Linux holds MAX + 1; DROPS = skmem d)\n" + t.render(al, "  ") +
           listener_summary(s, threshold) + syn_summary(s));
}

// ---- watch: deltas per interval ----------------------------------------------------

void report_counter_deltas(Reporter& rep, const Counters& d, double interval, double elapsed) {
  FieldRow f = counter_fields(d, true);
  f.json("interval", interval);
  rep.event("counters", f.to_json(), "");
  rep.text(fmt::format("\n[{:>7.2f}s]{}\n", elapsed, counter_changes_text(f)));
}

// A --watch round's listener: all of its fields, then the changes
// ("drops" stays the total); the row shows the changes beside the queue.
FieldRow listener_delta_fields(const ListenerDelta& d, const Snapshot& now, double interval, double threshold) {
  const SockInfo& s = d.now->sock;
  bool tcp = s.transport != Transport::Unix && now.syn_known;
  FieldRow f = listener_fields(*d.now, now, threshold);
  f.cell("QUEUE/MAX", fmt::format("queue {}/{}", s.recv_q, s.send_q));
  f.add("queue_delta", "QUEUE+", d.queue_delta, fmt::format("({:+})", d.queue_delta));
  f.add("syn_recv_delta", "SYN-RECV+", tcp ? Json(d.syn_delta) : Json(nullptr),
        tcp ? fmt::format("syn-recv {} ({:+})", d.now->syn.syn_recv, d.syn_delta) : "");
  f.json("synack_retrans_delta", tcp ? Json(d.retrans_delta) : Json(nullptr));
  f.add("drops_delta", "DROPS+", d.drops_delta ? Json(*d.drops_delta) : Json(nullptr),
        d.drops_delta ? fmt::format("drops {:+}", *d.drops_delta) : "new listener");
  f.json("interval", interval);
  return f;
}

// The --watch rows have no header line: the names only pick the cells.
const std::vector<Column>& delta_columns() {
  static const std::vector<Column> c = {
      {"PROTO", Align::Left},      {"ADDRESS", Align::Left}, {"PORT", Align::Right},  {"QUEUE/MAX", Align::Right},
      {"QUEUE+", Align::Right},    {"SYN-RECV+", Align::Left}, {"DROPS+", Align::Left}, {"NOTE", Align::Left}};
  return c;
}

void report_listener_deltas(Reporter& rep, const std::vector<ListenerDelta>& ds, const Snapshot& now,
                            double interval, double threshold) {
  Table t;
  std::vector<std::string> columns = column_names(delta_columns());
  for (const auto& d : ds) {
    FieldRow f = listener_delta_fields(d, now, interval, threshold);
    rep.event("listener", f.to_json(), "");
    if (!moved(d) && rep.verbosity() < 1) continue;
    t.row(f.cells(columns));
  }
  rep.text(t.render(column_aligns(delta_columns()), "  "));
}

// ---- check -------------------------------------------------------------------------

BacklogCheck check_of(const BacklogOptions& o) {
  return {o.fail_above, o.fail_on_overflow, o.fail_on_drops, o.port, o.pid};
}

Status check_verdict(Reporter& rep, const BacklogOptions& o, const std::vector<std::string>& failures) {
  // --fail-above takes whole percents: the threshold is an integer, given or not.
  Json j{{"ok", failures.empty()}, {"fail_above", std::lround(o.fail_above)}, {"reasons", failures}};
  rep.event("check", j, failures.empty() ? check_passed_text(check_of(o)) : "", -1);
  if (failures.empty()) return {};
  return check_error(check_failed_text(failures));
}

// ---- running -------------------------------------------------------------------------

Status watch_loop(Reporter& rep, const BacklogOptions& o, Snapshot prev) {
  Clock::time_point start = prev.at;
  Status st = every_interval(o, start, [&]() -> Status {
    auto now = take_snapshot(o, rep, false);
    if (!now.ok()) return now.take_error();
    double interval = std::round(std::chrono::duration<double>(now->at - prev.at).count() * 1000) / 1000;
    Counters d = counter_deltas(prev.counters, now->counters);
    auto ds = listener_deltas(prev.listeners, now->listeners);
    report_counter_deltas(rep, d, interval, std::chrono::duration<double>(now->at - start).count());
    report_listener_deltas(rep, ds, *now, interval, o.fail_above);
    if (o.check) {
      std::vector<std::string> failures = fill_failures(now->listeners, check_of(o));
      if (o.fail_on_overflow || o.fail_on_drops) {
        for (auto& f : overflow_failures(check_of(o), d, ds)) failures.push_back(std::move(f));
      }
      if (!failures.empty()) return check_verdict(rep, o, failures);
    }
    prev = std::move(*now);
    return {};
  });
  if (!st) return st;
  return o.check ? check_verdict(rep, o, {}) : Status();
}

Status run_backlog(const BacklogFlags& f, const GlobalOptions& g) {
  if (!f.capture_dir.empty()) return capture(f.capture_dir);
  auto o = backlog_options(f, g);
  if (!o.ok()) return o.take_error();
  Reporter rep = make_reporter(g, stdout);
  if (o->openmetrics) return run_metrics(*o, rep);
  auto snap = take_snapshot(*o, rep, true);
  if (!snap.ok()) return snap.take_error();
  report_sysctls(rep, *snap);
  report_counters(rep, snap->counters);
  report_listeners(rep, *snap, o->fail_above);
  if (o->watch) return watch_loop(rep, *o, std::move(*snap));
  if (o->check) return check_verdict(rep, *o, fill_failures(snap->listeners, check_of(*o)));
  return {};
}

}  // namespace

Command add_backlog(CLI::App& app, const GlobalOptions& g) {
  auto f = std::make_shared<BacklogFlags>();
  CLI::App* sub = app.add_subcommand("backlog", "Listen backlog: limits, overflow counters, accept-queue fill");
  sub->footer(
      "Examples:\n"
      "  sockprobe backlog --port 8080\n"
      "  sockprobe backlog --check --fail-above 50 || echo \"backlog filling up\"\n"
      "  sockprobe backlog --watch 1s --count 10");
  sub->add_option("--port", f->port, "Only TCP listeners on PORT")->type_name("PORT");
  sub->add_option("--pid", f->pid, "Only listeners owned by process PID")->type_name("PID");
  sub->add_option("--watch", f->watch, "Print per-interval deltas every INTERVAL")->type_name("INTERVAL");
  sub->add_option("--count", f->count, "With --watch: stop after N intervals")->type_name("N");
  sub->add_flag("--check", f->check, "Exit 4 when a selected listener is above --fail-above % full");
  sub->add_option("--fail-above", f->fail_above, "With --check: fill threshold in percent (default 80)")
      ->type_name("PCT");
  sub->add_flag("--fail-on-drops", f->fail_on_drops,
                "With --check --watch: exit 4 when a selected listener's drops (skmem d) grow");
  sub->add_flag("--fail-on-overflow", f->fail_on_overflow,
                "With --check --watch: exit 4 when overflow counters grow (with --port/--pid: the listener's drops)");
  sub->add_flag("--openmetrics", f->openmetrics,
                "Print the listeners and counters as OpenMetrics text (node_exporter textfile, Prometheus)");
  sub->add_option("-o,--output", f->output, "With --openmetrics: write FILE atomically (temp + rename)")
      ->type_name("FILE");
  sub->add_option("--capture", f->capture_dir, "Save raw sock_diag dumps and /proc/net/netstat into DIR")
      ->group("");
  sub->require_subcommand(0, 1);
  Command test = add_backlog_test(sub, g);
  Command trace = add_backlog_trace(sub, g);
  return {sub, [f, &g, test, trace] {
            for (const Command* c : {&test, &trace}) {
              if (!c->sub->parsed()) continue;
              return c->run();
            }
            return run_backlog(*f, g);
          }};
}

}  // namespace sp::app
