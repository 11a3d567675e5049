// Reporter pieces that need no stream: the warning line and its colour.
#include "core/report.h"

#include <doctest/doctest.h>

namespace sp {

TEST_CASE("warning_line is coloured only when asked") {
  CHECK(warning_line("accept: EMFILE", false) == "sockprobe: warning: accept: EMFILE");
  CHECK(warning_line("x", true) == "sockprobe: \x1b[33mwarning\x1b[0m: x");
}

}  // namespace sp
