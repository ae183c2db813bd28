#include "support/test_support.h"

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace cb::test {
namespace fs = std::filesystem;

namespace {
// The environment wins (ctest sets it; a developer may point elsewhere); the
// paths of the build that compiled this file are the fallback, so a test
// binary run by hand finds its plugins and reference data too.
fs::path envPath(const char* name, const char* built_in) {
  const char* v = std::getenv(name);
  if (v != nullptr && *v != '\0') return v;
  if (built_in != nullptr && *built_in != '\0') return built_in;
  throw std::runtime_error(std::string(name) + " is not set (run the tests with ctest)");
}
}  // namespace

TempDir::TempDir() {
  std::random_device rd;
  const fs::path base = fs::temp_directory_path();
  for (int i = 0; i < 100; ++i) {
    fs::path p = base / ("cbtest-" + std::to_string(rd()) + std::to_string(rd()));
    std::error_code ec;
    if (fs::create_directory(p, ec)) {
      path_ = p;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary folder");
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

fs::path sourceDir() { return envPath("CB_SOURCE_DIR", CB_BUILT_SOURCE_DIR); }
fs::path binaryDir() { return envPath("CB_BINARY_DIR", CB_BUILT_BINARY_DIR); }
fs::path pluginDir() { return envPath("CB_PLUGIN_DIR", CB_BUILT_PLUGIN_DIR); }
fs::path referenceDir() { return envPath("CB_REFERENCE_DIR", CB_BUILT_REFERENCE_DIR); }

void writeFile(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const fs::path& devCerts() {
  static TempDir dir;
  static const bool made = [] {
    const std::string cmd = (sourceDir() / "certs" / "make-dev-certs").string() + " " + dir.path().string() +
                            " carebridge partner-a partner-b > " + (dir.path() / "make.log").string() + " 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      throw std::runtime_error("certs/make-dev-certs failed: " + readFile(dir.path() / "make.log"));
    }
    return true;
  }();
  (void)made;
  return dir.path();
}

}  // namespace cb::test
