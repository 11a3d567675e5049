// `sockprobe backlog test`: the front-end of the backlog experiment
// (core/backlog_experiment.h). It converts the flags, runs the experiment
// and explains the numbers in a few sentences, so the N+1 rule, the
// somaxconn clamp and silently dropped SYNs are seen rather than believed.
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "app/backlog_cmd.h"
#include "app/backlog_table.h"
#include "core/backlog_experiment.h"

namespace sp::app {
namespace {

struct TestFlags {
  std::string backlog, clients, timeout, accept_rate, somaxconn, syncookies;
  bool abort_on_overflow = false, no_netns = false;
};

// "2", "0.5", "10/s" connections per second.
Result<std::optional<double>> rate_flag(const std::string& text) {
  if (text.empty()) return std::optional<double>();
  std::string_view s = text;
  if (s.size() > 2 && s.substr(s.size() - 2) == "/s") s.remove_suffix(2);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || !(v > 0) || !std::isfinite(v)) {
    return usage_error(fmt::format("--accept-rate: '{}' is not a rate (connections per second above 0, e.g. 2 or 0.5/s)", text));
  }
  return std::optional<double>(v);
}

Status int_flag(const char* flag, const std::string& text, long long min, long long max, std::optional<int>* out) {
  auto v = count_flag(flag, text, min, max);
  if (!v.ok()) return v.take_error();
  if (*v) *out = static_cast<int>(**v);
  return {};
}

Result<ExperimentOptions> experiment_options(const TestFlags& f) {
  ExperimentOptions o;
  std::optional<int> backlog;
  if (Status st = int_flag("--backlog", f.backlog, 0, INT32_MAX, &backlog); !st) return st.error();
  o.backlog = backlog.value_or(o.backlog);
  if (Status st = int_flag("--clients", f.clients, 1, 60000, &o.clients); !st) return st.error();
  if (Status st = int_flag("--somaxconn", f.somaxconn, 0, INT32_MAX, &o.somaxconn); !st) return st.error();
  if (Status st = int_flag("--syncookies", f.syncookies, 0, 2, &o.syncookies); !st) return st.error();
  auto timeout = duration_flag("--timeout", f.timeout);
  if (!timeout.ok()) return timeout.take_error();
  if (*timeout) o.timeout = **timeout;
  if (o.timeout.count() <= 0) return usage_error("--timeout: the connect timeout must be above 0");
  auto rate = rate_flag(f.accept_rate);
  if (!rate.ok()) return rate.take_error();
  o.accept_rate = *rate;
  o.abort_on_overflow = f.abort_on_overflow;
  o.private_netns = !f.no_netns;
  return o;
}

std::string where_text(const ExperimentResult& r) {
  if (r.private_netns) return "Ran in a private network namespace: the counter deltas belong to this test alone.";
  std::string why = r.netns_error.empty() ? "not root, or --no-netns"
                                           : "no private namespace: " + r.netns_error;
  return "Ran on this namespace's loopback (" + why + "): the counters are shared, so the deltas include every "
         "other listener here.";
}

std::string numbers_table(const ExperimentResult& r) {
  Table t;
  t.row({"requested backlog", std::to_string(r.requested), "what listen() was given"});
  t.row({"effective backlog", std::to_string(r.effective),
         fmt::format("listener TCP_INFO; somaxconn is {}", r.somaxconn)});
  t.row({"clients", std::to_string(r.clients), fmt::format("connecting at once, {:.2f}s timeout", r.timeout_seconds)});
  t.row({"established", std::to_string(r.established), "handshake completed (client side)"});
  t.row({"queued", std::to_string(r.queued), "in the accept queue at the end (listener TCP_INFO)"});
  if (r.accepted > 0) t.row({"accepted", std::to_string(r.accepted), "taken by the slow accept loop"});
  t.row({"unanswered", std::to_string(r.unanswered), "no answer to their SYN within the timeout"});
  if (r.refused > 0) t.row({"reset", std::to_string(r.refused), "refused or reset by the server"});
  if (r.failed > 0) t.row({"failed", std::to_string(r.failed), "other connect errors"});
  return t.render({Align::Left, Align::Right, Align::Left}, "  ");
}

std::string counters_line(const ExperimentResult& r) {
  std::string out = "Counter deltas:";
  for (const auto& name : listen_counter_names()) {
    if (auto v = counter(r.counters, name)) out += fmt::format("  {} +{}", name, *v);
  }
  if (r.counters.empty()) out += " not available";
  if (auto v = counter(r.counters, kBacklogDropCounter)) {
    out += fmt::format("\n  ({} +{}: the per-socket receive backlog, not the listen backlog)", kBacklogDropCounter, *v);
  }
  return out + "\n";
}

// When a dropped SYN comes back: since 6.x the first retries can be linear.
std::string retry_schedule(const ExperimentResult& r) {
  if (r.syn_linear_timeouts > 0) {
    return fmt::format("clients resend it every 1s for the first {} retries (tcp_syn_linear_timeouts), then "
                       "doubling", r.syn_linear_timeouts);
  }
  return "clients resend it after 1s, 3s, 7s...";
}

std::vector<std::string> conclusions(const ExperimentResult& r) {
  std::vector<std::string> out;
  if (r.requested > r.effective) {
    out.push_back(fmt::format("The requested backlog {} was clamped to net.core.somaxconn = {}.", r.requested,
                              r.somaxconn));
  }
  if (r.accept_rate == 0 && r.queued == r.effective + 1) {
    out.push_back(fmt::format("Backlog {} held {} connections: on Linux the accept queue is full only when it holds "
                              "backlog + 1.", r.effective, r.effective + 1));
  }
  if (r.unanswered > 0) {
    out.push_back(fmt::format("{} client{} got no answer: the kernel dropped the SYN because the accept queue was "
                              "full (ListenOverflows); {}.",
                              r.unanswered, r.unanswered == 1 ? "" : "s", retry_schedule(r)));
  }
  if (r.ack_dropped() > 0) {
    out.push_back(fmt::format("{} client{} finished the handshake but sit in no queue: the server dropped the final "
                              "ACK and the client believes it is connected.", r.ack_dropped(),
                              r.ack_dropped() == 1 ? "" : "s"));
  }
  auto overflows = counter(r.counters, "ListenOverflows").value_or(0);
  if (r.accept_rate > 0 && overflows > 0) {
    out.push_back(fmt::format("Accepting {:g} per second was too slow: {} SYN{} found the queue full and had to be "
                              "retried (ListenOverflows +{}).", r.accept_rate, overflows, overflows == 1 ? "" : "s",
                              overflows));
  }
  if (r.refused > 0 && r.abort_on_overflow == 1) {
    out.push_back(fmt::format("{} client{} were reset: tcp_abort_on_overflow = 1 answers a full queue with RST.",
                              r.refused, r.refused == 1 ? "" : "s"));
  }
  out.push_back("The counters count packets (every retried SYN), not connections.");
  return out;
}

void report_experiment(Reporter& rep, const ExperimentResult& r) {
  rep.event("backlog_test", experiment_json(r), "");
  std::string text = fmt::format("{} listen(127.0.0.1 port {}, backlog {}), {}, {} clients at once\n",
                                 rep.bold("Backlog experiment:"), r.port, r.requested,
                                 r.accept_rate > 0 ? fmt::format("accepting {:g}/s", r.accept_rate)
                                                   : std::string("never accepting"),
                                 r.clients);
  text += where_text(r) + "\n\n" + numbers_table(r) + "\n" + counters_line(r);
  for (const auto& c : conclusions(r)) text += c + "\n";
  rep.text(text);
}

Status run_test(const TestFlags& f, const GlobalOptions& g) {
  auto o = experiment_options(f);
  if (!o.ok()) return o.take_error();
  auto r = run_backlog_experiment(*o);
  if (!r.ok()) return r.take_error();
  Reporter rep = make_reporter(g, stdout);
  report_experiment(rep, *r);
  return {};
}

}  // namespace

