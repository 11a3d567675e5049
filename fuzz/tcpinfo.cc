// Why: getsockopt(TCP_INFO) returns as many bytes as the running kernel's
// struct tcp_info has: older kernels fewer than our TcpInfoRaw, newer ones
// are cut at our size. Only fields inside `length` may be reported (has()),
// and the stall explanations must hold for any values. Input: a 16-bit
// length (mod sizeof(TcpInfoRaw) + 1), the snapshot's queue bytes, then the
// struct bytes.
#include "core/stall.h"
#include "core/tcpinfo.h"
#include "fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sp::fuzz::Bytes in(data, size);
  sp::StallSnapshot s;
  s.tcp_info.length = in.u16() % (sizeof(sp::TcpInfoRaw) + 1);
  uint8_t have = in.byte();
  s.have_outq = have & 1;
  s.have_notsent = have & 2;
  s.have_inq = have & 4;
  s.have_tcp_info = have & 8;
  s.outq = in.u16();
  s.notsent = in.u16();
  s.inq = in.u16();
  // What the kernel did not fill stays zero, as get_tcp_info leaves it.
  std::string_view raw = in.take(s.tcp_info.length);
  std::memcpy(&s.tcp_info.raw, raw.data(), raw.size());
  sp::Json j = sp::tcp_info_json(s.tcp_info);
  FUZZ_CHECK(j.contains("snd_wnd") == s.tcp_info.has(&sp::TcpInfoRaw::snd_wnd));
  (void)j.dump();
  (void)sp::tcp_info_summary(s.tcp_info);
  for (double secs : {0.0, 1.5, 1e9}) {
    (void)sp::explain_send_stall(s, secs);
    (void)sp::explain_recv_stall(s, secs);
  }
  (void)sp::stall_json(s).dump();
  return 0;
}
