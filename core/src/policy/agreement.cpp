#include "policy/agreement.h"

#include "common/digest.h"
#include "mapping/canonical.h"
#include "mapping/xml_util.h"
#include "xml/safe_xml.h"
#include "xml/schema.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

namespace cb::policy {
namespace {

using namespace mapping::xmlutil;
namespace chr = std::chrono;

constexpr std::string_view kNs = "urn:carebridge:agreement:1";

// ----------------------------------------------------------- enum names ----

template <class E>
struct Named {
  E value;
  std::string_view name;
};

constexpr Named<Purpose> kPurposes[] = {{Purpose::DirectCare, "direct-care"},
                                        {Purpose::Safeguarding, "safeguarding"},
                                        {Purpose::PerformanceMonitoring, "performance-monitoring"},
                                        {Purpose::StatutoryReturn, "statutory-return"}};
constexpr Named<PartyRole> kRoles[] = {{PartyRole::Controller, "controller"},
                                       {PartyRole::JointController, "joint-controller"},
                                       {PartyRole::Processor, "processor"}};
constexpr Named<ConsentMode> kConsentModes[] = {{ConsentMode::Required, "required"},
                                                {ConsentMode::NotRequired, "not-required"},
                                                {ConsentMode::SafeguardingOverride, "safeguarding-override"}};
constexpr Named<Condition> kConditions[] = {{Condition::RiskIdentified, "risk-identified"},
                                            {Condition::RiskRemains, "risk-remains"},
                                            {Condition::LacksCapacity, "lacks-capacity"},
                                            {Condition::Section42, "section-42"},
                                            {Condition::EnquiryOpen, "enquiry-open"},
                                            {Condition::ConsentOverridden, "consent-overridden"},
                                            {Condition::ConsentNotRecorded, "consent-not-recorded"},
                                            {Condition::NoValidNhsNumber, "no-valid-nhs-number"}};
constexpr Named<SensitiveAction> kActions[] = {{SensitiveAction::Refuse, "refuse"},
                                               {SensitiveAction::Withhold, "withhold"},
                                               {SensitiveAction::Hold, "hold"}};

template <class E, std::size_t N>
std::string_view nameOf(const Named<E> (&table)[N], E v) {
  for (const auto& n : table) {
    if (n.value == v) return n.name;
  }
  return "?";
}

template <class E, std::size_t N>
std::optional<E> valueOf(const Named<E> (&table)[N], std::string_view s) {
  for (const auto& n : table) {
    if (n.name == s) return n.value;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- dates ----

std::optional<chr::sys_days> parseDay(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  int y = 0;
  unsigned m = 0;
  unsigned d = 0;
  auto num = [](std::string_view part, auto& out) {
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), out);
    return ec == std::errc() && p == part.data() + part.size();
  };
  if (!num(s.substr(0, 4), y) || !num(s.substr(5, 2), m) || !num(s.substr(8, 2), d)) return std::nullopt;
  const chr::year_month_day ymd{chr::year{y}, chr::month{m}, chr::day{d}};
  if (!ymd.ok()) return std::nullopt;
  return chr::sys_days(ymd);
}

// ------------------------------------------------------------ the loader ----

std::string trimmed(std::string s) {
  const auto not_space = [](unsigned char c) { return c != ' ' && c != '\t' && c != '\n' && c != '\r'; };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

// Collapses runs of white space so multi-line text reads as one paragraph.
std::string collapsed(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

class Loader {
 public:
  explicit Loader(std::string file) : file_(std::move(file)) {}

  Result<std::shared_ptr<const Agreement>> run(const xmlNode* root) {
    auto a = std::make_shared<Agreement>();
    a->file = file_;
    a->id = attr(root, "id").value_or("");
    a->version = std::atoi(attr(root, "version").value_or("0").c_str());
    for (const xmlNode* n : elementChildren(root)) {
      const std::string_view name = localName(n);
      if (name == "Title") a->title = collapsed(text(n));
      else if (name == "Summary") a->summary = collapsed(text(n));
      else if (name == "Parties") readParties(n, *a);
      else if (name == "Validity") readValidity(n, *a);
      else if (name == "SignOff") readSignOff(n, *a);
      else if (name == "Flow") readFlow(n, *a);
    }
    if (!errors_.empty()) {
      std::string joined;
      for (const auto& e : errors_) joined += (joined.empty() ? "" : "\n") + e;
      return fail(joined);
    }
    return std::shared_ptr<const Agreement>(std::move(a));
  }

 private:
  void error(const xmlNode* n, std::string_view what) {
    errors_.push_back(file_ + ":" + std::to_string(lineOf(n)) + ": " + std::string(localName(n)) + ": " +
                      std::string(what));
  }

  void errorAt(int line, std::string_view element, std::string_view what) {
    errors_.push_back(file_ + ":" + std::to_string(line) + ": " + std::string(element) + ": " + std::string(what));
  }

  Day day(const xmlNode* n, std::string value) {
    Day d;
    d.text = trimmed(std::move(value));
    if (auto parsed = parseDay(d.text)) {
      d.days = *parsed;
    } else {
      error(n, "'" + d.text + "' is not a date YYYY-MM-DD");
    }
    return d;
  }

  void readParties(const xmlNode* parties, Agreement& a) {
    std::set<std::string> ids;
    std::set<std::string> codes;
    for (const xmlNode* n : elementChildren(parties)) {
      Party p;
      p.id = attr(n, "id").value_or("");
      p.code = trimmed(attr(n, "code").value_or(""));
      p.code_system = attr(n, "codeSystem").value_or("");
      p.role = valueOf(kRoles, trimmed(attr(n, "role").value_or(""))).value_or(PartyRole::Controller);
      p.line = lineOf(n);
      for (const xmlNode* c : elementChildren(n)) {
        if (localName(c) == "Name") p.name = collapsed(text(c));
        if (localName(c) == "Contact") p.contact = collapsed(text(c));
      }
      if (!ids.insert(p.id).second) error(n, "party id '" + p.id + "' is used twice; give each party its own id");
      if (!codes.insert(p.code).second) {
        error(n, "organisation code '" + p.code + "' is used by two parties; one organisation is one party");
      }
      a.parties.push_back(std::move(p));
    }
  }

  void readValidity(const xmlNode* v, Agreement& a) {
    const xmlNode* to_node = v;
    for (const xmlNode* n : elementChildren(v)) {
      const std::string_view name = localName(n);
      if (name == "From") {
        a.from = day(n, text(n));
      } else if (name == "To") {
        a.to = day(n, text(n));
        to_node = n;
      } else if (name == "Extension") {
        Extension e;
        e.agreed = day(n, attr(n, "agreed").value_or(""));
        e.authority = collapsed(attr(n, "authority").value_or(""));
        e.line = lineOf(n);
        for (const xmlNode* c : elementChildren(n)) {
          if (localName(c) == "NewEnd") e.new_end = day(c, text(c));
          if (localName(c) == "Note") e.note = collapsed(text(c));
        }
        a.extensions.push_back(std::move(e));
      } else if (name == "Termination") {
        Termination t;
        t.notice_given = day(n, attr(n, "noticeGiven").value_or(""));
        t.by = attr(n, "by").value_or("");
        t.line = lineOf(n);
        for (const xmlNode* c : elementChildren(n)) {
          if (localName(c) == "EffectiveEnd") t.effective_end = day(c, text(c));
        }
        if (a.party(t.by) == nullptr) error(n, "by='" + t.by + "' is not a party of this agreement");
        a.terminations.push_back(std::move(t));
      } else if (name == "ReviewDate") {
        a.review = day(n, text(n));
      }
    }
    if (a.to.days < a.from.days) error(to_node, "the agreement ends (" + a.to.text + ") before it starts (" + a.from.text + ")");
    a.end = a.to;
    for (const auto& e : a.extensions) {
      if (e.new_end.days <= a.end.days) {
        errorAt(e.line, "Extension", "the new end " + e.new_end.text + " is not after the end it extends (" +
                                         a.end.text + "); list extensions oldest first, each moving the end later");
      }
      a.end = e.new_end;
    }
    for (const auto& t : a.terminations) {
      if (t.effective_end.days < t.notice_given.days) {
        errorAt(t.line, "Termination", "the effective end is before notice was given");
      }
      if (t.effective_end.days < a.end.days) a.end = t.effective_end;
    }
  }

  void readSignOff(const xmlNode* n, Agreement& a) {
    SignOff s;
    s.party = attr(n, "party").value_or("");
    s.role = collapsed(text(n));
    s.date = day(n, attr(n, "date").value_or(""));
    if (a.party(s.party) == nullptr) error(n, "party='" + s.party + "' is not a party of this agreement");
    a.sign_offs.push_back(std::move(s));
  }

  // Checks an item pattern against the canonical model and the flow's
  // record types; returns the registry indexes it covers.
  std::vector<std::size_t> resolveItem(const xmlNode* n, const std::string& pattern, const Flow& f) {
    std::vector<std::size_t> out;
    if (!mapping::CanonicalItems::isValidPattern(pattern)) {
      error(n, "'" + pattern +
                   "' is not a canonical data item; use a path from mappings/canonical/README.md (e.g. "
                   "Person.NHSNumber) or Section.* for a whole section");
      return out;
    }
    const std::string section = pattern.substr(0, pattern.find('.'));
    if (section != "Meta" && section != "Person" && !f.carries(section)) {
      error(n, "'" + pattern + "' belongs to " + section +
                   " records, which this flow does not carry; remove it or add " + section + " to RecordTypes");
      return out;
    }
    const auto& all = mapping::CanonicalItems::all();
    const bool whole = pattern.size() == section.size() + 2 && pattern.ends_with(".*");
    for (std::size_t i = 0; i < all.size(); ++i) {
      if ((whole && all[i].section == section) || all[i].path == pattern) out.push_back(i);
    }
    return out;
  }

  std::vector<Condition> conditions(const xmlNode* parent) {
    std::vector<Condition> out;
    for (const xmlNode* c : elementChildren(parent)) {
      if (localName(c) != "When") continue;
      const std::string s = trimmed(text(c));
      if (auto v = valueOf(kConditions, s)) {
        if (std::find(out.begin(), out.end(), *v) == out.end()) out.push_back(*v);
      } else {
        error(c, "unknown condition '" + s + "'");
      }
    }
    return out;
  }

  void readFlow(const xmlNode* fn, Agreement& a) {
    Flow f;
    f.id = attr(fn, "id").value_or("");
    f.from_party = attr(fn, "from").value_or("");
    f.to_party = attr(fn, "to").value_or("");
    f.line = lineOf(fn);
    for (const auto& other : a.flows) {
      if (other.id == f.id) error(fn, "flow id '" + f.id + "' is used twice in this agreement");
    }
    const Party* from = a.party(f.from_party);
    const Party* to = a.party(f.to_party);
    if (from == nullptr) error(fn, "from='" + f.from_party + "' is not a party of this agreement (see <Parties>)");
    if (to == nullptr) error(fn, "to='" + f.to_party + "' is not a party of this agreement (see <Parties>)");
    if (from != nullptr && from == to) error(fn, "a flow goes from one party to another; from and to are both '" + f.from_party + "'");
    if (from != nullptr) f.from_code = from->code;
    if (to != nullptr) f.to_code = to->code;

    // Record types first: items are checked against them.
    for (const xmlNode* n : elementChildren(fn)) {
      if (localName(n) != "RecordTypes") continue;
      for (const xmlNode* rt : elementChildren(n)) {
        const std::string t = trimmed(text(rt));
        const auto& sections = mapping::CanonicalItems::sections();
        const bool known = t == "Person" || (std::find(sections.begin() + 2, sections.end(), t) != sections.end());
        if (!known) error(rt, "'" + t + "' is not a canonical record type");
        else if (f.carries(t)) error(rt, "record type '" + t + "' is listed twice");
        else f.record_types.push_back(t);
      }
    }
    f.allowed.assign(mapping::CanonicalItems::all().size(), false);
    std::set<std::string> markers;
    for (const xmlNode* n : elementChildren(fn)) {
      const std::string_view name = localName(n);
      if (name == "Description") {
        f.description = collapsed(text(n));
      } else if (name == "Purpose") {
        const std::string s = trimmed(text(n));
        if (auto p = valueOf(kPurposes, s)) f.purpose = *p;
        else error(n, "unknown purpose '" + s + "'");
      } else if (name == "LawfulBasis") {
        for (const xmlNode* c : elementChildren(n)) {
          const std::string_view cn = localName(c);
          if (cn == "Article6") {
            f.basis.article6 = trimmed(attr(c, "condition").value_or(""));
            f.basis.article6_text = collapsed(text(c));
          } else if (cn == "Article9") {
            f.basis.article9 = trimmed(attr(c, "condition").value_or(""));
            f.basis.article9_text = collapsed(text(c));
          } else if (cn == "Schedule1") {
            f.basis.schedule1_paragraph = std::atoi(attr(c, "paragraph").value_or("0").c_str());
            f.basis.schedule1_text = collapsed(text(c));
          }
        }
      } else if (name == "Items") {
        for (const xmlNode* it : elementChildren(n)) {
          const std::string pattern = trimmed(text(it));
          for (std::size_t i : resolveItem(it, pattern, f)) f.allowed[i] = true;
          f.items.push_back(pattern);
        }
      } else if (name == "Consent") {
        readConsent(n, f);
      } else if (name == "Sensitive") {
        SensitiveRule r;
        r.marker = trimmed(attr(n, "marker").value_or(""));
        r.action = valueOf(kActions, trimmed(attr(n, "action").value_or(""))).value_or(SensitiveAction::Refuse);
        r.approver = collapsed(attr(n, "approver").value_or(""));
        r.line = lineOf(n);
        if (!markers.insert(r.marker).second) {
          error(n, "marker '" + r.marker + "' has two rules in this flow; keep one");
        }
        for (const xmlNode* it : elementChildren(n)) {
          const std::string pattern = trimmed(text(it));
          for (std::size_t i : resolveItem(it, pattern, f)) r.item_index.push_back(i);
          r.items.push_back(pattern);
        }
        if (r.action == SensitiveAction::Withhold && r.items.empty()) {
          error(n, "action 'withhold' needs the <Item>s to withhold when the record is marked " + r.marker);
        }
        if (r.action != SensitiveAction::Withhold && !r.items.empty()) {
          error(n, "only action 'withhold' lists items; action '" + std::string(toString(r.action)) + "' applies to the whole record");
        }
        if (r.action == SensitiveAction::Hold && r.approver.empty()) {
          error(n, "action 'hold' needs approver=\"<role>\", the role that approves the disclosure");
        }
        if (r.action != SensitiveAction::Hold && !r.approver.empty()) {
          error(n, "approver is only used with action 'hold'");
        }
        f.sensitive.push_back(std::move(r));
      } else if (name == "Hold") {
        f.hold_approver = collapsed(attr(n, "approver").value_or(""));
        f.hold_line = lineOf(n);
        f.hold_when = conditions(n);
        if (f.consent != ConsentMode::SafeguardingOverride &&
            std::find(f.hold_when.begin(), f.hold_when.end(), Condition::ConsentOverridden) != f.hold_when.end()) {
          error(n, "condition 'consent-overridden' can only occur with consent mode 'safeguarding-override'");
        }
      }
    }
    a.flows.push_back(std::move(f));
  }

  void readConsent(const xmlNode* n, Flow& f) {
    f.consent_line = lineOf(n);
    const std::string mode = trimmed(attr(n, "mode").value_or(""));
    f.consent = valueOf(kConsentModes, mode).value_or(ConsentMode::Required);
    const xmlNode* reason = nullptr;
    const xmlNode* override_node = nullptr;
    for (const xmlNode* c : elementChildren(n)) {
      if (localName(c) == "Reason") reason = c;
      if (localName(c) == "Override") override_node = c;
    }
    if (reason != nullptr) f.consent_reason = collapsed(text(reason));
    if (f.consent == ConsentMode::NotRequired && reason == nullptr) {
      error(n, "mode 'not-required' needs a <Reason> saying why consent is not the basis for this flow");
    }
    if (f.consent == ConsentMode::SafeguardingOverride && override_node == nullptr) {
      error(n, "mode 'safeguarding-override' needs an <Override> with its conditions and justification");
    }
    if (f.consent != ConsentMode::SafeguardingOverride && override_node != nullptr) {
      error(override_node, "<Override> is only used with mode 'safeguarding-override'");
    }
    if (override_node != nullptr) {
      f.override_schedule1_paragraph = std::atoi(attr(override_node, "schedule1Paragraph").value_or("0").c_str());
      f.override_when = conditions(override_node);
      for (const xmlNode* c : elementChildren(override_node)) {
        if (localName(c) == "Justification") f.override_justification = collapsed(text(c));
      }
      for (Condition c : f.override_when) {
        if (c == Condition::ConsentOverridden) {
          error(override_node, "'consent-overridden' cannot justify an override; name a risk condition");
        }
      }
    }
  }

  std::string file_;
  std::vector<std::string> errors_;
};

}  // namespace

std::string_view toString(Purpose p) { return nameOf(kPurposes, p); }
std::string_view toString(PartyRole r) { return nameOf(kRoles, r); }
std::string_view toString(ConsentMode m) { return nameOf(kConsentModes, m); }
std::string_view toString(Condition c) { return nameOf(kConditions, c); }
std::string_view toString(SensitiveAction a) { return nameOf(kActions, a); }

Result<Purpose> parsePurpose(std::string_view s) {
  if (auto p = valueOf(kPurposes, s)) return *p;
  return fail("unknown purpose '" + std::string(s) +
              "'; use direct-care, safeguarding, performance-monitoring or statutory-return");
}

std::string LawfulBasis::summary(int schedule1_override) const {
  const int para = schedule1_override > 0 ? schedule1_override : schedule1_paragraph;
  return "UK GDPR Art 6(1)(" + article6 + "); Art 9(2)(" + article9 + "); DPA 2018 Sch 1 para " +
         std::to_string(para);
}

bool Flow::carries(std::string_view record_type) const {
  return std::find(record_types.begin(), record_types.end(), record_type) != record_types.end();
}

const Party* Agreement::party(std::string_view party_id) const {
  for (const auto& p : parties) {
    if (p.id == party_id) return &p;
  }
  return nullptr;
}

std::chrono::system_clock::time_point ukStartOfDay(std::chrono::sys_days day) {
  // UK summer time (Summer Time Order 2002): from 01:00 UTC on the last
  // Sunday of March to 01:00 UTC on the last Sunday of October. Local
  // midnight falls in summer time on the days after the March change up to
  // and including the October change day.
  const chr::year y = chr::year_month_day(day).year();
  const chr::sys_days march = chr::sys_days(chr::year_month_weekday_last(y, chr::March, chr::weekday_last(chr::Sunday)));
  const chr::sys_days october =
      chr::sys_days(chr::year_month_weekday_last(y, chr::October, chr::weekday_last(chr::Sunday)));
  const bool summer = day > march && day <= october;
  return chr::system_clock::time_point(day) - (summer ? chr::hours(1) : chr::hours(0));
}

chr::system_clock::time_point Agreement::validFrom() const { return ukStartOfDay(from.days); }
chr::system_clock::time_point Agreement::validUntil() const { return ukStartOfDay(end.days + chr::days(1)); }

Result<std::shared_ptr<const AgreementSchema>> AgreementSchema::load(const std::string& xsd_path) {
  auto schema = xml::Schema::load(xsd_path);
  if (!schema) return std::move(schema).error();
  auto out = std::shared_ptr<AgreementSchema>(new AgreementSchema());
  out->schema_ = std::move(*schema);
  return std::shared_ptr<const AgreementSchema>(std::move(out));
}

Result<std::shared_ptr<const Agreement>> loadAgreement(const std::string& file, const AgreementSchema& schema) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail(file + ": cannot read the agreement file");
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  xml::ParseLimits limits;
  limits.max_bytes = 4u << 20;
  auto doc = xml::parse(bytes, file, limits);
  if (!doc) return std::move(doc).error();
  if (auto st = schema.schema().validate(doc->get(), file); !st) {
    return fail(st.error().message + "\n(" + file + " does not follow agreements/schema/agreement.xsd)");
  }
  const xmlNode* root = xmlDocGetRootElement(doc->get());
  if (!is(root, kNs, "Agreement")) return fail(file + ":1: the root element is not an agreement");
  auto a = Loader(file).run(root);
  if (!a) return a;
  auto mutable_a = std::const_pointer_cast<Agreement>(std::move(*a));
  mutable_a->digest = toHex(sha256(bytes));
  return std::shared_ptr<const Agreement>(std::move(mutable_a));
}

}  // namespace cb::policy
