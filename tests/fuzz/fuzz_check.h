#pragma once
// Shared by the fuzz targets: an invariant that must hold for every input.
// A broken one aborts, which libFuzzer reports as a crash with the input
// saved as an artifact.

#include <cstdio>
#include <cstdlib>

namespace cb::fuzz {

inline void check(bool holds, const char* invariant) {
  if (!holds) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", invariant);
    std::abort();
  }
}

}  // namespace cb::fuzz
