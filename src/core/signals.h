// SIGPIPE is ignored (a reset peer becomes EPIPE, an error value); SIGINT
// sets a flag and wakes every event loop through a self-pipe, so transfers
// can print their summary and exit 130. A second SIGINT kills at once.
#pragma once

#include <chrono>

namespace sp {

void install_signal_handlers();
// True once SIGINT arrived.
bool interrupted();
// A read end to include in poll sets: readable once SIGINT arrived (-1 before
// install_signal_handlers()).
int interrupt_fd();

// Sleeps for d (a --watch interval, an accept backoff) unless SIGINT
// arrives: true after the full time, false at once when interrupted.
bool sleep_interruptible(std::chrono::steady_clock::duration d);

}  // namespace sp
