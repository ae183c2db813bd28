#pragma once
// Helpers shared by the mapping tests: paths CTest passes in, the engine's
// schemas loaded once, a temporary system directory to write small mapping
// files into, and parsing from strings.

#include "mapping/mapping.h"
#include "xml/safe_xml.h"

#include <gtest/gtest.h>
#include <libxml/tree.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace cb::mapping::test {

namespace fs = std::filesystem;

// The environment variable CTest sets, else the directory compiled in by
// tests/mapping/CMakeLists.txt.
inline fs::path envPath(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  if (v != nullptr && *v != '\0') return fs::path(v);
  if (fallback != nullptr && *fallback != '\0') return fs::path(fallback);
  throw std::runtime_error(std::string(name) + " is not set (run the tests through ctest)");
}

#ifndef CB_MAPPING_TEST_SOURCE_DIR
#define CB_MAPPING_TEST_SOURCE_DIR ""
#endif
#ifndef CB_MAPPING_TEST_REFERENCE_DIR
#define CB_MAPPING_TEST_REFERENCE_DIR ""
#endif

inline fs::path sourceDir() { return envPath("CB_SOURCE_DIR", CB_MAPPING_TEST_SOURCE_DIR); }
inline fs::path referenceDir() { return envPath("CB_REFERENCE_DIR", CB_MAPPING_TEST_REFERENCE_DIR); }
inline fs::path mappingsRoot() { return sourceDir() / "mappings"; }
inline fs::path exampleSystem() { return mappingsRoot() / "example"; }
inline fs::path dataDir() { return sourceDir() / "tests" / "mapping" / "data"; }

inline std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void writeFile(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

/// The schemas, loaded once per test process from the source tree.
inline const MappingSchemas& schemas() {
  static const MappingSchemas s = [] {
    auto r = MappingSchemas::load(mappingsRoot().string());
    if (!r) throw std::runtime_error(r.error().message);
    return std::move(*r);
  }();
  return s;
}

/// A fresh directory under $TMPDIR, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("cb-mapping-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

inline xml::DocPtr parseOrDie(const std::string& text, const std::string& name = "test input") {
  auto d = xml::parse(text, name);
  if (!d) throw std::runtime_error(d.error().message);
  return std::move(*d);
}

inline xml::DocPtr parseFileOrDie(const fs::path& p) {
  auto d = xml::parseFile(p.string());
  if (!d) throw std::runtime_error(d.error().message);
  return std::move(*d);
}

inline std::string serialize(const _xmlDoc* doc) { return xml::serialize(doc, false, false); }

/// Wraps mapping rules in a mapping file header.
inline std::string mappingFile(const std::string& rules, const std::string& direction = "inbound",
                               const std::string& record_type = "Person",
                               const std::string& head = "<namespace prefix=\"s\" uri=\"urn:test:source\"/>\n"
                                                         "<match test=\"self::s:Doc\"/>\n") {
  return "<?xml version=\"1.0\"?>\n<mapping xmlns=\"urn:carebridge:mapping:1\" system=\"test\" direction=\"" +
         direction + "\" recordType=\"" + record_type + "\">\n" + head + "<rules>\n" + rules + "</rules>\n</mapping>\n";
}

/// The Meta rules every inbound test mapping needs to produce a valid record.
inline const std::string kMetaRules =
    "<field to=\"Meta/SourceSystem\" value=\"test\"/>\n"
    "<field to=\"Meta/SourceId\" value=\"id-1\"/>\n"
    "<field to=\"Meta/LastUpdated\" value=\"2024-01-01T00:00:00Z\"/>\n";

}  // namespace cb::mapping::test
