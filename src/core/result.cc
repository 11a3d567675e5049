// Exit-status mapping and errno text: the only place error kinds meet numbers.
#include "core/result.h"

#include <cstring>

namespace sp {

int exit_code(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::System: return 1;
    case ErrorKind::Usage: return 2;
    case ErrorKind::Timeout: return 3;
    case ErrorKind::Check: return 4;
    case ErrorKind::Interrupted: return 130;
  }
  return 1;
}

std::string errno_text(int err) {
  char buf[256];
  // GNU strerror_r returns a pointer that may or may not be buf.
  const char* s = strerror_r(err, buf, sizeof buf);
  return s;
}

}  // namespace sp
