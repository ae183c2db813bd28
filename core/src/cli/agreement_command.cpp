#include "cli/agreement_command.h"

#include "mapping/canonical.h"
#include "policy/agreement.h"
#include "policy/agreement_text.h"
#include "policy/policy_set.h"
#include "xml/safe_xml.h"

#include <CLI/CLI.hpp>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

namespace cb::cli {
namespace {

namespace fs = std::filesystem;

constexpr int kRefused = 1;
constexpr int kCannotLoad = 2;

std::optional<fs::path> firstExisting(const std::vector<fs::path>& candidates) {
  std::error_code ec;
  for (const auto& c : candidates) {
    if (fs::is_regular_file(c, ec)) return c;
  }
  return std::nullopt;
}

Result<std::shared_ptr<const policy::AgreementSchema>> schemaFor(const std::string& explicit_path,
                                                                 const std::string& agreement_file) {
  if (!explicit_path.empty()) return policy::AgreementSchema::load(explicit_path);
  const fs::path dir = fs::absolute(agreement_file).lexically_normal().parent_path();
  auto found = firstExisting({dir / "schema" / "agreement.xsd", dir.parent_path() / "schema" / "agreement.xsd"});
  if (!found) {
    return fail("cannot find schema/agreement.xsd beside " + agreement_file + " or one folder up; give --schema FILE");
  }
  return policy::AgreementSchema::load(found->string());
}

std::string list(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// Resolves a party given as an organisation code or a party id.
std::optional<std::string> partyCode(const policy::Agreement& a, const std::string& given) {
  for (const auto& p : a.parties) {
    if (p.code == given || p.id == given) return p.code;
  }
  return std::nullopt;
}

}  // namespace

int runAgreementShow(const AgreementShowOptions& o, std::ostream& out, std::ostream& err) {
  auto schema = schemaFor(o.schema, o.file);
  if (!schema) {
    err << "agreement: " << schema.error().message << "\n";
    return kCannotLoad;
  }
  auto loaded = policy::loadAgreement(o.file, **schema);
  if (!loaded) {
    err << "agreement: " << loaded.error().message << "\n";
    return kCannotLoad;
  }
  const policy::Agreement& a = **loaded;
  out << policy::agreementText(a);
  return 0;
}

int runAgreementExplain(const AgreementExplainOptions& o, std::ostream& out, std::ostream& err) {
  if (o.agreement.empty() || o.record.empty() || o.to.empty()) {
    err << "agreement explain: give --agreement FILE, --record FILE and --to PARTY\n";
    return kCannotLoad;
  }
  auto schema = schemaFor(o.schema, o.agreement);
  if (!schema) {
    err << "agreement: " << schema.error().message << "\n";
    return kCannotLoad;
  }
  auto loaded = policy::loadAgreement(o.agreement, **schema);
  if (!loaded) {
    err << "agreement: " << loaded.error().message << "\n";
    return kCannotLoad;
  }
  const policy::Agreement& a = **loaded;
  const auto to = partyCode(a, o.to);
  if (!to) {
    err << "agreement explain: --to " << o.to << " is not a party of " << a.id << " (give its code or id)\n";
    return kCannotLoad;
  }
  std::optional<std::string> from;
  if (!o.from.empty()) {
    from = partyCode(a, o.from);
    if (!from) {
      err << "agreement explain: --from " << o.from << " is not a party of " << a.id << " (give its code or id)\n";
      return kCannotLoad;
    }
  } else if (a.parties.size() == 2) {
    from = a.parties[0].code == *to ? a.parties[1].code : a.parties[0].code;
  } else {
    err << "agreement explain: the agreement has " << a.parties.size() << " parties; give --from PARTY\n";
    return kCannotLoad;
  }

  std::chrono::system_clock::time_point at = std::chrono::system_clock::now();
  if (!o.at.empty()) {
    // Reuse the agreement date rules: a day is read as YYYY-MM-DD.
    int y = 0;
    unsigned m = 0;
    unsigned d = 0;
    char dash1 = 0;
    char dash2 = 0;
    std::istringstream in(o.at);
    in >> y >> dash1 >> m >> dash2 >> d;
    const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
    if (!in || dash1 != '-' || dash2 != '-' || !ymd.ok()) {
      err << "agreement explain: --at " << o.at << " is not a date YYYY-MM-DD\n";
      return kCannotLoad;
    }
    at = policy::ukStartOfDay(std::chrono::sys_days(ymd)) + std::chrono::hours(12);
  }

  auto doc = xml::parseFile(o.record);
  if (!doc) {
    err << "agreement explain: " << doc.error().message << "\n";
    return kCannotLoad;
  }
  std::optional<fs::path> canonical_xsd;
  if (!o.canonical.empty()) {
    canonical_xsd = fs::path(o.canonical);
  } else {
    const fs::path dir = fs::absolute(o.agreement).lexically_normal().parent_path();
    canonical_xsd = firstExisting({fs::path("mappings/canonical/canonical.xsd"),
                                   dir.parent_path() / "mappings" / "canonical" / "canonical.xsd",
                                   dir.parent_path().parent_path() / "mappings" / "canonical" / "canonical.xsd"});
  }
  if (canonical_xsd) {
    auto model = mapping::CanonicalModel::load(canonical_xsd->string());
    if (!model) {
      err << "agreement explain: " << model.error().message << "\n";
      return kCannotLoad;
    }
    if (auto st = (*model)->validate(doc->get(), o.record); !st) {
      err << "agreement explain: the record is not a valid canonical record, so carebridged would not decide on it:\n"
          << st.error().message << "\n";
      return kCannotLoad;
    }
  } else {
    out << "note: canonical.xsd not found (give --canonical FILE); the record was not validated\n";
  }

  auto set = policy::PolicySet::fromAgreements({*loaded});
  if (!set) {
    err << "agreement: " << set.error().message << "\n";
    return kCannotLoad;
  }
  const policy::Decision d = (*set)->decideAt(at, doc->get(), *from, *to, o.purpose);
  out << "decision:      " << policy::toString(d.verdict) << "\n";
  out << "from -> to:    " << *from << " -> " << *to << "\n";
  if (!d.agreement.empty()) out << "agreement:     " << d.agreement << " version " << d.agreement_version << "\n";
  if (!d.flow.empty()) out << "flow:          " << d.flow << "\n";
  if (!d.purpose.empty()) out << "purpose:       " << d.purpose << "\n";
  if (!d.lawful_basis.empty()) out << "lawful basis:  " << d.lawful_basis << "\n";
  out << "rule:          " << d.rule << "\n";
  if (!d.approver.empty()) out << "approver:      " << d.approver << "\n";
  if (!d.justification.empty()) out << "justification: " << d.justification << "\n";
  if (d.verdict != policy::Decision::Verdict::Refuse) {
    out << "withheld:      " << (d.withheld.empty() ? std::string("nothing") : list(d.withheld)) << "\n";
  }
  out << "why:           " << d.explanation << "\n";
  out << "(nothing was sent)\n";
  return d.verdict == policy::Decision::Verdict::Refuse ? kRefused : 0;
}

void addAgreementCommands(CLI::App& app) {
  auto show_opts = std::make_shared<AgreementShowOptions>();
  auto explain_opts = std::make_shared<AgreementExplainOptions>();
  CLI::App* agreement = app.add_subcommand("agreement", "Read and test information-sharing agreements (sends nothing)");
  agreement->require_subcommand(1);

  CLI::App* show = agreement->add_subcommand("show", "Print an agreement as plain text");
  show->add_option("file", show_opts->file, "Agreement file (agreements/<name>.xml)")->required()->check(CLI::ExistingFile);
  show->add_option("--schema", show_opts->schema, "agreement.xsd (default: schema/ beside the file or one folder up)")
      ->check(CLI::ExistingFile);
  show->callback([show_opts] {
    const int rc = runAgreementShow(*show_opts, std::cout, std::cerr);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });

  CLI::App* explain = agreement->add_subcommand("explain", "Decide for one canonical record and say why");
  explain->add_option("--agreement", explain_opts->agreement, "Agreement file")->required()->check(CLI::ExistingFile);
  explain->add_option("--record", explain_opts->record, "A canonical record (XML)")->required()->check(CLI::ExistingFile);
  explain->add_option("--to", explain_opts->to, "Receiving party: organisation code or party id")->required();
  explain->add_option("--from", explain_opts->from, "Disclosing party (default: the other party)");
  explain->add_option("--purpose", explain_opts->purpose,
                      "direct-care, safeguarding, performance-monitoring or statutory-return (default: any flow)");
  explain->add_option("--at", explain_opts->at, "Decide as on this day, YYYY-MM-DD (default: now)");
  explain->add_option("--schema", explain_opts->schema, "agreement.xsd")->check(CLI::ExistingFile);
  explain->add_option("--canonical", explain_opts->canonical, "canonical.xsd to validate the record")
      ->check(CLI::ExistingFile);
  explain->callback([explain_opts] {
    const int rc = runAgreementExplain(*explain_opts, std::cout, std::cerr);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace cb::cli
