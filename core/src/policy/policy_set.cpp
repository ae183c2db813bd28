#include "policy/policy_set.h"

#include "common/digest.h"
#include "mapping/canonical.h"
#include "mapping/xml_util.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <unordered_map>

namespace cb::policy {
namespace {

using namespace mapping::xmlutil;
namespace chr = std::chrono;
namespace fs = std::filesystem;

constexpr std::size_t kUnknownItem = static_cast<std::size_t>(-1);

// Item path -> index in CanonicalItems::all(), built once.
const std::unordered_map<std::string_view, std::size_t>& itemIndex() {
  static const std::unordered_map<std::string_view, std::size_t> index = [] {
    std::unordered_map<std::string_view, std::size_t> m;
    const auto& all = mapping::CanonicalItems::all();
    for (std::size_t i = 0; i < all.size(); ++i) m.emplace(all[i].path, i);
    return m;
  }();
  return index;
}

bool isKnownSection(std::string_view name) {
  const auto& s = mapping::CanonicalItems::sections();
  return std::find(s.begin(), s.end(), name) != s.end();
}

// What the engine reads from one record: the summary plus the items present,
// in document order, as withholdExcept walks them.
struct PresentItem {
  std::string path;
  std::size_t index = kUnknownItem;  // kUnknownItem: not part of the model
};

struct RecordFacts {
  mapping::CanonicalSummary summary;
  std::vector<PresentItem> items;
};

Result<RecordFacts> readFacts(const _xmlDoc* doc) {
  auto summary = mapping::canonicalSummary(doc);
  if (!summary) return std::move(summary).error();
  RecordFacts f;
  f.summary = std::move(*summary);
  const xmlNode* root = xmlDocGetRootElement(const_cast<xmlDocPtr>(doc));
  const auto& index = itemIndex();
  for (const xmlNode* section : elementChildren(root)) {
    const std::string section_name(localName(section));
    if (nsHref(section) != mapping::kCanonicalNs || !isKnownSection(section_name)) {
      f.items.push_back({section_name, kUnknownItem});
      continue;
    }
    for (const xmlNode* item : elementChildren(section)) {
      std::string path = section_name + "." + std::string(localName(item));
      std::size_t i = kUnknownItem;
      if (nsHref(item) == mapping::kCanonicalNs) {
        if (auto it = index.find(path); it != index.end()) i = it->second;
      }
      f.items.push_back({std::move(path), i});
    }
  }
  return f;
}

std::string ruleAt(std::string_view name, const Agreement& a, int line) {
  return std::string(name) + " (" + a.file + ":" + std::to_string(line) + ")";
}

bool holds(Condition c, const RecordFacts& r, bool overridden) {
  const auto& s = r.summary;
  switch (c) {
    case Condition::RiskIdentified:
      return s.risk.risk_identified;
    case Condition::RiskRemains:
      return s.risk.risk_remains;
    case Condition::LacksCapacity:
      return s.risk.lacks_capacity || s.consent == mapping::ConsentStatus::LacksCapacity;
    case Condition::Section42:
      return s.risk.section_42;
    case Condition::EnquiryOpen:
      return s.risk.enquiry_open;
    case Condition::ConsentOverridden:
      return overridden;
    case Condition::ConsentNotRecorded:
      return s.consent == mapping::ConsentStatus::NotRecorded;
    case Condition::NoValidNhsNumber:
      return !s.nhs_number_valid;
  }
  return false;
}

std::string joined(const std::vector<std::string>& v, std::string_view sep = ", ") {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

Decision refuseWith(std::string rule, std::string explanation) {
  Decision d;
  d.verdict = Decision::Verdict::Refuse;
  d.rule = std::move(rule);
  d.explanation = std::move(explanation);
  return d;
}

void describeAgreement(Decision& d, const Agreement& a) {
  d.agreement = a.id;
  d.agreement_version = a.version;
  d.agreement_file = a.file;
}

Decision evaluateFlow(const Agreement& a, const Flow& f, const RecordFacts& r) {
  Decision d;
  describeAgreement(d, a);
  d.flow = f.id;
  d.purpose = std::string(toString(f.purpose));
  d.lawful_basis = f.basis.summary();
  const std::string under = "under " + a.id + " flow " + f.id + " (" + d.purpose + ")";
  auto refuse = [&](std::string rule, std::string why) {
    d.verdict = Decision::Verdict::Refuse;
    d.rule = std::move(rule);
    d.explanation = "refused " + under + ": " + std::move(why);
    return d;
  };

  // 1. Sensitivity markers: refuse > hold > withhold.
  const SensitiveRule* hold_rule = nullptr;
  std::vector<bool> marker_withheld(f.allowed.size(), false);
  std::vector<std::string> withholding_markers;
  std::vector<std::string> seen;
  for (const auto& marker : r.summary.sensitivity) {
    if (std::find(seen.begin(), seen.end(), marker) != seen.end()) continue;
    seen.push_back(marker);
    const auto rule = std::find_if(f.sensitive.begin(), f.sensitive.end(),
                                   [&](const SensitiveRule& s) { return s.marker == marker; });
    if (rule == f.sensitive.end()) {
      if (marker == "sealed") {
        return refuse(ruleAt("sensitive.sealed-without-rule", a, f.line),
                      "the record is sealed and the flow has no rule for sealed records");
      }
      continue;
    }
    switch (rule->action) {
      case SensitiveAction::Refuse:
        return refuse(ruleAt("sensitive.refuse", a, rule->line), "records marked " + marker + " are not shared");
      case SensitiveAction::Hold:
        if (hold_rule == nullptr) hold_rule = &*rule;
        break;
      case SensitiveAction::Withhold:
        for (std::size_t i : rule->item_index) marker_withheld[i] = true;
        withholding_markers.push_back(marker);
        break;
    }
  }

  // 2. Consent.
  const auto consent = r.summary.consent;
  const std::string status(mapping::toString(consent));
  bool overridden = false;
  std::string consent_phrase;
  std::string decided_by = ruleAt("flow.allow-list", a, f.line);
  switch (f.consent) {
    case ConsentMode::Required:
      if (consent != mapping::ConsentStatus::Given) {
        return refuse(ruleAt("consent.required", a, f.consent_line),
                      "the flow needs the person's consent and the record's consent status is " + status);
      }
      consent_phrase = "consent given";
      break;
    case ConsentMode::NotRequired:
      consent_phrase = "consent not required (" + status + ")";
      break;
    case ConsentMode::SafeguardingOverride: {
      if (consent == mapping::ConsentStatus::Given) {
        consent_phrase = "consent given";
        break;
      }
      std::vector<std::string> met;
      for (Condition c : f.override_when) {
        if (holds(c, r, false)) met.emplace_back(toString(c));
      }
      if (met.empty()) {
        std::vector<std::string> wanted;
        for (Condition c : f.override_when) wanted.emplace_back(toString(c));
        return refuse(ruleAt("consent.not-given-no-risk", a, f.consent_line),
                      "consent is " + status + " and no override condition holds (needs one of: " + joined(wanted) +
                          ")");
      }
      overridden = true;
      d.justification = f.override_justification;
      d.lawful_basis = f.basis.summary(f.override_schedule1_paragraph);
      decided_by = ruleAt("consent.override", a, f.consent_line);
      consent_phrase = "consent " + status + " overridden under DPA 2018 Sch 1 para " +
                       std::to_string(f.override_schedule1_paragraph) + " because " + joined(met) + ": " +
                       f.override_justification;
      break;
    }
  }

  // 3. Hold conditions.
  if (hold_rule != nullptr) {
    d.verdict = Decision::Verdict::Hold;
    d.approver = hold_rule->approver;
    decided_by = ruleAt("sensitive.hold", a, hold_rule->line);
    consent_phrase += "; held because the record is marked " + hold_rule->marker;
  } else if (!f.hold_approver.empty()) {
    for (Condition c : f.hold_when) {
      if (!holds(c, r, overridden)) continue;
      d.verdict = Decision::Verdict::Hold;
      d.approver = f.hold_approver;
      decided_by = ruleAt("hold." + std::string(toString(c)), a, f.hold_line);
      consent_phrase += "; held because " + std::string(toString(c));
      break;
    }
  }

  // 4. The allow-list, less what markers withhold.
  const auto& all = mapping::CanonicalItems::all();
  std::vector<bool> allowed = f.allowed;
  for (std::size_t i = 0; i < allowed.size(); ++i) {
    if (marker_withheld[i]) allowed[i] = false;
    if (allowed[i]) d.allowed.emplace_back(all[i].path);
  }
  std::vector<std::string> not_listed;
  std::vector<std::string> by_marker;
  for (const auto& item : r.items) {
    const bool keep = item.index != kUnknownItem && (all[item.index].structural || allowed[item.index]);
    if (keep || std::find(d.withheld.begin(), d.withheld.end(), item.path) != d.withheld.end()) continue;
    d.withheld.push_back(item.path);
    if (item.index != kUnknownItem && f.allowed[item.index]) by_marker.push_back(item.path);
    else not_listed.push_back(item.path);
  }
  if (d.verdict != Decision::Verdict::Hold) {
    d.verdict = d.withheld.empty() ? Decision::Verdict::Share : Decision::Verdict::ShareWithheld;
  }
  d.rule = decided_by;
  std::string what = d.verdict == Decision::Verdict::Hold ? "held for " + d.approver + " " : "shared ";
  d.explanation = what + under + ", " + d.lawful_basis + "; " + consent_phrase;
  if (d.withheld.empty()) {
    d.explanation += "; nothing withheld";
  } else {
    d.explanation += "; " + std::to_string(d.withheld.size()) + " item(s) withheld";
    if (!not_listed.empty()) d.explanation += ", not on the allow-list: " + joined(not_listed);
    if (!by_marker.empty()) {
      d.explanation += ", withheld for marker " + joined(withholding_markers, "/") + ": " + joined(by_marker);
    }
  }
  return d;
}

}  // namespace

std::string_view toString(Decision::Verdict v) {
  switch (v) {
    case Decision::Verdict::Share:
      return "share";
    case Decision::Verdict::ShareWithheld:
      return "share-withheld";
    case Decision::Verdict::Refuse:
      return "refuse";
    case Decision::Verdict::Hold:
      return "hold";
  }
  return "refuse";
}

// ----------------------------------------------------------------- load ----

Result<std::shared_ptr<const PolicySet>> PolicySet::fromAgreements(std::vector<std::shared_ptr<const Agreement>> agreements,
                                                                   const Clock& clock,
                                                                   const PolicyLoadOptions& options) {
  std::sort(agreements.begin(), agreements.end(), [](const auto& x, const auto& y) { return x->id < y->id; });
  std::vector<std::string> errors;
  for (std::size_t i = 1; i < agreements.size(); ++i) {
    if (agreements[i]->id == agreements[i - 1]->id) {
      errors.push_back(agreements[i]->file + ":1: Agreement: id '" + agreements[i]->id + "' is also used by " +
                       agreements[i - 1]->file + "; each agreement needs its own id");
    }
  }
  if (options.known_parties) {
    for (const auto& a : agreements) {
      for (const auto& p : a->parties) {
        if (options.known_parties->count(p.code) == 0) {
          errors.push_back(a->file + ":" + std::to_string(p.line) + ": Party: organisation code '" + p.code + "' (" +
                           p.name +
                           ") is not the organisation of any adapter in the configuration; fix the code or add "
                           "the partner's adapter");
        }
      }
    }
  }
  if (!errors.empty()) return fail(joined(errors, "\n"));
  auto set = std::shared_ptr<PolicySet>(new PolicySet());
  set->clock_ = &clock;
  std::string digests;
  for (const auto& a : agreements) digests += a->id + ":" + a->digest + "\n";
  set->digest_ = toHex(sha256(digests));
  set->agreements_ = std::move(agreements);
  return std::shared_ptr<const PolicySet>(std::move(set));
}

Result<std::shared_ptr<const PolicySet>> PolicySet::loadFiles(const std::vector<std::string>& files,
                                                              const AgreementSchema& schema, const Clock& clock,
                                                              const PolicyLoadOptions& options) {
  std::vector<std::shared_ptr<const Agreement>> agreements;
  std::vector<std::string> errors;
  for (const auto& file : files) {
    auto a = loadAgreement(file, schema);
    if (!a) {
      errors.push_back(a.error().message);
      continue;
    }
    agreements.push_back(std::move(*a));
  }
  if (!errors.empty()) return fail(joined(errors, "\n"));
  return fromAgreements(std::move(agreements), clock, options);
}

Result<std::shared_ptr<const PolicySet>> PolicySet::loadDirectory(const std::string& dir,
                                                                  const AgreementSchema& schema, const Clock& clock,
                                                                  const PolicyLoadOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return fail(dir + ": not a directory of agreements");
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec) && entry.path().extension() == ".xml") files.push_back(entry.path().string());
  }
  if (ec) return fail(dir + ": cannot list the directory: " + ec.message());
  std::sort(files.begin(), files.end());
  return loadFiles(files, schema, clock, options);
}

