// Pure parsers for the values users type: SIZE, DURATION, RATE, PORT, port
// lists and CIDR blocks. They never touch the OS, so unit tests cover them
// exhaustively. Errors are usage errors that say what was expected; the
// caller prefixes the flag name.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sp {

using Duration = std::chrono::nanoseconds;

// "4096", "64K", "1M", "2G", "1T", "16KiB", "1.5M" -> bytes (powers of 1024).
Result<uint64_t> parse_size(std::string_view text);

// "250ms", "2s", "1m", "1h", "1.5", "5" (bare = seconds, as nc -w), "100us".
Result<Duration> parse_duration(std::string_view text);

// Rates in bytes per second: "10M" (bytes/s, powers of 1024) or bit rates
// with SI prefixes as iperf3 uses them: "100Mbit", "10Gbit", "1Gbps".
Result<uint64_t> parse_rate(std::string_view text);

// Service name -> port ("http" -> 80), or 0 when unknown. parse.cc stays
// pure: the caller passes the lookup (core/address.h: lookup_service).
using ServiceLookup = uint16_t (*)(std::string_view name);

// A port number 1-65535, or 0-65535 when allow_zero; with `services`, a
// service name too ("http", "ssh").
Result<uint16_t> parse_port(std::string_view text, bool allow_zero = false, ServiceLookup services = nullptr);

// "22,80,8000-8010" -> {22, 80, 8000, ..., 8010}; order kept, duplicates
// dropped; at most 65535 entries. With `services`, an item may be a service
// name ("ssh,https"); ranges are numeric.
Result<std::vector<uint16_t>> parse_port_list(std::string_view text, ServiceLookup services = nullptr);

// One argument "HOST:PORT" or "[V6]:PORT" -> {HOST, PORT} (brackets
// dropped); nullopt when it is not of that form: a name, an IPv4 address,
// a bare IPv6 literal ("::1", two colons or more) or "[::1]" alone.
struct HostPort {
  std::string host, port;
};
std::optional<HostPort> split_host_port(std::string_view text);

// A non-negative integer that fits in int (counts, backlog values).
Result<long long> parse_count(std::string_view text, long long min, long long max);

// An IPv4 or IPv6 CIDR block ("10.0.0.0/8", "::1/128", "127.0.0.1" = /32).
struct Cidr {
  int family = 0;          // AF_INET or AF_INET6
  unsigned char addr[16] = {};  // network byte order; IPv4 uses the first 4
  int prefix = 0;
};
Result<Cidr> parse_cidr(std::string_view text);

// Does the address (AF_INET: 4 bytes, AF_INET6: 16 bytes) fall in the block?
// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) matches IPv4 blocks.
bool cidr_contains(const Cidr& block, int family, const unsigned char* addr);

// Human units for reports: 1536 -> "1.5 KiB", 8388608 -> "8 MiB".
std::string human_bytes(uint64_t bytes);
// A buffer size in both forms: 65536 -> "65536 (64 KiB)". A negative value
// is no size (a getsockopt that failed, a sysctl that is missing): "?".
std::string sized(int64_t bytes);
// Bits per second in SI units, as iperf3 reports: "9.41 Gbit/s".
std::string human_bits_per_second(double bytes_per_second);
// Seconds with sensible precision: 0.000123 -> "123us", 1.5 -> "1.50s".
std::string human_duration(double seconds);
// A count and its noun: counted(1, "connection") -> "1 connection",
// counted(2, "connection") -> "2 connections" (an s for the plural).
std::string counted(uint64_t n, std::string_view noun);

}  // namespace sp
