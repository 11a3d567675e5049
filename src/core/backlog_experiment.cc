// The backlog experiment (see backlog_experiment.h): one small function per
// step — namespace setup, listener, clients, the wait loop, the counters —
// and a fork/pipe wrapper that runs it in a private network namespace.
#include "core/backlog_experiment.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <vector>

#include <fmt/format.h>

#include "core/atomicio.h"
#include "core/deadline.h"
#include "core/fd.h"
#include "core/signals.h"
#include "core/sock.h"
#include "core/wait.h"
#include "core/syn_experiment.h"

namespace sp {
namespace {

using Clock = std::chrono::steady_clock;

// ---- namespace setup --------------------------------------------------------

Status write_sysctl(const std::string& dotted, int value) {
  std::string path = "/proc/sys/";
  for (char c : dotted) path += (c == '.') ? '/' : c;
  std::ofstream out(path);
  out << value << "\n";
  out.flush();
  if (!out) return system_error(fmt::format("write {} = {}: {}", dotted, value, errno_text(errno)));
  return {};
}

Status bring_up_loopback() {
  Fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s.valid()) return system_error(fmt::format("socket: {}", errno_text(errno)));
  ifreq ifr = {};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return system_error(fmt::format("SIOCGIFFLAGS lo: {}", errno_text(errno)));
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return system_error(fmt::format("bring up lo: {}", errno_text(errno)));
  return {};
}

Status set_namespace_sysctls(const ExperimentOptions& o) {
  if (o.somaxconn) {
    if (Status st = write_sysctl("net.core.somaxconn", *o.somaxconn); !st) return st;
  }
  if (o.syncookies) {
    if (Status st = write_sysctl("net.ipv4.tcp_syncookies", *o.syncookies); !st) return st;
  }
  if (o.max_syn_backlog) {
    if (Status st = write_sysctl("net.ipv4.tcp_max_syn_backlog", *o.max_syn_backlog); !st) return st;
  }
  if (o.abort_on_overflow) return write_sysctl("net.ipv4.tcp_abort_on_overflow", 1);
  return {};
}

Status enter_private_netns(const ExperimentOptions& o) {
  if (::unshare(CLONE_NEWNET) != 0) return system_error(fmt::format("unshare(CLONE_NEWNET): {}", errno_text(errno)));
  if (Status st = bring_up_loopback(); !st) return st;
  return set_namespace_sysctls(o);
}

// ---- listener and clients -----------------------------------------------------

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

Result<Fd> make_listener(int backlog, uint16_t* port) {
  Fd l(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!l.valid()) return system_error(fmt::format("socket: {}", errno_text(errno)));
  sockaddr_in a = loopback(0);
  if (::bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    return system_error(fmt::format("bind 127.0.0.1: {}", errno_text(errno)));
  }
  if (::listen(l.get(), backlog) != 0) return system_error(fmt::format("listen: {}", errno_text(errno)));
  socklen_t len = sizeof a;
  ::getsockname(l.get(), reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return l;
}

Status raise_fd_limit(int needed) {
  rlimit r = {};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return system_error(fmt::format("getrlimit: {}", errno_text(errno)));
  auto want = static_cast<rlim_t>(needed);
  if (r.rlim_cur >= want) return {};
  if (r.rlim_max != RLIM_INFINITY && r.rlim_max < want) {
    return usage_error(fmt::format("--clients: {} clients need {} file descriptors; the limit is {} (ulimit -n)",
                                   needed - 32, needed, r.rlim_max));
  }
  r.rlim_cur = want;
  if (::setrlimit(RLIMIT_NOFILE, &r) != 0) return system_error(fmt::format("setrlimit: {}", errno_text(errno)));
  return {};
}

enum class ClientState { Pending, Established, Refused, Failed };

struct Client {
  Fd fd;
  ClientState state = ClientState::Pending;
};

ClientState state_from_errno(int err) {
  if (err == 0) return ClientState::Established;
  if (err == EINPROGRESS) return ClientState::Pending;
  if (err == ECONNREFUSED || err == ECONNRESET) return ClientState::Refused;
  return ClientState::Failed;
}

// Every client's SYN goes out before any waiting: "at once".
std::vector<Client> start_clients(uint16_t port, int count) {
  std::vector<Client> clients(static_cast<size_t>(count));
  sockaddr_in a = loopback(port);
  for (Client& c : clients) {
    c.fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!c.fd.valid()) {
      c.state = ClientState::Failed;
      continue;
    }
    int rc = ::connect(c.fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
    c.state = state_from_errno(rc == 0 ? 0 : errno);
  }
  return clients;
}

void settle(Client& c) { c.state = state_from_errno(pending_socket_error(c.fd.get())); }

// One accept per 1/rate seconds; accepted sockets stay open and unread.
struct SlowAcceptor {
  std::optional<double> rate;
  Clock::time_point next;
  std::vector<Fd> held;

  bool due(Clock::time_point now) const { return rate && now >= next; }
  void accept_one(int listen_fd, Clock::time_point now) {
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) held.emplace_back(fd);
    next = now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / *rate));
  }
};

