// wait_fds/wait_epoll/sleep_interruptible: Ready for a ready fd, Timeout at
// the deadline and not before (another signal's EINTR is retried, not
// returned), Interrupted for SIGINT -- before or during the wait. SIGINT is
// one-shot and process-wide, so those cases run in a child.
#include "core/wait.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include <doctest/doctest.h>

#include "core/fd.h"
#include "core/signals.h"
#include "core/testfds.h"

namespace sp {
namespace {

using namespace std::chrono_literals;
using testing::FdPair;
using testing::in_child;
using testing::pipe_pair;
using testing::sigint_soon;

void on_alarm(int) {}

// SIGALRM every 5 ms without SA_RESTART: poll() keeps failing with EINTR.
void start_alarm_storm() {
  struct sigaction sa = {};
  sa.sa_handler = on_alarm;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGALRM, &sa, nullptr);
  itimerval t = {{0, 5000}, {0, 5000}};
  ::setitimer(ITIMER_REAL, &t, nullptr);
}

void stop_alarm_storm() {
  itimerval t = {};
  ::setitimer(ITIMER_REAL, &t, nullptr);
  ::signal(SIGALRM, SIG_IGN);
}

}  // namespace

TEST_CASE("wait_fds: a readable pipe is Ready with revents filled in; fd -1 is ignored") {
  FdPair p = pipe_pair();
  REQUIRE(::write(p.b.get(), "x", 1) == 1);
  pollfd fds[2] = {{-1, POLLIN, 0}, {p.a.get(), POLLIN, 0}};
  auto w = wait_fds(fds, WaitClock::now() + 1s);
  REQUIRE(w.ok());
  CHECK(*w == Wake::Ready);
  CHECK((fds[1].revents & POLLIN) != 0);
  CHECK(fds[0].revents == 0);
}

TEST_CASE("wait_fd: nothing to read is a Timeout at the deadline, not before") {
  FdPair p = pipe_pair();
  auto start = WaitClock::now();
  auto w = wait_fd(p.a.get(), POLLIN, start + 30ms);
  REQUIRE(w.ok());
  CHECK(*w == Wake::Timeout);
  CHECK(WaitClock::now() - start >= 30ms);
}

TEST_CASE("wait_fd: a writer that left is Ready (POLLHUP) even for POLLIN") {
  FdPair p = pipe_pair();
  p.b.reset();
  pollfd fds[1] = {{p.a.get(), POLLIN, 0}};
  auto w = wait_fds(fds, std::nullopt);
  REQUIRE(w.ok());
  CHECK(*w == Wake::Ready);
  CHECK((fds[0].revents & POLLHUP) != 0);
}

TEST_CASE("wait_fd: other signals' EINTR is retried and does not shorten the wait") {
  int rc = in_child([] {
    FdPair p = pipe_pair();
    start_alarm_storm();
    auto start = WaitClock::now();
    auto w = wait_fd(p.a.get(), POLLIN, start + 60ms);
    bool full = WaitClock::now() - start >= 60ms;
    stop_alarm_storm();
    if (!w.ok()) return 3;
    return *w == Wake::Timeout && full ? 0 : 1;
  });
  CHECK(rc == 0);
}

TEST_CASE("wait_fd: SIGINT during the wait is Interrupted, long before the deadline") {
  int rc = in_child([] {
    FdPair p = pipe_pair();
    sigint_soon();
    auto start = WaitClock::now();
    auto w = wait_fd(p.a.get(), POLLIN, std::nullopt);
    if (!w.ok()) return 3;
    return *w == Wake::Interrupted && WaitClock::now() - start < 10s ? 0 : 1;
  });
  CHECK(rc == 0);
}

TEST_CASE("wait_fd: a SIGINT that came before the wait is not missed, even with an fd ready") {
  int rc = in_child([] {
    FdPair p = pipe_pair();
    if (::write(p.b.get(), "x", 1) != 1) return 4;
    ::kill(::getpid(), SIGINT);
    auto w = wait_fd(p.a.get(), POLLIN, std::nullopt);
    if (!w.ok()) return 3;
    return *w == Wake::Interrupted ? 0 : 1;
  });
  CHECK(rc == 0);
}

TEST_CASE("wait_epoll: Ready with the count, Timeout, and Interrupted through the SIGINT pipe") {
  int rc = in_child([] {
    FdPair p = pipe_pair();
    Fd ep(::epoll_create1(EPOLL_CLOEXEC));
    epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.fd = p.a.get();
    ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, p.a.get(), &ev);
    ev.data.fd = interrupt_fd();
    ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, interrupt_fd(), &ev);
    epoll_event out[4];
    int n = -1;
    auto w = wait_epoll(ep.get(), out, 4, WaitClock::now() + 20ms, &n);
    if (!w.ok() || *w != Wake::Timeout || n != 0) return 1;
    if (::write(p.b.get(), "x", 1) != 1) return 4;
    w = wait_epoll(ep.get(), out, 4, WaitClock::now() + 1s, &n);
    if (!w.ok() || *w != Wake::Ready || n != 1 || out[0].data.fd != p.a.get()) return 2;
    char c;
    if (::read(p.a.get(), &c, 1) != 1) return 4;
    sigint_soon();
    w = wait_epoll(ep.get(), out, 4, std::nullopt, &n);
    return w.ok() && *w == Wake::Interrupted ? 0 : 5;
  });
  CHECK(rc == 0);
}

TEST_CASE("wait_fds: more fds than the stack set holds") {
  std::vector<FdPair> pipes;
  for (int i = 0; i < 12; ++i) pipes.push_back(pipe_pair());
  REQUIRE(::write(pipes[11].b.get(), "x", 1) == 1);
  std::vector<pollfd> fds;
  for (auto& p : pipes) fds.push_back({p.a.get(), POLLIN, 0});
  auto w = wait_fds(fds, WaitClock::now() + 1s);
  REQUIRE(w.ok());
  CHECK(*w == Wake::Ready);
  CHECK(fds[11].revents == POLLIN);
  CHECK(fds[0].revents == 0);
}

TEST_CASE("sleep_interruptible: without SIGINT it sleeps at least the time asked") {
  auto start = WaitClock::now();
  CHECK(sleep_interruptible(20ms));
  CHECK(WaitClock::now() - start >= 20ms);
  CHECK(sleep_interruptible(0ms));
  CHECK(sleep_interruptible(-5ms));
}

TEST_CASE("sleep_interruptible: SIGINT ends the sleep and returns false") {
  int rc = in_child([] {
    sigint_soon();
    return sleep_interruptible(30s) ? 1 : 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("earlier: the nearer deadline, none when neither") {
  auto t = WaitClock::now();
  CHECK(!earlier(std::nullopt, std::nullopt));
  CHECK(*earlier(t, std::nullopt) == t);
  CHECK(*earlier(std::nullopt, t) == t);
  CHECK(*earlier(t + 1s, t) == t);
}

}  // namespace sp
