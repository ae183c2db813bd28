#include "mapping/golden.h"

#include "mapping/canonical.h"
#include "mapping/mapping.h"
#include "mapping/transforms.h"
#include "mapping/xml_compare.h"
#include "xml/safe_xml.h"

#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

namespace cb::mapping {
namespace {

namespace fs = std::filesystem;

struct CaseSpec {
  std::string direction;
  std::string mapping;
  std::string record_type;
  std::optional<std::vector<std::string>> allowed_items;
  std::optional<std::vector<std::string>> expected_withheld;
};

Result<std::vector<std::string>> stringArray(const toml::node& node, const std::string& key) {
  const toml::array* arr = node.as_array();
  if (arr == nullptr) return fail("case.toml: " + key + " must be an array of strings");
  std::vector<std::string> out;
  for (const auto& el : *arr) {
    auto s = el.value<std::string>();
    if (!s) return fail("case.toml: " + key + " must be an array of strings");
    out.push_back(*s);
  }
  return out;
}

Result<CaseSpec> readSpec(const fs::path& file) {
  toml::table table;
  try {
    table = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    return fail(file.string() + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
  CaseSpec spec;
  for (const auto& [key, node] : table) {
    const std::string k(key.str());
    if (k == "direction" || k == "description" || k == "mapping" || k == "record_type") {
      auto v = node.value<std::string>();
      if (!v) return fail(file.string() + ": " + k + " must be a string");
      if (k == "direction") spec.direction = *v;
      if (k == "mapping") spec.mapping = *v;
      if (k == "record_type") spec.record_type = *v;
    } else if (k == "allowed_items" || k == "expected_withheld") {
      auto v = stringArray(node, k);
      if (!v) return v.error();
      (k == "allowed_items" ? spec.allowed_items : spec.expected_withheld) = std::move(*v);
    } else {
      return fail(file.string() + ": unknown key '" + k +
                  "' (known: direction, description, mapping, record_type, allowed_items, expected_withheld)");
    }
  }
  if (spec.direction != "inbound" && spec.direction != "outbound") {
    return fail(file.string() + ": direction must be \"inbound\" or \"outbound\"");
  }
  if (spec.direction == "inbound" && (spec.allowed_items || !spec.record_type.empty())) {
    return fail(file.string() + ": allowed_items and record_type apply to outbound cases only");
  }
  if (spec.expected_withheld && !spec.allowed_items) {
    return fail(file.string() + ": expected_withheld needs allowed_items");
  }
  return spec;
}

std::optional<std::string> readText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string joined(const std::vector<std::string>& v) {
  std::string out = "[";
  for (const auto& s : v) out += (out.size() > 1 ? ", " : "") + s;
  return out + "]";
}

// Runs one case; the error, if any, is the failure detail.
Status runCase(const MappingSet& set, const fs::path& dir) {
  auto spec = readSpec(dir / "case.toml");
  if (!spec) return spec.error();
  const fs::path expected_xml = dir / "expected.xml";
  const fs::path expected_refusal = dir / "expected-refusal.txt";
  const bool want_doc = fs::exists(expected_xml);
  const bool want_refusal = fs::exists(expected_refusal);
  if (want_doc == want_refusal) return fail("give exactly one of expected.xml and expected-refusal.txt");

  auto input = xml::parseFile((dir / "input.xml").string());
  if (!input) return fail("input.xml: " + input.error().message);

  std::vector<std::string> withheld;
  Result<MappedDocument> result = fail("not run");
  if (spec->direction == "inbound") {
    result = set.toCanonical(input->get());
  } else {
    if (auto st = set.canonicalModel().validate(input->get(), (dir / "input.xml").string()); !st) {
      return fail("input.xml is not a valid canonical record: " + st.error().message);
    }
    if (spec->allowed_items) {
      auto removed = withholdExcept(input->get(), *spec->allowed_items);
      if (!removed) return removed.error();
      withheld = std::move(*removed);
    }
    result = set.fromCanonical(input->get(), spec->record_type);
  }

  if (result && !spec->mapping.empty()) {
    const std::string used = fs::path(result->mapping->file()).filename().string();
    if (used != spec->mapping) return fail("expected mapping " + spec->mapping + " to be used, but " + used + " was");
  }
  if (spec->expected_withheld && *spec->expected_withheld != withheld) {
    return fail("withheld items differ: expected " + joined(*spec->expected_withheld) + ", got " + joined(withheld));
  }

  if (want_refusal) {
    if (result) return fail("expected a refusal, but the record was translated");
    auto text = readText(expected_refusal);
    if (!text) return fail("cannot read expected-refusal.txt");
    std::istringstream lines(*text);
    bool any = false;
    for (std::string line; std::getline(lines, line);) {
      const std::string needle = trim(line);
      if (needle.empty()) continue;
      any = true;
      if (result.error().message.find(needle) == std::string::npos) {
        return fail("the refusal does not contain \"" + needle + "\"; it was: " + result.error().message);
      }
    }
    if (!any) return fail("expected-refusal.txt is empty");
    return {};
  }
  if (!result) return fail("refused: " + result.error().message);
  auto expected = xml::parseFile(expected_xml.string());
  if (!expected) return fail("expected.xml: " + expected.error().message);
  if (auto diff = firstDifference(expected->get(), result->document.get())) return fail("first difference at " + *diff);
  return {};
}

}  // namespace

std::size_t GoldenReport::failures() const {
  return static_cast<std::size_t>(std::count_if(cases.begin(), cases.end(), [](const auto& c) { return !c.passed; }));
}

std::string GoldenReport::format() const {
  std::string out;
  for (const auto& c : cases) {
    out += c.passed ? "PASS " + c.name + "\n" : "FAIL " + c.name + ": " + c.detail + "\n";
  }
  out += std::to_string(cases.size() - failures()) + " passed, " + std::to_string(failures()) + " failed\n";
  return out;
}

Result<GoldenReport> runGoldenCases(const MappingSet& set, const std::string& cases_dir) {
  std::error_code ec;
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(cases_dir, ec)) {
    if (entry.is_directory()) dirs.push_back(entry.path());
  }
  if (ec) return fail(cases_dir + ": cannot list golden cases: " + ec.message());
  if (dirs.empty()) return fail(cases_dir + ": no golden cases (one directory per case)");
  std::sort(dirs.begin(), dirs.end());
  GoldenReport report;
  for (const auto& d : dirs) {
    GoldenCaseResult r;
    r.name = d.filename().string();
    auto st = runCase(set, d);
    r.passed = st.ok();
    if (!st) r.detail = st.error().message;
    report.cases.push_back(std::move(r));
  }
  return report;
}

}  // namespace cb::mapping