// The timeout, or the next slow accept if that comes first.
Clock::time_point wake_at(Clock::time_point deadline, const SlowAcceptor& acc) {
  return acc.rate ? std::min(deadline, acc.next) : deadline;
}

// Waits until every client settled or the timeout passed, accepting slowly
// when asked. Interrupted by SIGINT.
Status wait_for_clients(int listen_fd, std::vector<Client>& clients, Duration timeout, SlowAcceptor& acc) {
  Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    std::vector<pollfd> pfds;
    std::vector<Client*> owners;
    for (Client& c : clients) {
      if (c.state != ClientState::Pending) continue;
      pfds.push_back({c.fd.get(), POLLOUT, 0});
      owners.push_back(&c);
    }
    Clock::time_point now = Clock::now();
    if (acc.due(now)) acc.accept_one(listen_fd, now);
    if ((pfds.empty() && !acc.rate) || now >= deadline) return {};
    auto w = wait_fds(pfds, wake_at(deadline, acc));
    if (!w.ok()) return w.take_error();
    if (*w == Wake::Interrupted) return interrupted_error();
    if (*w == Wake::Timeout) continue;
    for (size_t i = 0; i < owners.size(); ++i) {
      if (pfds[i].revents != 0) settle(*owners[i]);
    }
  }
}

void tally(const std::vector<Client>& clients, ExperimentResult* r) {
  for (const Client& c : clients) {
    switch (c.state) {
      case ClientState::Pending: ++r->unanswered; break;
      case ClientState::Established: ++r->established; break;
      case ClientState::Refused: ++r->refused; break;
      case ClientState::Failed: ++r->failed; break;
    }
  }
}

Counters listen_deltas(const Counters& before, const Counters& after) {
  Counters all = counter_deltas(before, after);
  Counters out;
  for (const auto& name : listen_counter_names()) {
    if (auto v = counter(all, name)) out[name] = *v;
  }
  if (auto v = counter(all, kBacklogDropCounter)) out[kBacklogDropCounter] = *v;
  return out;
}

void read_limits(const ProcFs& proc, ExperimentResult* r) {
  auto somaxconn = proc.sysctl_int("net.core.somaxconn");
  r->somaxconn = somaxconn.ok() ? static_cast<int>(*somaxconn) : 0;
  auto cookies = proc.sysctl_int("net.ipv4.tcp_syncookies");
  r->syncookies = cookies.ok() ? static_cast<int>(*cookies) : -1;
  auto abort = proc.sysctl_int("net.ipv4.tcp_abort_on_overflow");
  r->abort_on_overflow = abort.ok() ? static_cast<int>(*abort) : -1;
  auto max_syn = proc.sysctl_int("net.ipv4.tcp_max_syn_backlog");
  r->max_syn_backlog = max_syn.ok() ? static_cast<int>(*max_syn) : 0;
  auto linear = proc.sysctl_int("net.ipv4.tcp_syn_linear_timeouts");
  r->syn_linear_timeouts = linear.ok() ? static_cast<int>(*linear) : -1;
}

