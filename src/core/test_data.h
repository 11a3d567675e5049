// Unit tests only: where the captured fixtures (tests/data) are. Shared so
// every *_test.cc finds them the same way: tests/meson.build sets
// SOCKPROBE_TEST_DATA; the guesses cover running the binary by hand from the
// source or build directory.
#pragma once

#include <sys/stat.h>

#include <cstdlib>
#include <string>

namespace sp {

inline std::string test_data_dir() {
  if (const char* env = std::getenv("SOCKPROBE_TEST_DATA")) return env;
  for (const char* guess : {"tests/data", "../tests/data", "../../tests/data"}) {
    struct stat st;
    if (::stat(guess, &st) == 0) return guess;
  }
  return "tests/data";
}

}  // namespace sp
