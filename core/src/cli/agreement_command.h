#pragma once
// `carebridge agreement`: let Information Governance read and test an
// information-sharing agreement before signing it off. Nothing is sent.
//
//   carebridge agreement show FILE
//       prints the agreement as plain text: parties, validity, sign-off, and
//       per flow the record types, purpose, lawful basis, items, consent,
//       sensitive categories and hold conditions.
//   carebridge agreement explain --agreement FILE --record RECORD --to PARTY
//                                [--from PARTY] [--purpose P] [--at YYYY-MM-DD]
//       decides for one canonical record (XML) as carebridged would and
//       prints the decision and why. PARTY is an organisation code or a party
//       id of the agreement; --from defaults to the other party of a
//       two-party agreement; --at decides as at noon (UK) on that day.
//
// The agreement schema is found with --schema, else in schema/agreement.xsd
// beside the file or one folder up (the repository's and the installed
// layout). The record is checked against the canonical model when
// --canonical or mappings/canonical/canonical.xsd (from the current folder
// or beside the agreements folder) is found.
// Exit status: 0 shared, shared with items withheld or held; 1 refused;
// 2 the agreement, record or schema could not be loaded, or bad usage.

#include <iosfwd>
#include <string>

namespace CLI {
class App;
}

namespace cb::cli {

struct AgreementShowOptions {
  std::string file;
  std::string schema;
};

struct AgreementExplainOptions {
  std::string agreement;
  std::string record;
  std::string to;
  std::string from;
  std::string purpose;
  std::string at;
  std::string schema;
  std::string canonical;
};

int runAgreementShow(const AgreementShowOptions& o, std::ostream& out, std::ostream& err);
int runAgreementExplain(const AgreementExplainOptions& o, std::ostream& out, std::ostream& err);

/// Registers `agreement show` and `agreement explain` on `app`.
void addAgreementCommands(CLI::App& app);

}  // namespace cb::cli
