// terminal_safe: control sequences a hostile peer name carries come out as
// visible escapes; printable ASCII and UTF-8 come out unchanged.
#include "core/textsafe.h"

#include <string>

#include <doctest/doctest.h>

using sp::is_terminal_safe;
using sp::terminal_safe;

TEST_CASE("terminal_safe keeps printable text") {
  CHECK(terminal_safe("/tmp/sock.1 @name") == "/tmp/sock.1 @name");
  CHECK(terminal_safe("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(terminal_safe("") == "");
  CHECK(terminal_safe("a\\b") == "a\\b");
  CHECK(is_terminal_safe("nginx: worker"));
}

TEST_CASE("terminal_safe escapes the title and clear-screen sequences") {
  // What a Unix peer bound to "\e]0;pwned\a\e[2J" sends in its name.
  CHECK(terminal_safe("x\x1b]0;pwned\x07\x1b[2Jy") == "x\\033]0;pwned\\007\\033[2Jy");
  CHECK(terminal_safe(std::string("a\0b", 3)) == "a\\000b");
  CHECK(terminal_safe("line\nnext\r\t") == "line\\nnext\\r\\t");
  CHECK(terminal_safe("\x7f") == "\\177");
  CHECK_FALSE(is_terminal_safe("a\nb"));
}

TEST_CASE("terminal_safe escapes C1 controls and invalid UTF-8 byte by byte") {
  CHECK(terminal_safe("\xc2\x9b" "2J") == "\\302\\2332J");   // U+009B CSI
  CHECK(terminal_safe("\x9b") == "\\233");                    // a raw 8-bit CSI
  CHECK(terminal_safe("\xc3") == "\\303");                    // truncated sequence
  CHECK(terminal_safe("\xc0\xaf") == "\\300\\257");           // overlong '/'
  CHECK(terminal_safe("\xed\xa0\x80") == "\\355\\240\\200");  // a UTF-16 surrogate
  CHECK(terminal_safe("\xf4\x90\x80\x80") == "\\364\\220\\200\\200");  // above U+10FFFF
}

TEST_CASE("terminal_safe is idempotent") {
  std::string hostile = "\x1b[31mred\n\xff";
  CHECK(terminal_safe(terminal_safe(hostile)) == terminal_safe(hostile));
  CHECK(is_terminal_safe(terminal_safe(hostile)));
}
