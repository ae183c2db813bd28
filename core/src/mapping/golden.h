#pragma once
// Golden cases: example inputs with the exact output (or refusal) a
// system's mapping files must produce, run by `carebridge map test DIR` and
// by the tests. Integration engineers add a case for every quirk they meet;
// a mapping change that alters any output shows up as a failed case.
//
// Layout (documented with an example in mappings/README.md):
//   <cases_dir>/<case>/case.toml               what to run (see below)
//   <cases_dir>/<case>/input.xml               the input document
//   <cases_dir>/<case>/expected.xml            the exact expected output, or
//   <cases_dir>/<case>/expected-refusal.txt    lines that must each appear in the refusal
//
// case.toml keys (unknown keys fail the case):
//   direction         = "inbound" | "outbound"              (required)
//   description       = "..."                               (optional)
//   mapping           = "enquiry-in.xml"                    (optional: the mapping file that must be used)
//   record_type       = "SafeguardingEnquiry"               (outbound, optional: default Record/@type)
//   allowed_items     = ["Person.NHSNumber", ...]           (outbound, optional: withholdExcept first)
//   expected_withheld = ["Person.Address", ...]             (optional, with allowed_items)
// Outbound inputs must be valid canonical records; that is checked too.

#include "common/result.h"

#include <string>
#include <vector>

namespace cb::mapping {

class MappingSet;

/// The outcome of one case.
struct GoldenCaseResult {
  std::string name;    ///< the case directory's name
  bool passed = false;
  std::string detail;  ///< why it failed: the first difference, or the refusal text
};

/// Every case of a directory, in name order.
struct GoldenReport {
  std::vector<GoldenCaseResult> cases;
  std::size_t failures() const;
  /// One line per case, "PASS <name>" or "FAIL <name>: <detail>", then a
  /// summary line "<n> passed, <m> failed".
  std::string format() const;
};

/// Runs every case directory under `cases_dir` against `set`. Fails as a
/// whole only if the directory cannot be read or has no cases; a broken case
/// is a failed case.
Result<GoldenReport> runGoldenCases(const MappingSet& set, const std::string& cases_dir);

}  // namespace cb::mapping
