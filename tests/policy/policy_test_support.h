#pragma once
// Helpers for the policy tests: the source tree, the agreement schema loaded
// once, canonical sample records edited per scenario, and UK days as instants.

#include "policy/agreement.h"
#include "policy/policy_set.h"
#include "support/test_support.h"
#include "xml/safe_xml.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#ifndef CB_POLICY_TEST_SOURCE_DIR
#define CB_POLICY_TEST_SOURCE_DIR ""
#endif

namespace cb::policy::test {

namespace fs = std::filesystem;

inline fs::path sourceDir() {
  const char* v = std::getenv("CB_SOURCE_DIR");
  if (v != nullptr && *v != '\0') return v;
  return CB_POLICY_TEST_SOURCE_DIR;
}
inline fs::path agreementsDir() { return sourceDir() / "agreements"; }
inline std::string seed(const std::string& name) { return (agreementsDir() / name).string(); }
inline std::string demoAgreement() { return (agreementsDir() / "demo" / "oxleas-bromley-demo.xml").string(); }

inline const AgreementSchema& schema() {
  static const auto s = [] {
    auto r = AgreementSchema::load((agreementsDir() / "schema" / "agreement.xsd").string());
    if (!r) throw std::runtime_error(r.error().message);
    return *r;
  }();
  return *s;
}

/// A sample canonical record (tests/mapping/data/canonical/<name>) with
/// each `edits` pair's first text replaced by its second.
inline std::string sampleText(const std::string& name, const std::vector<std::pair<std::string, std::string>>& edits = {}) {
  std::string text = cb::test::readFile(sourceDir() / "tests" / "mapping" / "data" / "canonical" / name);
  if (text.empty()) throw std::runtime_error("cannot read sample " + name);
  for (const auto& [from, to] : edits) {
    const auto at = text.find(from);
    if (at == std::string::npos) throw std::runtime_error("sample " + name + " has no '" + from + "'");
    text.replace(at, from.size(), to);
  }
  return text;
}

inline xml::DocPtr parsed(const std::string& text) {
  auto doc = xml::parse(text, "test record");
  if (!doc) throw std::runtime_error(doc.error().message);
  return std::move(*doc);
}

inline xml::DocPtr enquiry(const std::vector<std::pair<std::string, std::string>>& edits = {}) {
  return parsed(sampleText("safeguarding-enquiry.xml", edits));
}

/// Unix ms of a UK-local time on a day, e.g. ms("2026-11-29", 12).
inline std::int64_t ukMs(int y, unsigned m, unsigned d, int hour = 12) {
  const auto day = std::chrono::sys_days(std::chrono::year_month_day{std::chrono::year{y}, std::chrono::month{m},
                                                                     std::chrono::day{d}});
  const auto t = ukStartOfDay(day) + std::chrono::hours(hour);
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace cb::policy::test
