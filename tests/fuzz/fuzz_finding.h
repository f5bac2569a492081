// A fuzz property violation: print it and abort, so libFuzzer keeps the input.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace mg::fuzz {

[[noreturn]] inline void finding(const char* what) {
  std::fprintf(stderr, "fuzz property violated: %s\n", what);
  std::abort();
}

}  // namespace mg::fuzz
