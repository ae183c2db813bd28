#pragma once
// Helpers shared by the audit tests: locating third-party reference data
// (CB_REFERENCE_DIR, set by cb_add_gtest) and small test-only utilities.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "common/digest.h"

namespace cb::audit::testing {

/// ../shared/reference/merkle, from CB_REFERENCE_DIR or else the path the
/// build was configured with (cb_add_gtest defines CB_BUILT_REFERENCE_DIR).
/// Tests that find no vectors there fail, so missing data never passes.
inline std::filesystem::path merkleReferenceDir() {
  const char* dir = std::getenv("CB_REFERENCE_DIR");
  if (dir == nullptr || *dir == '\0') dir = CB_BUILT_REFERENCE_DIR;
  return std::filesystem::path(dir) / "merkle";
}

/// Every regular file under `dir` (recursively) whose name ends in `suffix`, sorted.
inline std::vector<std::filesystem::path> filesUnder(const std::filesystem::path& dir, const std::string& suffix) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  if (dir.empty() || !std::filesystem::is_directory(dir, ec)) return out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline Sha256 hashFromHex(const std::string& hex) {
  std::string bytes;
  Sha256 out{};
  if (!fromHex(hex, bytes) || bytes.size() != out.size()) {
    ADD_FAILURE() << "bad hash hex in test data: " << hex;
    return out;
  }
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return out;
}

inline std::string bytesOf(const Sha256& h) { return std::string(h.begin(), h.end()); }

}  // namespace cb::audit::testing
