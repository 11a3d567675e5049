// Parsers for SIZE, DURATION, RATE, PORT, port lists and CIDR (see parse.h).
#include "core/parse.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <set>

#include <fmt/format.h>

namespace sp {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Splits "1.5MiB" into number 1.5 and suffix "mib" (lowercased). Fails when
// there is no leading number or the number is malformed.
bool split_number(std::string_view text, double* number, std::string* suffix) {
  size_t i = 0;
  bool digits = false, dot = false;
  while (i < text.size()) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      digits = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
    ++i;
  }
  if (!digits) return false;
  std::string num(text.substr(0, i));
  char* end = nullptr;
  errno = 0;
  *number = std::strtod(num.c_str(), &end);
  if (errno != 0 || end != num.c_str() + num.size() || !std::isfinite(*number)) return false;
  *suffix = lower(text.substr(i));
  return true;
}

bool parse_u64(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && p == text.data() + text.size();
}

}  // namespace

Result<uint64_t> parse_size(std::string_view text) {
  auto bad = [&] {
    return usage_error(fmt::format("'{}' is not a SIZE (bytes, optionally with K, M, G or T, e.g. 64K)", text));
  };
  double n = 0;
  std::string suffix;
  if (!split_number(text, &n, &suffix)) return bad();
  static const std::pair<const char*, int> units[] = {
      {"", 0},   {"b", 0},   {"k", 1},   {"kb", 1}, {"kib", 1}, {"m", 2}, {"mb", 2}, {"mib", 2},
      {"g", 3},  {"gb", 3},  {"gib", 3}, {"t", 4},  {"tb", 4},  {"tib", 4}};
  for (const auto& [name, power] : units) {
    if (suffix == name) {
      double bytes = n * std::pow(1024.0, power);
      if (bytes >= 18446744073709551615.0) {
        return usage_error(fmt::format("'{}' is too large for a SIZE", text));
      }
      if (power == 0 && n != std::floor(n)) return bad();
      return static_cast<uint64_t>(bytes);
    }
  }
  return bad();
}

Result<Duration> parse_duration(std::string_view text) {
  auto bad = [&] {
    return usage_error(fmt::format("'{}' is not a DURATION (e.g. 250ms, 2s, 1m, or seconds)", text));
  };
  double n = 0;
  std::string suffix;
  if (!split_number(text, &n, &suffix)) return bad();
  double ns_per_unit = 0;
  if (suffix.empty() || suffix == "s") ns_per_unit = 1e9;
  else if (suffix == "ms") ns_per_unit = 1e6;
  else if (suffix == "us") ns_per_unit = 1e3;
  else if (suffix == "m" || suffix == "min") ns_per_unit = 60e9;
  else if (suffix == "h") ns_per_unit = 3600e9;
  else return bad();
  double ns = n * ns_per_unit;
  if (ns > 1e18) return usage_error(fmt::format("'{}' is too long a DURATION", text));
  return Duration(static_cast<int64_t>(ns));
}

Result<uint64_t> parse_rate(std::string_view text) {
  auto bad = [&] {
    return usage_error(fmt::format(
        "'{}' is not a RATE (bytes/s like 10M, or bits/s like 100Mbit, 1Gbit)", text));
  };
  double n = 0;
  std::string suffix;
  if (!split_number(text, &n, &suffix)) return bad();
  // Bit rates: SI prefixes (1 Mbit = 10^6 bits), as iperf3 and tc use them.
  static const std::pair<const char*, double> bit_units[] = {
      {"bit", 1},   {"bps", 1},   {"kbit", 1e3}, {"kbps", 1e3}, {"mbit", 1e6},
      {"mbps", 1e6}, {"gbit", 1e9}, {"gbps", 1e9}, {"tbit", 1e12}, {"tbps", 1e12}};
  for (const auto& [name, mult] : bit_units) {
    if (suffix == name) {
      double bytes = n * mult / 8.0;
      if (bytes < 1 || bytes >= 1.8e19) return bad();
      return static_cast<uint64_t>(bytes);
    }
  }
  auto size = parse_size(text);
  if (!size.ok() || *size == 0) return bad();
  return *size;
}

Result<uint16_t> parse_port(std::string_view text, bool allow_zero, ServiceLookup services) {
  uint64_t v = 0;
  if (parse_u64(text, &v) && v <= 65535 && (v != 0 || allow_zero)) return static_cast<uint16_t>(v);
  if (services != nullptr && !text.empty() && !parse_u64(text, &v)) {
    if (uint16_t p = services(text); p != 0) return p;
    return usage_error(fmt::format("'{}' is not a port number ({}-65535) or a service name (/etc/services)", text,
                                   allow_zero ? 0 : 1));
  }
  return usage_error(fmt::format("'{}' is not a port number ({}-65535)", text, allow_zero ? 0 : 1));
}

std::optional<HostPort> split_host_port(std::string_view text) {
  if (text.starts_with('[')) {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    if (close == 1 || close + 2 == text.size()) return std::nullopt;
    return HostPort{std::string(text.substr(1, close - 1)), std::string(text.substr(close + 2))};
  }
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos) return std::nullopt;
  if (colon == 0 || colon + 1 == text.size()) return std::nullopt;
  return HostPort{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
}

