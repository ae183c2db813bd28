#include "cli/map_command.h"

#include "mapping/canonical.h"
#include "mapping/golden.h"
#include "mapping/mapping.h"
#include "xml/safe_xml.h"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

namespace cb::cli {
namespace {

namespace fs = std::filesystem;

struct MapOptions {
  std::string mapping;
  std::string input;
  std::string format = "xml";
  std::string schemas;
  std::string system_dir;
  std::string cases;
};

// Exit statuses: 0 translated / all cases passed; 1 refused / a case failed;
// 2 the mapping set, schemas or cases could not be loaded, or bad usage.
constexpr int kRefused = 1;
constexpr int kCannotLoad = 2;

Result<mapping::MappingSchemas> schemasFor(const std::string& explicit_dir, const fs::path& system_dir) {
  if (!explicit_dir.empty()) return mapping::MappingSchemas::load(explicit_dir);
  const fs::path root = fs::absolute(system_dir).lexically_normal().parent_path();
  std::error_code ec;
  if (!fs::exists(root / "schema" / "mapping.xsd", ec) || !fs::exists(root / "canonical" / "canonical.xsd", ec)) {
    return fail("cannot find schema/mapping.xsd and canonical/canonical.xsd in " + root.string() +
                "; give --schemas <mappings root>");
  }
  return mapping::MappingSchemas::load(root.string());
}

int runOnce(const MapOptions& o, std::ostream& out, std::ostream& err) {
  if (o.mapping.empty() || o.input.empty()) {
    err << "map: give --mapping FILE and --in INPUT, or use `map test DIR`\n";
    return kCannotLoad;
  }
  if (o.format != "xml") {
    err << "map: --format " << o.format
        << " is not supported here: the mapping engine reads XML; convert other formats with their codec first\n";
    return kCannotLoad;
  }
  const fs::path system_dir = fs::path(o.mapping).parent_path();
  auto schemas = schemasFor(o.schemas, system_dir.empty() ? fs::path(".") : system_dir);
  if (!schemas) {
    err << "map: " << schemas.error().message << "\n";
    return kCannotLoad;
  }
  auto tables = mapping::loadCodeTables((system_dir / "codes").string(), *schemas->code_table);
  if (!tables) {
    err << "map: " << tables.error().message << "\n";
    return kCannotLoad;
  }
  auto m = mapping::Mapping::load(o.mapping, *tables, *schemas);
  if (!m) {
    err << "map: " << m.error().message << "\n";
    return kCannotLoad;
  }
  auto doc = xml::parseFile(o.input);
  if (!doc) {
    err << "refused: " << doc.error().message << "\n";
    return kRefused;
  }
  if ((*m)->direction() == mapping::Direction::Outbound) {
    if (auto st = schemas->canonical->validate(doc->get(), o.input); !st) {
      err << "refused: the input is not a valid canonical record:\n" << st.error().message << "\n";
      return kRefused;
    }
  }
  auto matches = (*m)->matches(doc->get());
  if (!matches) {
    err << "refused: " << matches.error().message << "\n";
    return kRefused;
  }
  if (!*matches) {
    err << "refused: " << o.mapping << ": the mapping's <match> is false for this document\n";
    return kRefused;
  }
  auto translated = (*m)->apply(doc->get());
  if (!translated) {
    err << "refused: " << translated.error().message << "\n";
    return kRefused;
  }
  out << xml::serialize(translated->get(), true, true);
  return 0;
}

int runTests(const MapOptions& o, std::ostream& out, std::ostream& err) {
  auto schemas = schemasFor(o.schemas, o.system_dir);
  if (!schemas) {
    err << "map test: " << schemas.error().message << "\n";
    return kCannotLoad;
  }
  auto set = mapping::MappingSet::load(o.system_dir, *schemas);
  if (!set) {
    err << "map test: " << set.error().message << "\n";
    return kCannotLoad;
  }
  const std::string cases = o.cases.empty() ? (fs::path(o.system_dir) / "golden").string() : o.cases;
  auto report = mapping::runGoldenCases(**set, cases);
  if (!report) {
    err << "map test: " << report.error().message << "\n";
    return kCannotLoad;
  }
  out << report->format();
  return report->failures() == 0 ? 0 : kRefused;
}

}  // namespace

void addMapCommands(CLI::App& app) {
  auto opts = std::make_shared<MapOptions>();
  CLI::App* map = app.add_subcommand("map", "Translate one document with one mapping file, or run golden cases");
  map->add_option("--mapping", opts->mapping, "Mapping file (mappings/<system>/<name>.xml)")->check(CLI::ExistingFile);
  map->add_option("--in", opts->input, "Input document: the system's XML (inbound) or a canonical record (outbound)")
      ->check(CLI::ExistingFile);
  map->add_option("--format", opts->format, "Input format; only xml (other formats go through their codec)")
      ->capture_default_str();
  map->add_option("--schemas", opts->schemas, "Mappings root holding schema/ and canonical/ (default: parent of the system directory)")
      ->check(CLI::ExistingDirectory);

  CLI::App* test = map->add_subcommand("test", "Run a system's golden cases; non-zero exit if any fails");
  test->add_option("dir", opts->system_dir, "System directory (mapping files, codes/, golden/)")
      ->required()
      ->check(CLI::ExistingDirectory);
  test->add_option("--cases", opts->cases, "Golden cases directory (default: DIR/golden)")->check(CLI::ExistingDirectory);
  test->add_option("--schemas", opts->schemas, "Mappings root holding schema/ and canonical/")->check(CLI::ExistingDirectory);

  test->callback([opts] {
    const int rc = runTests(*opts, std::cout, std::cerr);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
  map->callback([opts, test] {
    if (test->parsed()) return;  // `map test` ran above
    const int rc = runOnce(*opts, std::cout, std::cerr);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace cb::cli