// The accept-queue experiment on loopback: real clients, a listener that
// never accepts (or slowly).
Status accept_queue_here(const ExperimentOptions& o, ExperimentResult* r) {
  auto listener = make_listener(o.backlog, &r->port);
  if (!listener.ok()) return listener.take_error();
  auto q = listener_queue(listener->get());
  if (!q) return system_error("getsockopt TCP_INFO on the listener: no queue information");
  r->effective = static_cast<int>(q->max);
  r->clients = o.clients.value_or(r->effective + 5);
  if (Status st = raise_fd_limit(r->clients + 32); !st) return st;
  std::vector<Client> clients = start_clients(r->port, r->clients);
  SlowAcceptor acc{o.accept_rate, Clock::now(), {}};
  if (Status st = wait_for_clients(listener->get(), clients, o.timeout, acc); !st) return st;
  tally(clients, r);
  if (auto end = listener_queue(listener->get())) r->queued = static_cast<int>(end->depth);
  r->accepted = static_cast<int>(acc.held.size());
  return {};
}

// The experiment itself, in whatever namespace we are in.
Result<ExperimentResult> experiment_here(const ExperimentOptions& o, bool private_netns) {
  ProcFs proc;
  ExperimentResult r;
  r.private_netns = private_netns;
  r.requested = o.backlog;
  r.timeout_seconds = std::chrono::duration<double>(o.timeout).count();
  r.accept_rate = o.accept_rate.value_or(0);
  r.syn_queue = o.syn_queue;
  read_limits(proc, &r);
  auto before = read_tcpext(proc);
  if (!before.ok()) return before.take_error();
  Status st = o.syn_queue ? syn_queue_here(o, &r) : accept_queue_here(o, &r);
  if (!st) return st.error();
  auto after = read_tcpext(proc);
  if (!after.ok()) return after.take_error();
  r.counters = listen_deltas(*before, *after);
  return r;
}

// ---- the private namespace: a forked child reports over a pipe ---------------

bool needs_private_netns(const ExperimentOptions& o) {
  return o.somaxconn.has_value() || o.syncookies.has_value() || o.max_syn_backlog.has_value() ||
         o.abort_on_overflow || o.syn_queue;
}

[[noreturn]] void child_main(int out_fd, const ExperimentOptions& o) {
  Json reply;
  Status entered = enter_private_netns(o);
  if (!entered && needs_private_netns(o)) {
    reply = Json{{"error", entered.error().message}, {"kind", static_cast<int>(entered.error().kind)}};
  } else {
    // Without the namespace (a container without CAP_SYS_ADMIN) run here and say why.
    auto r = experiment_here(o, entered.ok());
    if (r.ok() && !entered) r->netns_error = entered.error().message;
    reply = r.ok() ? experiment_json(*r)
                   : Json{{"error", r.error().message}, {"kind", static_cast<int>(r.error().kind)}};
  }
  std::string text = reply.dump();
  (void)write_all(out_fd, text.data(), text.size());
  ::_exit(0);
}

std::string read_all(int fd) {
  std::string s;
  char buf[4096];
  for (;;) {
    ssize_t n = read_some(fd, buf, sizeof buf);
    if (n <= 0) return s;
    s.append(buf, static_cast<size_t>(n));
  }
}

Result<ExperimentResult> parse_child_reply(const std::string& text) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return system_error("backlog test: the namespace child died without a report");
  if (j.contains("error")) {
    return Error{static_cast<ErrorKind>(j.value("kind", 0)), j.value("error", std::string("unknown error"))};
  }
  return experiment_from_json(j);
}

Result<ExperimentResult> experiment_in_netns(const ExperimentOptions& o) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return system_error(fmt::format("pipe: {}", errno_text(errno)));
  Fd in(p[0]);
  Fd out(p[1]);
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return system_error(fmt::format("fork: {}", errno_text(errno)));
  if (pid == 0) {
    in.reset();
    child_main(out.get(), o);
  }
  out.reset();
  std::string text = read_all(in.get());
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  auto reply = parse_child_reply(text);
  // Ctrl-C reaches the child too, which reports it; when it cut our read
  // short instead, say so rather than blame the child.
  if (!reply.ok() && interrupted()) return interrupted_error();
  return reply;
}

}  // namespace

int ExperimentResult::ack_dropped() const { return std::max(0, established - queued - accepted); }
int ExperimentResult::cookies() const { return std::max(0, synack_clients - syn_recv); }

