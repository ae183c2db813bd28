#include "peers/file_drop.h"

#include "codec/csv/csv.h"
#include "xml/safe_xml.h"

#include <libxml/tree.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace cb::sim {

namespace fs = std::filesystem;

namespace {

std::string errnoText(const std::string& what, const fs::path& p) {
  return what + " " + p.string() + ": " + std::strerror(errno);
}

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool isTemporaryName(const std::string& name) {
  if (name.empty() || name.front() == '.') return true;
  for (const char* suffix : {".part", ".tmp", ".partial", ".filepart"}) {
    if (endsWith(name, suffix)) return true;
  }
  return false;
}

bool isMarker(const std::string& name) { return endsWith(name, ".done") || endsWith(name, ".ok"); }

// A free name in `dir` for `name`: itself, else name.1, name.2, ...
fs::path freeName(const fs::path& dir, const std::string& name) {
  fs::path p = dir / name;
  for (int i = 1; fs::exists(p); ++i) p = dir / (name + "." + std::to_string(i));
  return p;
}

}  // namespace

std::string writeFileAtomically(const fs::path& dir, const std::string& name, std::string_view bytes,
                                const std::function<void(const fs::path&)>& before_rename) {
  const fs::path part = dir / (name + ".part");
  const fs::path final_path = dir / name;
  const int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errnoText("cannot create", part);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = errnoText("cannot write", part);
      ::close(fd);
      return why;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const std::string why = errnoText("cannot fsync", part);
    ::close(fd);
    return why;
  }
  ::close(fd);
  if (before_rename) before_rename(part);
  if (::rename(part.c_str(), final_path.c_str()) != 0) return errnoText("cannot rename into", final_path);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

std::string checkImportFormat(SeedSystem system, std::string_view bytes) {
  if (system == SeedSystem::Ais) {
    auto table = codec::csv::parse(bytes);
    if (!table) return "not CSV: " + table.error().message;
    if (table->header.empty() || table->header.front() != "Record Type") {
      return "the header's first column is not \"Record Type\"";
    }
    if (table->rows.empty()) return "no data row";
    return {};
  }
  static const std::array<const char*, 5> kMosaic = {"MosaicSafeguardingImport", "MosaicSafeguardingConcernImport",
                                                     "MosaicAssessmentImport", "MosaicReviewImport",
                                                     "MosaicPersonImport"};
  static const std::array<const char*, 5> kLas = {"SafeguardingEnquiryImport", "SafeguardingConcernImport",
                                                  "AssessmentImport", "ReviewImport", "PersonImport"};
  if (system != SeedSystem::Mosaic && system != SeedSystem::Las) {
    return std::string(systemName(system)) + " has no file import";
  }
  auto doc = xml::parse(bytes, "import file");
  if (!doc) return "not well-formed XML: " + doc.error().message;
  const xmlNode* root = xmlDocGetRootElement(doc->get());
  const std::string name = root != nullptr ? reinterpret_cast<const char*>(root->name) : "";
  const auto& roots = system == SeedSystem::Mosaic ? kMosaic : kLas;
  if (std::none_of(roots.begin(), roots.end(), [&](const char* r) { return name == r; })) {
    return "root element <" + name + "> is not one " + std::string(systemName(system)) + " imports";
  }
  return {};
}

std::vector<ImportOutcome> importPass(SeedSystem system, const fs::path& dir) {
  std::vector<ImportOutcome> outcomes;
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    const std::string name = entry.path().filename().string();
    if (isTemporaryName(name) || isMarker(name)) continue;
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    const fs::path path = dir / name;
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in && !in.eof()) continue;  // gone since listed
    ImportOutcome o;
    o.file = name;
    o.reason = checkImportFormat(system, text.str());
    o.imported = o.reason.empty();
    const fs::path to_dir = dir / (o.imported ? "imported" : "rejected");
    fs::create_directories(to_dir, ec);
    const fs::path to = freeName(to_dir, name);
    if (::rename(path.c_str(), to.c_str()) != 0) continue;
    o.moved_to = to.string();
    if (!o.imported) std::ofstream(to.string() + ".reason.txt") << name << ": " << o.reason << "\n";
    for (const char* marker : {".done", ".ok"}) {
      const fs::path m = dir / (name + marker);
      if (fs::exists(m, ec)) fs::rename(m, to.string() + marker, ec);
    }
    outcomes.push_back(std::move(o));
  }
  return outcomes;
}

}  // namespace cb::sim
