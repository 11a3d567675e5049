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
  std::string backlog, clients, timeout, accept_rate, somaxconn, syncookies, max_syn_backlog;
  bool abort_on_overflow = false, no_netns = false, syn_queue = false;
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
  if (Status st = int_flag("--max-syn-backlog", f.max_syn_backlog, 1, INT32_MAX, &o.max_syn_backlog); !st) {
    return st.error();
  }
  auto timeout = duration_flag("--timeout", f.timeout);
  if (!timeout.ok()) return timeout.take_error();
  if (*timeout) o.timeout = **timeout;
  if (o.timeout.count() <= 0) return usage_error("--timeout: the connect timeout must be above 0");
  auto rate = rate_flag(f.accept_rate);
  if (!rate.ok()) return rate.take_error();
  o.accept_rate = *rate;
  o.abort_on_overflow = f.abort_on_overflow;
  o.private_netns = !f.no_netns;
  o.syn_queue = f.syn_queue;
  if (o.syn_queue && o.accept_rate) return usage_error("--accept-rate goes without --syn-queue: no handshake completes there");
  if (o.syn_queue && o.abort_on_overflow) {
    return usage_error("--abort-on-overflow goes without --syn-queue: the accept queue stays empty there");
  }
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
    out.push_back(fmt::format("Backlog {} held {}: on Linux the accept queue is full only when it holds "
                              "backlog + 1.", r.effective, counted(r.effective + 1, "connection")));
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

// ---- --syn-queue ---------------------------------------------------------------

std::string syn_numbers_table(const ExperimentResult& r) {
  Table t;
  t.row({"requested backlog", std::to_string(r.requested), "what listen() was given"});
  t.row({"effective backlog", std::to_string(r.effective),
         fmt::format("listener TCP_INFO; somaxconn is {}", r.somaxconn)});
  t.row({"SYN queue limit", std::to_string(r.syn_max),
         r.syncookies == 2 ? std::string("tcp_syncookies = 2: no SYN queue, every SYN gets a cookie")
                           : "request sockets a listener keeps: effective backlog + 1"});
  t.row({"tcp_max_syn_backlog", std::to_string(r.max_syn_backlog),
         r.syncookies == 0 ? "syncookies off: past 3/4 of it, SYNs from new clients are dropped"
                           : "applies only with tcp_syncookies = 0"});
  t.row({"clients", std::to_string(r.clients), "SYNs written into the TUN device, each from its own port"});
  t.row({"SYN-RECV", std::to_string(r.syn_recv), "request sockets at the end (sock_diag), waiting for a final ACK"});
  t.row({"SYN cookies", std::to_string(r.cookies()), "answered with a SYN-ACK but no request socket kept"});
  t.row({"dropped", std::to_string(r.unanswered), "SYNs never answered"});
  t.row({"SYN-ACKs resent", std::to_string(r.synack_resent),
         fmt::format("to the waiting handshakes within {:.2f}s", r.timeout_seconds)});
  return t.render({Align::Left, Align::Right, Align::Left}, "  ");
}

std::vector<std::string> syn_conclusions(const ExperimentResult& r) {
  std::vector<std::string> out;
  if (r.syncookies == 2) {
    out.push_back(fmt::format("tcp_syncookies = 2 answered all {} SYNs with cookies: no request socket is kept, so "
                              "the SYN queue never fills.", r.synack_clients));
    return out;
  }
  if (r.syn_recv == r.syn_max) {
    out.push_back(fmt::format("Backlog {} kept {} handshakes waiting for their final ACK: the SYN queue, like the "
                              "accept queue, holds backlog + 1.", r.effective, r.syn_recv));
  } else if (r.syncookies == 0 && r.unanswered > 0 && r.syn_recv < r.syn_max) {
    out.push_back(fmt::format("It stopped at {}, before backlog + 1 = {}: with tcp_syncookies = 0 the last quarter of "
                              "tcp_max_syn_backlog ({}) is kept for clients this host has talked to before.",
                              r.syn_recv, r.syn_max, r.max_syn_backlog));
  }
  if (r.cookies() > 0) {
    out.push_back(fmt::format("The other {} got SYN cookies (TCPReqQFullDoCookies +{}): no state is kept for them; "
                              "a client whose final ACK arrives is still let in.", r.cookies(),
                              counter(r.counters, "TCPReqQFullDoCookies").value_or(0)));
  }
  if (r.unanswered > 0) {
    auto full = counter(r.counters, "TCPReqQFullDrop").value_or(0);
    std::string which = full > 0 ? fmt::format("TCPReqQFullDrop +{}", full)
                                 : fmt::format("ListenDrops +{}; not TCPReqQFullDrop: the queue was not full",
                                               counter(r.counters, "ListenDrops").value_or(0));
    out.push_back(fmt::format("{} SYN{} dropped ({}){}: a real client resends its SYN after 1s.", r.unanswered,
                              r.unanswered == 1 ? " was" : "s were", which,
                              r.syncookies == 0 ? ", since tcp_syncookies = 0" : ""));
  }
  if (r.synack_resent > 0) {
    out.push_back(fmt::format("The listener resent {} SYN-ACK{} to handshakes whose final ACK never came "
                              "(tcp_synack_retries bounds how long it keeps trying).",
                              r.synack_resent, r.synack_resent == 1 ? "" : "s"));
  }
  return out;
}

void report_syn_experiment(Reporter& rep, const ExperimentResult& r) {
  std::string text = fmt::format("{} listen({} port {}, backlog {}) behind a TUN device; {} clients' SYNs written "
                                 "into it, their SYN-ACKs never answered (tcp_syncookies = {})\n",
                                 rep.bold("SYN-queue experiment:"), r.address, r.port, r.requested, r.clients,
                                 r.syncookies);
  text += where_text(r) + "\n\n" + syn_numbers_table(r) + "\n" + counters_line(r);
  for (const auto& c : syn_conclusions(r)) text += c + "\n";
  rep.text(text);
}

void report_experiment(Reporter& rep, const ExperimentResult& r) {
  rep.event("backlog_test", experiment_json(r), "");
  if (r.syn_queue) return report_syn_experiment(rep, r);
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
  sub->footer(
      "Examples:\n"
      "  sudo sockprobe backlog test -b 4 --clients 10\n"
      "  sudo sockprobe backlog test -b 128 --clients 200 --somaxconn 64   # the clamp, in a private netns\n"
      "  sudo sockprobe backlog test --syn-queue --syncookies 0");
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
  sub->add_option("--max-syn-backlog", f->max_syn_backlog,
                  "Set net.ipv4.tcp_max_syn_backlog in the private namespace (matters with --syncookies 0)")
      ->type_name("N");
  sub->add_flag("--abort-on-overflow", f->abort_on_overflow,
                "Set net.ipv4.tcp_abort_on_overflow = 1 in the private namespace");
  sub->add_flag("--no-netns", f->no_netns, "Run in the current network namespace even as root");
  sub->add_flag("--syn-queue", f->syn_queue,
                "Fill the SYN queue instead: SYNs through a TUN device whose final ACKs never come (root)");
  return {sub, [f, &g] { return run_test(*f, g); }};
}

}  // namespace sp::app