Result<std::vector<uint16_t>> parse_port_list(std::string_view text, ServiceLookup services) {
  std::vector<uint16_t> ports;
  std::set<uint16_t> seen;
  auto bad = [&](std::string_view part) {
    return usage_error(fmt::format("'{}' in '{}' is not a port or range (e.g. 22,80,8000-8010)", part, text));
  };
  if (text.empty()) return bad(text);
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string_view part = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    size_t dash = part.find('-');
    uint64_t lo = 0, hi = 0;
    uint16_t named = services != nullptr && !part.empty() && !parse_u64(part, &lo) ? services(part) : 0;
    if (named != 0) {
      lo = hi = named;  // a service name (which may hold a '-': "http-alt")
    } else if (dash == std::string_view::npos) {
      if (!parse_u64(part, &lo)) return bad(part);
      hi = lo;
    } else if (!parse_u64(part.substr(0, dash), &lo) || !parse_u64(part.substr(dash + 1), &hi)) {
      return bad(part);
    }
    if (lo == 0 || hi > 65535 || lo > hi) return bad(part);
    for (uint64_t p = lo; p <= hi; ++p) {
      if (seen.insert(static_cast<uint16_t>(p)).second) ports.push_back(static_cast<uint16_t>(p));
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return ports;
}

Result<long long> parse_count(std::string_view text, long long min, long long max) {
  long long v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || v < min || v > max) {
    return usage_error(fmt::format("'{}' is not a whole number from {} to {}", text, min, max));
  }
  return v;
}

Result<Cidr> parse_cidr(std::string_view text) {
  auto bad = [&] {
    return usage_error(fmt::format("'{}' is not a CIDR block (e.g. 127.0.0.0/8, ::1/128)", text));
  };
  Cidr c;
  std::string addr(text);
  int max_prefix = 0;
  size_t slash = addr.find('/');
  std::string prefix_text;
  if (slash != std::string::npos) {
    prefix_text = addr.substr(slash + 1);
    addr.resize(slash);
  }
  if (addr.size() > 2 && addr.front() == '[' && addr.back() == ']') addr = addr.substr(1, addr.size() - 2);
  if (inet_pton(AF_INET, addr.c_str(), c.addr) == 1) {
    c.family = AF_INET;
    max_prefix = 32;
  } else if (inet_pton(AF_INET6, addr.c_str(), c.addr) == 1) {
    c.family = AF_INET6;
    max_prefix = 128;
  } else {
    return bad();
  }
  c.prefix = max_prefix;
  if (slash != std::string::npos) {
    uint64_t p = 0;
    if (!parse_u64(prefix_text, &p) || p > static_cast<uint64_t>(max_prefix)) return bad();
    c.prefix = static_cast<int>(p);
  }
  // Zero the host bits so comparisons are simple.
  int bytes = max_prefix / 8;
  for (int i = 0; i < bytes; ++i) {
    int bit_start = i * 8;
    if (bit_start >= c.prefix) {
      c.addr[i] = 0;
    } else if (bit_start + 8 > c.prefix) {
      c.addr[i] &= static_cast<unsigned char>(0xff << (8 - (c.prefix - bit_start)));
    }
  }
  return c;
}

bool cidr_contains(const Cidr& block, int family, const unsigned char* addr) {
  static const unsigned char mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (family == AF_INET6 && block.family == AF_INET && std::memcmp(addr, mapped_prefix, 12) == 0) {
    family = AF_INET;
    addr += 12;
  }
  if (family != block.family) return false;
  int full = block.prefix / 8, rest = block.prefix % 8;
  if (std::memcmp(addr, block.addr, static_cast<size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  auto mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (addr[full] & mask) == block.addr[full];
}

std::string human_bytes(uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  if (u == 0) return fmt::format("{} B", bytes);
  if (v == std::floor(v)) return fmt::format("{:.0f} {}", v, units[u]);
  return fmt::format("{:.{}f} {}", v, v < 10 ? 2 : 1, units[u]);
}

std::string sized(int64_t bytes) {
  if (bytes < 0) return "?";
  return fmt::format("{} ({})", bytes, human_bytes(static_cast<uint64_t>(bytes)));
}

std::string human_bits_per_second(double bytes_per_second) {
  static const char* units[] = {"bit/s", "Kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"};
  double v = bytes_per_second * 8;
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  return fmt::format("{:.{}f} {}", v, v < 10 ? 2 : (v < 100 ? 1 : 0), units[u]);
}

std::string counted(uint64_t n, std::string_view noun) {
  return fmt::format("{} {}{}", n, noun, n == 1 ? "" : "s");
}

std::string human_duration(double seconds) {
  if (seconds < 1e-3) return fmt::format("{:.0f}us", seconds * 1e6);
  if (seconds < 1) return fmt::format("{:.1f}ms", seconds * 1e3);
  return fmt::format("{:.2f}s", seconds);
}

}  // namespace sp
