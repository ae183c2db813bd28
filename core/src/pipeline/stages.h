#pragma once
// The pipeline's stages, as seams. A record travels:
//
//   receive (adapter) -> store -> translate -> decide -> render -> deliver (adapter)
//
// receive.h stores what an adapter hands in; route.h runs translate, decide
// and render for each destination of the record's routes and stores the
// resulting deliveries; deliver.h sends them. The three middle stages are the
// interfaces below. A route configured as passthrough uses the passthrough
// implementations (forward unchanged); mapped routes use the mapping engine
// (translate, render) and the information-sharing agreements (decide).

#include "common/result.h"

#include <memory>
#include <string>
#include <vector>

struct _xmlDoc;

namespace cb::pipeline {

/// A stored record entering the middle stages.
struct ReceivedRecord {
  std::int64_t seq = 0;
  std::string message_id;
  std::string source;       ///< inbound adapter instance
  std::string source_org;
  std::string content_type;
  std::string record_type;  ///< the adapter's hint; translation may refine it
  std::string subject_key;  ///< keyed hash of the person, "" if not yet known
  std::shared_ptr<const std::string> payload;
};

/// The record after translation: in canonical form for mapped routes, or the
/// original bytes for passthrough.
struct TranslatedRecord {
  std::string record_type;
  std::string subject_key;
  std::string content_type;
  std::shared_ptr<const std::string> body;  ///< passthrough: the received bytes
  /// Mapped routes: the canonical Record document (canonical.xsd). Shared
  /// read-only by the decide and render stages of every destination; a
  /// renderer that removes withheld items works on its own copy.
  std::shared_ptr<const _xmlDoc> canonical;
  std::vector<std::pair<std::string, std::string>> audit_details;  ///< e.g. mapping file and its digest
};

/// Where a record may go: one outbound adapter on one route.
struct Destination {
  std::string route;
  std::string adapter;
  std::string organisation;
};

/// The decide stage's answer for one record and one destination (PRODUCT.md
/// "Information-sharing rules"): every decision is audited with its rule.
struct SharingDecision {
  enum class Verdict { Share, ShareWithheld, Refuse, Hold };
  Verdict verdict = Verdict::Refuse;
  std::string agreement;      ///< agreement id, "" for passthrough
  std::string flow;
  std::string rule;           ///< the rule that decided
  std::string purpose;
  std::string lawful_basis;
  std::vector<std::string> withheld;  ///< items removed before rendering
  std::vector<std::string> allowed;   ///< the canonical items that may leave (mapped routes)
  std::string approver;       ///< Hold: the role that approves
  std::string justification;  ///< consent overridden: the recorded justification
  std::string explanation;    ///< one line, for people
};
const char* toString(SharingDecision::Verdict v);

/// The bytes to deliver to one destination.
struct RenderedRecord {
  std::string content_type;
  std::string record_type;
  /// nullptr: deliver the received payload unchanged (stored once, not copied).
  std::shared_ptr<const std::string> body;
};

class Translator {
 public:
  virtual ~Translator() = default;
  /// Refusal (the error) quarantines the record, naming file, line, field and reason.
  virtual Result<TranslatedRecord> translate(const ReceivedRecord& record) const = 0;
};

class SharingPolicy {
 public:
  virtual ~SharingPolicy() = default;
  virtual SharingDecision decide(const TranslatedRecord& record, const Destination& to) const = 0;
};

class Renderer {
 public:
  virtual ~Renderer() = default;
  virtual Result<RenderedRecord> render(const TranslatedRecord& record, const SharingDecision& decision,
                                        const Destination& to) const = 0;
};

/// Passthrough: the record is forwarded as received.
class PassthroughTranslator final : public Translator {
 public:
  Result<TranslatedRecord> translate(const ReceivedRecord& record) const override;
};

/// Refuses every record with a fixed reason (quarantine): a route whose
/// translation could not be set up never forwards anything.
class RefusingTranslator final : public Translator {
 public:
  explicit RefusingTranslator(std::string reason) : reason_(std::move(reason)) {}
  Result<TranslatedRecord> translate(const ReceivedRecord&) const override { return fail(reason_); }

 private:
  std::string reason_;
};

/// Passthrough: every destination of the route is shared with, and the
/// decision says plainly that no agreement was checked.
class PassthroughPolicy final : public SharingPolicy {
 public:
  SharingDecision decide(const TranslatedRecord& record, const Destination& to) const override;
};

class PassthroughRenderer final : public Renderer {
 public:
  Result<RenderedRecord> render(const TranslatedRecord& record, const SharingDecision& decision,
                                const Destination& to) const override;
};

}  // namespace cb::pipeline
