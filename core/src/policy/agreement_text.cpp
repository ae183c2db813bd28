#include "policy/agreement_text.h"

#include "mapping/canonical.h"

#include <sstream>

namespace cb::policy {
namespace {

std::string list(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

void printFlow(const Agreement& a, const Flow& f, std::ostream& out) {
  const Party* from = a.party(f.from_party);
  const Party* to = a.party(f.to_party);
  out << "\nFlow " << f.id << ": " << (from ? from->name : f.from_party) << " -> " << (to ? to->name : f.to_party)
      << "\n";
  if (!f.description.empty()) out << "  " << f.description << "\n";
  out << "  Records:      " << list(f.record_types) << "\n";
  out << "  Purpose:      " << toString(f.purpose) << "\n";
  out << "  Lawful basis: UK GDPR Art 6(1)(" << f.basis.article6 << "): " << f.basis.article6_text << "\n";
  out << "                UK GDPR Art 9(2)(" << f.basis.article9 << "): " << f.basis.article9_text << "\n";
  out << "                DPA 2018 Sch 1 para " << f.basis.schedule1_paragraph << ": " << f.basis.schedule1_text << "\n";
  out << "  Items that may be shared (everything else is withheld):\n";
  for (const auto& item : f.items) {
    const auto* known = mapping::CanonicalItems::find(item);
    out << "    " << item;
    if (known != nullptr) out << "  (" << known->description << ")";
    else if (item.ends_with(".*")) out << "  (every item of " << item.substr(0, item.size() - 2) << ")";
    out << "\n";
  }
  out << "  Consent:      ";
  switch (f.consent) {
    case ConsentMode::Required:
      out << "required: only records with consent given are shared\n";
      break;
    case ConsentMode::NotRequired:
      out << "not required: " << f.consent_reason << "\n";
      break;
    case ConsentMode::SafeguardingOverride: {
      std::vector<std::string> when;
      for (auto c : f.override_when) when.emplace_back(toString(c));
      out << "shared when given; otherwise overridden under DPA 2018 Sch 1 para " << f.override_schedule1_paragraph
          << " when any of: " << list(when) << "\n";
      out << "                Justification: " << f.override_justification << "\n";
      break;
    }
  }
  if (f.sensitive.empty()) {
    out << "  Sensitive:    no rules (a record marked sealed is refused)\n";
  }
  for (const auto& s : f.sensitive) {
    out << "  Sensitive:    marked " << s.marker << ": ";
    switch (s.action) {
      case SensitiveAction::Refuse:
        out << "not shared\n";
        break;
      case SensitiveAction::Hold:
        out << "held for " << s.approver << " to approve\n";
        break;
      case SensitiveAction::Withhold:
        out << "withhold " << list(s.items) << "\n";
        break;
    }
  }
  if (!f.hold_approver.empty()) {
    std::vector<std::string> when;
    for (auto c : f.hold_when) when.emplace_back(toString(c));
    out << "  Held for:     " << f.hold_approver << " when any of: " << list(when) << "\n";
  }
}

}  // namespace

std::string agreementText(const Agreement& a) {
  std::ostringstream out;
  out << a.title << "\n";
  out << "Agreement " << a.id << ", version " << a.version << " (" << a.file << ")\n";
  if (!a.summary.empty()) out << "\n" << a.summary << "\n";
  out << "\nParties:\n";
  for (const auto& p : a.parties) {
    out << "  " << p.name << ": " << p.code_system << " code " << p.code << ", " << toString(p.role) << " ["
        << p.id << "]\n";
    if (!p.contact.empty()) out << "    contact: " << p.contact << "\n";
  }
  out << "\nIn force: " << a.from.text << " to " << a.end.text << " inclusive (UK time)";
  if (a.end.text != a.to.text) out << "; originally to " << a.to.text;
  out << "\n";
  for (const auto& e : a.extensions) {
    out << "  extended to " << e.new_end.text << ", agreed " << e.agreed.text << " by " << e.authority;
    if (!e.note.empty()) out << ": " << e.note;
    out << "\n";
  }
  for (const auto& t : a.terminations) {
    out << "  notice of termination given " << t.notice_given.text << " by " << t.by << ", effective end "
        << t.effective_end.text << "\n";
  }
  out << "  next review: " << a.review.text << "\n";
  for (const auto& s : a.sign_offs) out << "  signed off for " << s.party << " by the " << s.role << " on " << s.date.text << "\n";
  for (const auto& f : a.flows) printFlow(a, f, out);
  out << "\nAnything not listed here is refused: other organisations, record types, purposes, and dates outside "
         "the period in force.\n";
  return out.str();
}

}  // namespace cb::policy
