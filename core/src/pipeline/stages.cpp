#include "pipeline/stages.h"

namespace cb::pipeline {

const char* toString(SharingDecision::Verdict v) {
  switch (v) {
    case SharingDecision::Verdict::Share: return "share";
    case SharingDecision::Verdict::ShareWithheld: return "share-withheld";
    case SharingDecision::Verdict::Refuse: return "refuse";
    case SharingDecision::Verdict::Hold: return "hold";
  }
  return "refuse";
}

Result<TranslatedRecord> PassthroughTranslator::translate(const ReceivedRecord& r) const {
  TranslatedRecord t;
  t.record_type = r.record_type;
  t.subject_key = r.subject_key;
  t.content_type = r.content_type;
  t.body = r.payload;
  t.audit_details.emplace_back("mode", "passthrough");
  return t;
}

SharingDecision PassthroughPolicy::decide(const TranslatedRecord&, const Destination& to) const {
  SharingDecision d;
  d.verdict = SharingDecision::Verdict::Share;
  d.rule = "passthrough";
  d.explanation = "route '" + to.route +
                  "' is configured as passthrough: forwarded unchanged, no information-sharing agreement checked";
  return d;
}

Result<RenderedRecord> PassthroughRenderer::render(const TranslatedRecord& t, const SharingDecision&,
                                                   const Destination&) const {
  // body stays nullptr: the store delivers the received payload itself.
  return RenderedRecord{t.content_type, t.record_type, nullptr};
}

}  // namespace cb::pipeline
