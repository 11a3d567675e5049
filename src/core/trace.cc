// The BPF side of `backlog trace` (see trace.h): libbpf skeleton open, load,
// attach, the listener enumeration and the ring-buffer poll loop.
//
// libbpf is linked statically (with libelf and zlib): dynamically they cost
// +0.25 ms (min) on `sockprobe --version`, statically nothing measurable
// (the Decision and its numbers are in src/meson.build).
#include "core/trace.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "core/procfs.h"
#include "core/wait.h"

#if SOCKPROBE_HAVE_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/backlog_trace.skel.h"
#endif

namespace sp {
#if !SOCKPROBE_HAVE_BPF

Result<std::unique_ptr<Trace>> start_trace(const TraceOptions&) {
  return system_error("backlog trace: this sockprobe was built without BPF support (meson setup -Dbpf=enabled, "
                      "with clang, bpftool and libbpf-dev)");
}

#else

namespace {

constexpr const char* kBtfPath = "/sys/kernel/btf/vmlinux";

// Root, or CAP_BPF + CAP_PERFMON: checked first so that the error is one
// clear line instead of libbpf's EPERM on the first map.
Status check_privileges() {
  auto status = ProcFs().read("self/status");
  std::optional<uint64_t> caps = status.ok() ? parse_cap_eff(*status) : std::nullopt;
  if (caps && caps_allow_tracing(*caps)) return {};
  return system_error("backlog trace needs root (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN) to load its BPF "
                      "program: run it with sudo");
}

Status check_btf() {
  if (::access(kBtfPath, R_OK) == 0) return {};
  return system_error(fmt::format("backlog trace needs the kernel's BTF type information: {}: {} (a kernel built "
                                  "with CONFIG_DEBUG_INFO_BTF)", kBtfPath, errno_text(errno)));
}


// libbpf's own messages: kept, not printed; the last warning explains a
// failed load ("libbpf: prog 'x': BPF program load failed: ...").
std::string g_libbpf_last;

int libbpf_message(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char buf[512];
  int n = std::vsnprintf(buf, sizeof buf, format, args);
  if (n > 0) {
    std::string line(buf);
    while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) g_libbpf_last = line;
  }
  return 0;
}

std::string libbpf_detail() { return g_libbpf_last.empty() ? "" : " (" + g_libbpf_last + ")"; }

Error bpf_error(const std::string& what, int err) {
  err = err < 0 ? -err : err;
  std::string hint = err == EPERM || err == EACCES ? "; the kernel refused it (lockdown, a seccomp filter or "
                                                     "missing capabilities)"
                                                   : "";
  return system_error(fmt::format("backlog trace: {}: {}{}{}", what, errno_text(err), hint, libbpf_detail()));
}

class BpfTrace final : public Trace {
 public:
  ~BpfTrace() override {
    if (rb_) ring_buffer__free(rb_);
    if (skel_) backlog_trace__destroy(skel_);
  }
  int listeners() const override { return listeners_; }
  uint64_t lost() const override { return skel_ && skel_->bss ? skel_->bss->lost_events : 0; }
  Status poll(std::optional<std::chrono::steady_clock::time_point> deadline,
              const std::function<bool(const TraceRecord&)>& sink) override;

  Status open(const TraceOptions& o);
  Status attach();

 private:
  static int on_record(void* self, void* data, size_t size);
  Status enumerate_listeners();
  int count_listeners() const;

