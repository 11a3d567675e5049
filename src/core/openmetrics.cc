// Metrics text for `backlog --openmetrics` (see openmetrics.h): label
// escaping, snake_case names, one family per figure, listeners of one label
// set merged into one series.
#include "core/openmetrics.h"

#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

namespace sp {
namespace {

constexpr const char* kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 sequence at s[i] (1-4), or 0 when invalid
// (overlong forms, surrogates and code points above U+10FFFF included).
size_t utf8_length(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

struct Key {
  std::string protocol, address, port, command;
  auto tie() const { return std::tie(protocol, address, port, command); }
  bool operator<(const Key& o) const { return tie() < o.tie(); }
};

struct Series {
  uint64_t queue = 0, queue_max = 0;
  std::optional<uint64_t> drops, syn_recv;
  std::set<uint64_t> groups_seen;
};

void add_to(Series& s, const ListenerMetrics& l) {
  s.queue += l.queue;
  s.queue_max += l.queue_max;
  if (l.drops) s.drops = s.drops.value_or(0) + *l.drops;
  if (!l.syn_recv) return;
  if (l.syn_recv_group != 0 && !s.groups_seen.insert(l.syn_recv_group).second) return;  // counted once
  s.syn_recv = s.syn_recv.value_or(0) + *l.syn_recv;
}

std::string labels_of(const Key& k) {
  std::string out = fmt::format("protocol=\"{}\",address=\"{}\"", metrics_label_value(k.protocol),
                                metrics_label_value(k.address));
  if (!k.port.empty()) out += fmt::format(",port=\"{}\"", k.port);
  if (!k.command.empty()) out += fmt::format(",command=\"{}\"", metrics_label_value(k.command));
  return out;
}

struct Family {
  const char* name;
  const char* type;
  const char* help;
  std::optional<uint64_t> (*value)(const Series&);
};

const Family kListenerFamilies[] = {
    {"sockprobe_listener_queue", "gauge", "Connections completed and waiting in the listener's accept queue.",
     [](const Series& s) { return std::optional<uint64_t>(s.queue); }},
    {"sockprobe_listener_queue_max", "gauge",
     "The listener's effective backlog (Linux holds max + 1 connections before it drops SYNs).",
     [](const Series& s) { return std::optional<uint64_t>(s.queue_max); }},
    {"sockprobe_listener_drops_total", "counter",
     "Packets the kernel dropped at this listener (SYNs and final ACKs; sock_diag skmem d).",
     [](const Series& s) { return s.drops; }},
    {"sockprobe_listener_syn_recv", "gauge",
     "Handshakes waiting for the client's final ACK (request sockets in SYN-RECV).",
     [](const Series& s) { return s.syn_recv; }},
};

void append_family(std::string& out, const Family& f, const std::map<Key, Series>& series) {
  std::string samples;
  for (const auto& [key, s] : series) {
    if (auto v = f.value(s)) samples += fmt::format("{}{{{}}} {}\n", f.name, labels_of(key), *v);
  }
  if (samples.empty()) return;
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, f.help, f.name, f.type) + samples;
}

std::string help_text(const std::string& name) {
  std::string meaning(counter_meaning(name));
  std::string out = fmt::format("TcpExt {} of this network namespace (packets, not connections)", name);
  if (!meaning.empty()) out += ": " + meaning;
  // HELP text escapes only \\ and \n.
  std::string escaped;
  for (char c : out) escaped += c == '\\' ? "\\\\" : c == '\n' ? "\\n" : std::string(1, c);
  return escaped;
}

}  // namespace

std::string metrics_label_value(std::string_view value) {
  std::string out;
  for (size_t i = 0; i < value.size();) {
    size_t n = utf8_length(value, i);
    unsigned char c = static_cast<unsigned char>(value[i]);
    if (n == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else if (c < 0x20 || c == 0x7F) out += kReplacement;
    else if (n == 2 && c == 0xC2 && static_cast<unsigned char>(value[i + 1]) < 0xA0) out += kReplacement;  // C1
    else out.append(value.substr(i, n));
    i += n;
  }
  return out;
}

std::string metrics_snake_case(std::string_view name) {
  std::string out;
  auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool boundary = i > 0 && upper(c) &&
                    (lower_or_digit(name[i - 1]) ||
                     (upper(name[i - 1]) && i + 1 < name.size() && lower_or_digit(name[i + 1])));
    if (boundary) out += '_';
    out += upper(c) ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

std::string format_metrics(const std::vector<ListenerMetrics>& listeners, const Counters& counters) {
  std::map<Key, Series> series;
  for (const auto& l : listeners) {
    Key k{l.protocol, l.address, l.port ? std::to_string(*l.port) : std::string(), l.command};
    add_to(series[k], l);
  }
  std::string out;
  for (const Family& f : kListenerFamilies) append_family(out, f, series);
  std::vector<std::string> names = listen_counter_names();
  names.push_back(kBacklogDropCounter);
  for (const auto& name : names) {
    auto v = counter(counters, name);
    if (!v) continue;
    std::string metric = "sockprobe_tcpext_" + metrics_snake_case(name) + "_total";
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", metric, help_text(name), metric, metric, *v);
  }
  return out + "# EOF\n";
}

}  // namespace sp
