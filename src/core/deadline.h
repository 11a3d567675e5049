// Milliseconds until a deadline, as poll()/epoll_wait() want them. Written
// once because the rounding matters: truncating makes a poll wake just
// before the deadline and spin, and a long timeout (--idle-timeout 1000h)
// must not wrap to a negative int, which poll reads as "wait forever".
#pragma once

#include <chrono>
#include <optional>

namespace sp {

// -1 (wait forever) without a deadline; otherwise the time left rounded UP
// to whole milliseconds, clamped to [0, INT_MAX]: 0 once the deadline passed.
int poll_timeout_ms(std::optional<std::chrono::steady_clock::time_point> deadline,
                    std::chrono::steady_clock::time_point now);

}  // namespace sp
