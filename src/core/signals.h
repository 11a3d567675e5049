// SIGPIPE is ignored (a reset peer becomes EPIPE, an error value); SIGINT
// sets a flag and wakes every event loop through a self-pipe, so transfers
// can print their summary and exit 130. A second SIGINT kills at once.
// SIGTERM and SIGHUP keep their default action (the process ends at once,
// a shell reports 143 / 129), but first remove the Unix socket file a
// listener registered, so no stale file is left behind; so does the second
// SIGINT.
#pragma once

namespace sp {

void install_signal_handlers();
// True once SIGINT arrived.
bool interrupted();
// A read end to include in poll sets: readable once SIGINT arrived (-1 before
// install_signal_handlers()).
int interrupt_fd();

// The socket file to unlink if a signal ends the process (one at a time;
// the path is copied, up to 4095 bytes). Forget it when the listener closes.
void unlink_on_fatal_signal(const char* path);
void forget_unlink_on_fatal_signal();

// A sending socket to abort with a reset (SO_LINGER 0) if a signal ends the
// process, so the receiver sees a failed transfer, not a clean EOF. -1:
// none.
void reset_on_fatal_signal(int fd);

}  // namespace sp
