#include "pipeline/mapped_stages.h"

#include "common/digest.h"
#include "mapping/mapping.h"
#include "mapping/system.h"
#include "policy/agreement.h"
#include "policy/policy_set.h"
#include "xml/safe_xml.h"

#include <libxml/tree.h>

#include <filesystem>
#include <set>

namespace fs = std::filesystem;

namespace cb::pipeline {
namespace {

using Verdict = SharingDecision::Verdict;

Verdict toVerdict(policy::Decision::Verdict v) {
  switch (v) {
    case policy::Decision::Verdict::Share: return Verdict::Share;
    case policy::Decision::Verdict::ShareWithheld: return Verdict::ShareWithheld;
    case policy::Decision::Verdict::Hold: return Verdict::Hold;
    case policy::Decision::Verdict::Refuse: break;
  }
  return Verdict::Refuse;
}

policy::Decision::Verdict fromVerdict(Verdict v) {
  switch (v) {
    case Verdict::Share: return policy::Decision::Verdict::Share;
    case Verdict::ShareWithheld: return policy::Decision::Verdict::ShareWithheld;
    case Verdict::Hold: return policy::Decision::Verdict::Hold;
    case Verdict::Refuse: break;
  }
  return policy::Decision::Verdict::Refuse;
}

}  // namespace

Result<StageResources> loadStageResources(const config::Config& config, const Clock& clock) {
  StageResources res;
  std::vector<const config::RouteSettings*> mapped;
  for (const auto& r : config.routes) {
    if (r.mode == config::RouteSettings::Mode::Mapped) mapped.push_back(&r);
  }
  if (mapped.empty()) return res;

  const auto& daemon = config.daemon;
  auto schemas = mapping::MappingSchemas::load(daemon.mappings_dir.string());
  if (!schemas) return fail("daemon.mappings_dir: " + schemas.error().message);

  std::set<std::string> errors;
  std::string all_errors;
  const auto problem = [&](const std::string& what) {
    if (errors.insert(what).second) all_errors += (all_errors.empty() ? "" : "\n") + what;
  };
  const auto systemOf = [&](const std::string& adapter) -> std::shared_ptr<const mapping::SystemMappings> {
    const auto* a = config.adapter(adapter);
    if (a == nullptr || a->system.empty()) return nullptr;  // config validation reported it
    if (auto it = res.systems.find(a->system); it != res.systems.end()) return it->second;
    const fs::path dir = daemon.mappings_dir / a->system;
    auto sys = mapping::SystemMappings::load(dir.string(), *schemas);
    if (!sys) {
      problem(a->where.str() + ": adapter '" + adapter + "': system '" + a->system + "': " + sys.error().message);
      return nullptr;
    }
    res.digests.emplace_back(dir.string(), (*sys)->digest());
    res.systems.emplace(a->system, *sys);
    return *sys;
  };

  policy::PolicyLoadOptions options;
  options.known_parties.emplace();
  for (const auto& a : config.adapters) {
    if (!a.organisation.empty()) options.known_parties->insert(a.organisation);
  }
  // The schema ships in agreements/schema/; a deployment keeps its own
  // agreements in a folder of their own, either holding a schema/ folder or
  // sitting beside the shipped one (agreements/<site>/ in the repository).
  fs::path xsd = daemon.agreements_dir / "schema" / "agreement.xsd";
  if (std::error_code ec; !fs::exists(xsd, ec)) xsd = daemon.agreements_dir.parent_path() / "schema" / "agreement.xsd";
  auto schema = policy::AgreementSchema::load(xsd.string());
  if (!schema) return fail("daemon.agreements_dir: " + schema.error().message);
  auto agreements = policy::PolicySet::loadDirectory(daemon.agreements_dir.string(), **schema, clock, options);
  if (!agreements) return fail("daemon.agreements_dir: " + agreements.error().message);
  res.agreements = *agreements;
  res.digests.emplace_back(daemon.agreements_dir.string(), res.agreements->digest());
  res.ending = res.agreements->endingWithin(60);

  for (const auto* r : mapped) {
    const std::string where = r->where.str() + ": route '" + r->name + "': ";
    if (auto src = systemOf(r->from); src && src->inboundFormats().empty()) {
      problem(where + "system '" + src->system() + "' of adapter '" + r->from + "' has no inbound mappings");
    }
    const std::string from_org = config.adapter(r->from) != nullptr ? config.adapter(r->from)->organisation : "";
    if (from_org.empty()) problem(where + "adapter '" + r->from + "' needs `organisation` for the agreements");
    for (const auto& d : r->to) {
      if (auto dst = systemOf(d); dst && dst->outboundFormat() == nullptr) {
        problem(where + "system '" + dst->system() + "' of adapter '" + d + "' has no outbound mappings");
      }
      const auto* a = config.adapter(d);
      const std::string to_org = a != nullptr ? a->organisation : "";
      if (to_org.empty()) {
        problem(where + "adapter '" + d + "' needs `organisation` for the agreements");
      } else if (!from_org.empty() && !res.agreements->covers(from_org, to_org)) {
        problem(where + "no agreement in " + daemon.agreements_dir.string() + " covers sharing from " + from_org +
                " to " + to_org + " (adapter '" + d + "'); nothing could be shared");
      }
    }
  }
  if (!all_errors.empty()) return fail(all_errors);
  return res;
}

MappedTranslator::MappedTranslator(std::shared_ptr<const mapping::SystemMappings> source, const SubjectKeyer& keyer)
    : source_(std::move(source)), keyer_(keyer) {}

Result<TranslatedRecord> MappedTranslator::translate(const ReceivedRecord& record) const {
  if (!record.payload) return fail("no payload");
  auto in = source_->toCanonical(*record.payload, record.content_type);
  if (!in) return fail("system '" + source_->system() + "': " + in.error().message);
  TranslatedRecord t;
  t.record_type = in->record_type;
  // The person, by NHS number where the record has one, else by the source
  // system's own id; only the keyed hash leaves this function.
  if (!in->nhs_number.empty()) {
    t.subject_key = keyer_.key("nhs", in->nhs_number);
  } else if (!in->local_ids.empty()) {
    t.subject_key = keyer_.key("local:" + in->local_ids.front().first, in->local_ids.front().second);
  } else {
    t.subject_key = record.subject_key;
  }
  t.content_type = "application/xml";
  xmlDoc* doc = in->canonical.release();
  t.canonical = std::shared_ptr<const _xmlDoc>(doc, [](const _xmlDoc* d) { xmlFreeDoc(const_cast<_xmlDoc*>(d)); });
  t.audit_details.emplace_back("system", source_->system());
  t.audit_details.emplace_back("mapping", fs::path(in->mapping_file).filename().string());
  t.audit_details.emplace_back("mapping_sha256", in->mapping_digest);
  return t;
}

AgreementPolicy::AgreementPolicy(std::shared_ptr<const policy::PolicySet> agreements, std::string from_org,
                                 std::string purpose)
    : agreements_(std::move(agreements)), from_org_(std::move(from_org)), purpose_(std::move(purpose)) {}

SharingDecision AgreementPolicy::decide(const TranslatedRecord& record, const Destination& to) const {
  SharingDecision out;
  if (!agreements_ || !record.canonical) {
    out.verdict = Verdict::Refuse;
    out.rule = "no-agreements";
    out.explanation = "no agreements loaded or no canonical record; nothing is shared";
    return out;
  }
  const policy::Decision d = agreements_->decide(record.canonical.get(), from_org_, to.organisation, purpose_);
  out.verdict = toVerdict(d.verdict);
  out.agreement = d.agreement;
  out.flow = d.flow;
  out.rule = d.rule;
  out.purpose = d.purpose;
  out.lawful_basis = d.lawful_basis;
  out.withheld = d.withheld;
  out.allowed = d.allowed;
  out.approver = d.approver;
  out.justification = d.justification;
  out.explanation = d.explanation;
  return out;
}

MappedRenderer::MappedRenderer(std::map<std::string, std::shared_ptr<const mapping::SystemMappings>> destinations)
    : destinations_(std::move(destinations)) {}

Result<RenderedRecord> MappedRenderer::render(const TranslatedRecord& record, const SharingDecision& decision,
                                              const Destination& to) const {
  auto it = destinations_.find(to.adapter);
  if (it == destinations_.end() || !it->second) return fail("no mappings for destination '" + to.adapter + "'");
  if (!record.canonical) return fail("no canonical record to render");
  if (decision.verdict == Verdict::Refuse) return fail("refused records are never rendered");
  // Withholding works on this destination's own copy: other destinations
  // may be allowed more of the record.
  xml::DocPtr copy(xmlCopyDoc(const_cast<_xmlDoc*>(record.canonical.get()), 1));
  if (!copy) return fail("out of memory copying the canonical record");
  policy::Decision d;
  d.verdict = fromVerdict(decision.verdict);
  d.agreement = decision.agreement;
  d.flow = decision.flow;
  d.withheld = decision.withheld;
  d.allowed = decision.allowed;
  auto removed = policy::applyDecision(copy.get(), d);
  if (!removed) return fail("withholding failed, nothing rendered: " + removed.error().message);
  auto out = it->second->fromCanonical(copy.get(), record.record_type);
  if (!out) return fail("system '" + it->second->system() + "': " + out.error().message);
  RenderedRecord r;
  r.content_type = out->content_type;
  r.record_type = record.record_type;
  r.body = std::make_shared<const std::string>(std::move(out->bytes));
  return r;
}

}  // namespace cb::pipeline