  backlog_trace* skel_ = nullptr;
  ring_buffer* rb_ = nullptr;
  int listeners_ = 0;
  const std::function<bool(const TraceRecord&)>* sink_ = nullptr;
  bool stopped_ = false;
  Error decode_error_;
  bool decode_failed_ = false;
};

Status BpfTrace::open(const TraceOptions& o) {
  libbpf_set_print(libbpf_message);
  skel_ = backlog_trace__open();
  if (!skel_) return bpf_error("open the BPF program", errno);
  struct stat st = {};
  if (::stat("/proc/self/ns/net", &st) != 0) {
    return system_error(fmt::format("stat /proc/self/ns/net: {}", errno_text(errno)));
  }
  skel_->rodata->target_netns = static_cast<__u32>(st.st_ino);
  skel_->rodata->filter_port = o.port.value_or(0);
  bpf_program__set_autoattach(skel_->progs.enum_listeners, false);
  if (int err = backlog_trace__load(skel_); err != 0) return bpf_error("load the BPF program", err);
  return {};
}

// The tracepoints first, then the listener walk: a listener that appears
// in between is added by inet_sock_set_state, none is missed.
Status BpfTrace::attach() {
  if (int err = backlog_trace__attach(skel_); err != 0) return bpf_error("attach the tracepoints", err);
  if (Status st = enumerate_listeners(); !st) return st;
  listeners_ = count_listeners();
  rb_ = ring_buffer__new(bpf_map__fd(skel_->maps.events), on_record, this, nullptr);
  if (!rb_) return bpf_error("open the ring buffer", errno);
  return {};
}

Status BpfTrace::enumerate_listeners() {
  bpf_link* link = bpf_program__attach_iter(skel_->progs.enum_listeners, nullptr);
  if (!link) return bpf_error("attach the TCP socket iterator", errno);
  int fd = bpf_iter_create(bpf_link__fd(link));
  if (fd < 0) {
    int err = errno;
    bpf_link__destroy(link);
    return bpf_error("run the TCP socket iterator", err);
  }
  char buf[256];
  ssize_t n = 0;
  for (int i = 0; i < 100000 && (n = ::read(fd, buf, sizeof buf)) > 0; ++i) {
  }
  int err = errno;
  ::close(fd);
  bpf_link__destroy(link);
  if (n < 0) return bpf_error("read the TCP socket iterator", err);
  return {};
}

int BpfTrace::count_listeners() const {
  int fd = bpf_map__fd(skel_->maps.listeners);
  __u64 key = 0, next = 0;
  int n = 0;
  const void* prev = nullptr;
  while (n < 1 << 20 && bpf_map_get_next_key(fd, prev, &next) == 0) {
    key = next;
    prev = &key;
    ++n;
  }
  return n;
}

int BpfTrace::on_record(void* self, void* data, size_t size) {
  auto* t = static_cast<BpfTrace*>(self);
  auto rec = decode_trace_event({static_cast<const unsigned char*>(data), size});
  if (!rec.ok()) {
    t->decode_error_ = rec.take_error();
    t->decode_failed_ = true;
    return -EINVAL;
  }
  if (!(*t->sink_)(*rec)) {
    t->stopped_ = true;
    return -ECANCELED;
  }
  return 0;
}

Status BpfTrace::poll(std::optional<std::chrono::steady_clock::time_point> deadline,
                      const std::function<bool(const TraceRecord&)>& sink) {
  sink_ = &sink;
  // The ring is drained after every wake, an interrupted one too: what
  // the kernel recorded before Ctrl-C or the deadline is reported.
  for (;;) {
    auto w = wait_fd(ring_buffer__epoll_fd(rb_), POLLIN, deadline);
    if (!w.ok()) return w.take_error();
    int got = ring_buffer__consume(rb_);
    if (decode_failed_) return decode_error_;
    if (stopped_) return {};
    if (got < 0 && got != -EINTR) return bpf_error("read the ring buffer", got);
    if (*w == Wake::Interrupted) return interrupted_error();
    if (*w == Wake::Timeout) return {};
  }
}

}  // namespace

Result<std::unique_ptr<Trace>> start_trace(const TraceOptions& o) {
  if (Status st = check_privileges(); !st) return st.error();
  if (Status st = check_btf(); !st) return st.error();
  auto t = std::make_unique<BpfTrace>();
  if (Status st = t->open(o); !st) return st.error();
  if (Status st = t->attach(); !st) return st.error();
  return std::unique_ptr<Trace>(std::move(t));
}

#endif

}  // namespace sp