Command add_backlog_test(CLI::App* backlog, const GlobalOptions& g) {
  auto f = std::make_shared<TestFlags>();
  CLI::App* sub = backlog->add_subcommand(
      "test", "Experiment: listen with backlog N without accepting, connect M clients, count what the kernel did");
  sub->add_option("-b,--backlog", f->backlog, "listen() backlog (default 4)")->type_name("N");
  sub->add_option("--clients", f->clients, "Clients connecting at once (default: effective backlog + 5)")
      ->type_name("M");
  sub->add_option("-w,--timeout", f->timeout, "How long each client waits for its handshake (default 2s)")
      ->type_name("DURATION");
  sub->add_option("--accept-rate", f->accept_rate, "Accept R connections per second instead of never")
      ->type_name("R");
  sub->add_option("--somaxconn", f->somaxconn, "Set net.core.somaxconn in the private namespace (root)")
      ->type_name("N");
  sub->add_option("--syncookies", f->syncookies, "Set net.ipv4.tcp_syncookies (0, 1, 2) in the private namespace")
      ->type_name("0|1|2");
  sub->add_flag("--abort-on-overflow", f->abort_on_overflow,
                "Set net.ipv4.tcp_abort_on_overflow = 1 in the private namespace");
  sub->add_flag("--no-netns", f->no_netns, "Run in the current network namespace even as root");
  return {sub, [f, &g] { return run_test(*f, g); }};
}

}  // namespace sp::app