namespace {

// The --syn-queue fields: numbers, or null when the run was not --syn-queue.
Json syn_queue_json(const ExperimentResult& r) {
  auto n = [&](int v) { return r.syn_queue ? Json(v) : Json(nullptr); };
  return Json{{"syn_queue", r.syn_queue},       {"max_syn_backlog", r.max_syn_backlog},
              {"syn_max", n(r.syn_max)},         {"syn_recv", n(r.syn_recv)},
              {"synack_clients", n(r.synack_clients)}, {"cookies", n(r.cookies())},
              {"synack_resent", n(r.synack_resent)}};
}

int int_or_zero(const Json& j, const char* key) { return j.at(key).is_null() ? 0 : j.at(key).get<int>(); }

}  // namespace

Result<ExperimentResult> run_backlog_experiment(const ExperimentOptions& opts) {
  bool root = ::geteuid() == 0;
  if (needs_private_netns(opts) && (!root || !opts.private_netns)) {
    return usage_error(
        "--syn-queue, --somaxconn, --syncookies, --max-syn-backlog and --abort-on-overflow need a private network "
        "namespace: run as root, without --no-netns");
  }
  if (root && opts.private_netns) return experiment_in_netns(opts);
  return experiment_here(opts, false);
}

Json experiment_json(const ExperimentResult& r) {
  Json counters = Json::object();
  for (const auto& [name, value] : r.counters) counters[name] = value;
  Json j{{"requested", r.requested},         {"effective", r.effective},
              {"capacity", r.effective + 1},      {"somaxconn", r.somaxconn},
              {"clients", r.clients},             {"established", r.established},
              {"queued", r.queued},               {"accepted", r.accepted},
              {"unanswered", r.unanswered},       {"refused", r.refused},
              {"failed", r.failed},               {"ack_dropped", r.ack_dropped()},
              {"timeout_seconds", r.timeout_seconds},
              {"accept_rate", r.accept_rate > 0 ? Json(r.accept_rate) : Json(nullptr)},
              {"syncookies", r.syncookies},
              {"abort_on_overflow", r.abort_on_overflow},
              {"syn_linear_timeouts", r.syn_linear_timeouts >= 0 ? Json(r.syn_linear_timeouts) : Json(nullptr)},
              {"private_netns", r.private_netns},
              {"netns_error", r.netns_error.empty() ? Json(nullptr) : Json(r.netns_error)},
              {"address", r.address},
              {"port", r.port},                   {"counters", counters}};
  j.update(syn_queue_json(r));
  return j;
}

Result<ExperimentResult> experiment_from_json(const Json& j) {
  try {
    ExperimentResult r;
    r.requested = j.at("requested").get<int>();
    r.effective = j.at("effective").get<int>();
    r.somaxconn = j.at("somaxconn").get<int>();
    r.clients = j.at("clients").get<int>();
    r.established = j.at("established").get<int>();
    r.queued = j.at("queued").get<int>();
    r.accepted = j.at("accepted").get<int>();
    r.unanswered = j.at("unanswered").get<int>();
    r.refused = j.at("refused").get<int>();
    r.failed = j.at("failed").get<int>();
    r.timeout_seconds = j.at("timeout_seconds").get<double>();
    r.accept_rate = j.at("accept_rate").is_null() ? 0 : j.at("accept_rate").get<double>();
    r.syncookies = j.at("syncookies").get<int>();
    r.abort_on_overflow = j.at("abort_on_overflow").get<int>();
    r.syn_linear_timeouts = j.at("syn_linear_timeouts").is_null() ? -1 : j.at("syn_linear_timeouts").get<int>();
    r.private_netns = j.at("private_netns").get<bool>();
    if (!j.at("netns_error").is_null()) r.netns_error = j.at("netns_error").get<std::string>();
    r.address = j.at("address").get<std::string>();
    r.port = j.at("port").get<uint16_t>();
    for (const auto& [name, value] : j.at("counters").items()) r.counters[name] = value.get<int64_t>();
    r.syn_queue = j.at("syn_queue").get<bool>();
    r.max_syn_backlog = j.at("max_syn_backlog").get<int>();
    r.syn_max = int_or_zero(j, "syn_max");
    r.syn_recv = int_or_zero(j, "syn_recv");
    r.synack_clients = int_or_zero(j, "synack_clients");
    r.synack_resent = int_or_zero(j, "synack_resent");
    return r;
  } catch (const Json::exception& e) {
    return system_error(fmt::format("backlog test: bad report from the namespace child: {}", e.what()));
  }
}

}  // namespace sp
