#pragma once
// The stages of a mapped route (config `mode = "mapped"`):
//
//   translate  the source system's mappings bring the received bytes to the
//              canonical model (mapping::SystemMappings::toCanonical); a
//              refusal quarantines the record with file:line, field, reason;
//   decide     the information-sharing agreements decide per destination
//              (policy::PolicySet::decide) for the route's purpose: share,
//              share with items withheld, refuse or hold; fail closed;
//   render     a copy of the canonical record loses everything the decision
//              does not allow (policy::applyDecision), then the destination
//              system's mappings write it in that system's format.
//
// StageResources holds what these stages load from disk (mapping folders,
// agreements). It is loaded whole for a configuration, at start and on
// SIGHUP, beside the running one, so a reload swaps everything or nothing.

#include "common/clock.h"
#include "common/result.h"
#include "config/config.h"
#include "pipeline/stages.h"
#include "pipeline/subject_key.h"
#include "policy/policy_set.h"

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace cb::mapping {
class SystemMappings;
}

namespace cb::pipeline {

/// Everything mapped routes need from disk, for one configuration.
struct StageResources {
  /// By system name (an adapter's `system`): its mappings and wire formats.
  std::map<std::string, std::shared_ptr<const mapping::SystemMappings>> systems;
  /// The agreements; nullptr when no route is mapped.
  std::shared_ptr<const policy::PolicySet> agreements;
  /// Files loaded and their digests, for the audit trail of a (re)load.
  std::vector<std::pair<std::string, std::string>> digests;
  /// Agreements ending within 60 days, for the daemon's warning.
  std::vector<policy::EndingAgreement> ending;
};

/// Loads the mapping folders and agreements a configuration's mapped routes
/// use, and checks them against it: every source system reads its records,
/// every destination system writes them, agreement parties are organisations
/// the configuration knows, and an agreement covers each mapped route's
/// every source and destination organisation (`carebridged --check-config`
/// refuses a route no agreement covers). Errors name the file and line.
Result<StageResources> loadStageResources(const config::Config& config, const Clock& clock);

/// Translate stage of a mapped route.
class MappedTranslator final : public Translator {
 public:
  MappedTranslator(std::shared_ptr<const mapping::SystemMappings> source, const SubjectKeyer& keyer);
  Result<TranslatedRecord> translate(const ReceivedRecord& record) const override;

 private:
  std::shared_ptr<const mapping::SystemMappings> source_;
  const SubjectKeyer& keyer_;
};

/// Decide stage of a mapped route: the agreements, for the route's purpose.
class AgreementPolicy final : public SharingPolicy {
 public:
  AgreementPolicy(std::shared_ptr<const policy::PolicySet> agreements, std::string from_org, std::string purpose);
  SharingDecision decide(const TranslatedRecord& record, const Destination& to) const override;

 private:
  std::shared_ptr<const policy::PolicySet> agreements_;
  std::string from_org_;
  std::string purpose_;
};

/// Render stage of a mapped route: withholding, then the destination
/// system's outbound mapping. Keyed by destination adapter.
class MappedRenderer final : public Renderer {
 public:
  explicit MappedRenderer(std::map<std::string, std::shared_ptr<const mapping::SystemMappings>> destinations);
  Result<RenderedRecord> render(const TranslatedRecord& record, const SharingDecision& decision,
                                const Destination& to) const override;

 private:
  std::map<std::string, std::shared_ptr<const mapping::SystemMappings>> destinations_;
};

}  // namespace cb::pipeline
