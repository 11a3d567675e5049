// Why: `buffers` reads /proc/sys/net/{core,ipv4,unix} values through the
// ProcFs replay seam and explains socket buffer sizes from them with
// integer arithmetic (clamps, doubling, the BDP). A container or an odd
// kernel can hand back junk, negative numbers or 64-bit extremes. Input: 32
// bytes of numbers (measured value, request, rate, RTT, skmem), then the
// sysctl files' texts separated by NULs, written to a scratch /proc tree.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>

#include "core/bufrules.h"
#include "core/procfs.h"
#include "fuzz/fuzz.h"

namespace {

std::string scratch_root() {
  static std::string root = [] {
    char tmpl[] = "/tmp/sockprobe-fuzz-sysctl-XXXXXX";
    const char* dir = ::mkdtemp(tmpl);
    FUZZ_CHECK(dir != nullptr);
    return std::string(dir);
  }();
  return root;
}

// ROOT/sys/net/core/rmem_max for "net.core.rmem_max"; an empty part = no file.
void write_sysctl(const std::string& root, std::string_view name, std::string_view text, bool present) {
  std::string path = root + "/sys";
  ::mkdir(path.c_str(), 0700);
  size_t start = 0;
  for (size_t dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.', start)) {
    path += "/" + std::string(name.substr(start, dot - start));
    ::mkdir(path.c_str(), 0700);
    start = dot + 1;
  }
  path += "/" + std::string(name.substr(start));
  if (!present) {
    ::unlink(path.c_str());
    return;
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

uint64_t u64(sp::fuzz::Bytes& in) {
  uint64_t v = 0;
  std::string_view b = in.take(8);
  std::memcpy(&v, b.data(), b.size());
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sp::fuzz::Bytes in(data, size);
  auto measured = static_cast<int64_t>(u64(in));
  uint64_t requested = u64(in), rate = u64(in);
  sp::Duration rtt(static_cast<int64_t>(u64(in) % 4000000000000ULL));  // up to ~1 h
  std::string_view files = in.rest();
  std::string root = scratch_root();
  size_t start = 0;
  for (auto name : sp::buffer_sysctl_names()) {
    size_t nul = files.find('\0', start);
    bool present = start <= files.size();
    std::string_view part = present ? files.substr(start, nul == std::string_view::npos ? nul : nul - start) : "";
    write_sysctl(root, name, part, present);
    start = nul == std::string_view::npos ? files.size() + 1 : nul + 1;
  }
  sp::BufferLimits lim = sp::read_buffer_limits(sp::ProcFs(root));
  for (auto k : sp::kAllSockKinds) {
    for (auto d : {sp::BufDir::Send, sp::BufDir::Receive}) {
      (void)sp::explain_fresh(k, d, lim, measured);
      (void)sp::tcp_lock_note(k, d, lim, measured);
      for (bool force : {false, true}) {
        sp::SetPrediction p = sp::predict_set(d, requested, force, lim, sp::KernelMinima{});
        FUZZ_CHECK(!p.effective || *p.effective >= 0);
        (void)sp::explain_set(d, p, measured);
      }
    }
  }
  if (auto bdp = sp::bdp_advice(rate, rtt, lim); bdp.ok()) FUZZ_CHECK(bdp->checks.size() == 4);
  sp::SockInfo s;
  s.skmem = sp::SkMem{static_cast<uint32_t>(requested), static_cast<uint32_t>(requested >> 32),
                      static_cast<uint32_t>(rate), static_cast<uint32_t>(rate >> 32)};
  for (auto t : {sp::Transport::Tcp, sp::Transport::Udp, sp::Transport::Unix}) {
    s.transport = t;
    (void)sp::live_notes(s, lim);
  }
  return 0;
}
