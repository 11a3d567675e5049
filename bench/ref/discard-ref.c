// The least a discard server can do per connection, the reference for
// `listen --discard -q` that does the same work (bench/burst_ref.sh row
// "server-eof"). ../shared/bench/burst-ref.c's server closes right after
// accept, which a discard server must not: it reads every byte until the
// client's EOF, and only then closes. This one does exactly that and nothing
// else: epoll, a batch of accept4, a read on each new connection (its FIN is
// often there already), level-triggered EPOLLIN for the rest, close at EOF.
//   discard-ref   -> prints its port (127.0.0.1, port 0), runs until killed
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[65536];

// Reads c until EAGAIN (returns 0: keep it) or EOF/error (closes it, 1).
static int drain(int c) {
  for (;;) {
    ssize_t n = recv(c, buf, sizeof buf, 0);
    if (n > 0) continue;
    if (n < 0 && errno == EAGAIN) return 0;
    close(c);
    return 1;
  }
}

int main(void) {
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(ls, (void *)&a, sizeof a) || listen(ls, 4096)) { perror("listen"); return 1; }
  socklen_t l = sizeof a;
  getsockname(ls, (void *)&a, &l);
  printf("%d\n", ntohs(a.sin_port));
  fflush(stdout);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls}, evs[256];
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    if (n < 0 && errno != EINTR) return 1;
    for (int i = 0; i < n; ++i) {
      int fd = evs[i].data.fd;
      if (fd != ls) { drain(fd); continue; }
      for (;;) {
        int c = accept4(ls, 0, 0, SOCK_NONBLOCK);
        if (c < 0) break;
        if (drain(c)) continue;
        struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
      }
    }
  }
}
