// Why: peers and other local users choose Unix socket names, abstract names
// and process command names; printed raw, a name holding ESC]0;...BEL or
// ESC[2J retitles or clears the reader's terminal, and a newline forges a
// report line. Every such string goes through terminal_safe() before it
// reaches human output (JSON escapes on its own), as `ss` and `ls -b` do.
#pragma once

#include <string>
#include <string_view>

namespace sp {

// The text with every byte that is not printable escaped: \n \r \t as
// such, other C0 controls, DEL, C1 controls (U+0080-U+009F) and bytes that
// are not valid UTF-8 as \ooo (octal, as ls -b). Printable UTF-8 is kept.
// Decision: a backslash is kept as is (ls -b doubles it): the escaping is
// then idempotent, so a message built from already-escaped names can be
// escaped again as a whole (usage errors are) without doubling anything.
std::string terminal_safe(std::string_view text);

// True when terminal_safe(text) == text (nothing to escape).
bool is_terminal_safe(std::string_view text);

}  // namespace sp
