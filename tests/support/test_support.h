#pragma once
// Shared helpers for carebridge's tests: hermetic temp folders, the paths
// CTest passes in (reference data, source, built plugins), development
// certificates made with the project's own certs/make-dev-certs.

#include <filesystem>
#include <string>

namespace cb::test {

/// A fresh folder under $TMPDIR, removed when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

std::filesystem::path sourceDir();     ///< CB_SOURCE_DIR
std::filesystem::path binaryDir();     ///< CB_BINARY_DIR
std::filesystem::path pluginDir();     ///< CB_PLUGIN_DIR (built plugins, fakes included)
std::filesystem::path referenceDir();  ///< CB_REFERENCE_DIR (../shared/reference)

void writeFile(const std::filesystem::path& p, const std::string& content);
std::string readFile(const std::filesystem::path& p);

/// Development certificates for this test process, made once by running
/// certs/make-dev-certs (CA, server, partner-a, partner-b, carebridge, rogue,
/// expired, revoked + CRL) into a temp folder that lives until exit.
const std::filesystem::path& devCerts();

}  // namespace cb::test