const Agreement* PolicySet::find(std::string_view id) const {
  for (const auto& a : agreements_) {
    if (a->id == id) return a.get();
  }
  return nullptr;
}

// --------------------------------------------------------------- decide ----

Decision PolicySet::decide(const _xmlDoc* canonical, std::string_view from_org, std::string_view to_org,
                           std::string_view purpose) const {
  return decideAt(clock_->now(), canonical, from_org, to_org, purpose);
}

Decision PolicySet::decideAt(chr::system_clock::time_point now, const _xmlDoc* canonical, std::string_view from_org,
                             std::string_view to_org, std::string_view purpose) const {
  const std::string from(from_org);
  const std::string to(to_org);
  auto facts = readFacts(canonical);
  if (!facts) {
    return refuseWith("record.not-canonical", "refused: the record is not a canonical Record; nothing is shared");
  }
  const std::string& type = facts->summary.record_type;
  std::optional<Purpose> wanted;
  if (!purpose.empty()) {
    auto p = parsePurpose(purpose);
    if (!p) return refuseWith("purpose.unknown", "refused: " + p.error().message);
    wanted = *p;
  }

  // 1. Agreements naming both organisations.
  std::vector<const Agreement*> parties;
  for (const auto& a : agreements_) {
    bool has_from = false;
    bool has_to = false;
    for (const auto& p : a->parties) {
      has_from = has_from || p.code == from;
      has_to = has_to || p.code == to;
    }
    if (has_from && has_to) parties.push_back(a.get());
  }
  if (parties.empty()) {
    return refuseWith("agreement.none",
                      "refused: no information-sharing agreement has both " + from + " and " + to + " as parties");
  }
  // 2. ...in force now.
  std::vector<const Agreement*> in_force;
  for (const auto* a : parties) {
    if (a->inForceAt(now)) in_force.push_back(a);
  }
  if (in_force.empty()) {
    const Agreement& a = *parties.front();
    Decision d;
    if (now < a.validFrom()) {
      d = refuseWith("agreement.not-yet-valid (" + a.file + ")",
                     "refused: agreement " + a.id + " between " + from + " and " + to + " starts on " + a.from.text +
                         "; nothing is shared under it before then");
    } else {
      d = refuseWith("agreement.ended (" + a.file + ")",
                     "refused: agreement " + a.id + " between " + from + " and " + to + " ended on " + a.end.text +
                         "; nothing is shared under it after that day");
    }
    describeAgreement(d, a);
    return d;
  }
  // 3. Flows from -> to, 4. carrying the record type, 5. for the purpose.
  std::vector<std::pair<const Agreement*, const Flow*>> direction;
  for (const auto* a : in_force) {
    for (const auto& f : a->flows) {
      if (f.from_code == from && f.to_code == to) direction.emplace_back(a, &f);
    }
  }
  auto refuseFirst = [&](std::string rule, std::string why) {
    Decision d = refuseWith(std::move(rule), "refused: " + std::move(why));
    describeAgreement(d, *in_force.front());
    return d;
  };
  if (direction.empty()) {
    return refuseFirst("flow.none", "agreement " + in_force.front()->id + " has no flow from " + from + " to " + to);
  }
  std::vector<std::pair<const Agreement*, const Flow*>> typed;
  for (const auto& af : direction) {
    if (af.second->carries(type)) typed.push_back(af);
  }
  if (typed.empty()) {
    return refuseFirst("flow.record-type-not-covered", "no flow from " + from + " to " + to + " in agreement " +
                                                           in_force.front()->id + " carries " + type + " records");
  }
  std::vector<std::pair<const Agreement*, const Flow*>> candidates;
  for (const auto& af : typed) {
    if (!wanted || af.second->purpose == *wanted) candidates.push_back(af);
  }
  if (candidates.empty()) {
    return refuseFirst("flow.purpose-not-covered", "no flow from " + from + " to " + to + " carries " + type +
                                                       " records for " + std::string(purpose));
  }
  // The first candidate decides, even if it refuses: a refusal under one
  // purpose is never turned into a share under another ("purpose shopping").
  return evaluateFlow(*candidates.front().first, *candidates.front().second, *facts);
}

// ------------------------------------------------------------ lifecycle ----

std::vector<EndingAgreement> PolicySet::endingWithin(int days) const { return endingWithinAt(clock_->now(), days); }

std::vector<EndingAgreement> PolicySet::endingWithinAt(chr::system_clock::time_point now, int days) const {
  std::vector<std::pair<chr::system_clock::time_point, EndingAgreement>> found;
  for (const auto& a : agreements_) {
    const auto until = a->validUntil();
    if (until <= now || until - now > chr::hours(24) * days) continue;
    EndingAgreement e;
    e.id = a->id;
    e.file = a->file;
    e.end = a->end.text;
    const auto left = chr::duration_cast<chr::seconds>(until - now).count();
    e.days_left = static_cast<int>((left + 86399) / 86400);
    found.emplace_back(until, std::move(e));
  }
  std::sort(found.begin(), found.end(), [](const auto& x, const auto& y) {
    return x.first != y.first ? x.first < y.first : x.second.id < y.second.id;
  });
  std::vector<EndingAgreement> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

bool PolicySet::covers(std::string_view from_org, std::string_view to_org, std::string_view record_type) const {
  for (const auto& a : agreements_) {
    for (const auto& f : a->flows) {
      if (f.from_code == from_org && f.to_code == to_org && (record_type.empty() || f.carries(record_type))) return true;
    }
  }
  return false;
}

bool PolicySet::coversNow(std::string_view from_org, std::string_view to_org, std::string_view record_type) const {
  const auto now = clock_->now();
  for (const auto& a : agreements_) {
    if (!a->inForceAt(now)) continue;
    for (const auto& f : a->flows) {
      if (f.from_code == from_org && f.to_code == to_org && (record_type.empty() || f.carries(record_type))) return true;
    }
  }
  return false;
}

// ------------------------------------------------------------- withhold ----

Result<std::vector<std::string>> applyDecision(_xmlDoc* canonical, const Decision& decision) {
  if (!decision.shares() && decision.verdict != Decision::Verdict::Hold) {
    return fail("withholding: the decision was to refuse; nothing may be rendered (" + decision.rule + ")");
  }
  auto removed = mapping::withholdExcept(canonical, decision.allowed);
  if (!removed) return removed;
  if (*removed != decision.withheld) {
    return fail("withholding: the items removed (" + joined(*removed) + ") differ from those the decision withheld (" +
                joined(decision.withheld) + "); the record is not the one decided on, so it is not shared");
  }
  return removed;
}

}  // namespace cb::policy
