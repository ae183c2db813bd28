#pragma once
// The admin API (issue #6): JSON over HTTPS on the admin listener, for the
// information-governance web page and for scripts. Who calls is the client
// certificate's CN, looked up in [[admin.user]] (access.h); every call is
// recorded in the audit trail (admin.request, or audit.viewed for reads of
// the trail itself) before its answer is sent, refusals (403) included.
// People's identifiers travel only in POST bodies, never in a URL, and are
// hashed with the site key at once (pipeline/subject_key.h).
//
//   GET  /api/me                   who am I, my roles, permissions and anti-CSRF token
//   GET  /api/health               liveness, readiness, queue counts            operator
//   GET  /api/deliveries?state=S   deliveries by state (dead, queued, ...)      operator
//   POST /api/deliveries/replay    {deliveries:[n], reason}                     operator
//   GET  /api/holds                disclosures held for approval                approver
//   POST /api/holds/decide         {deliveries:[n], decision:approve|refuse, reason}  approver
//   POST /api/audit/search         {nhs_number?, organisation?, agreement?, purpose?, decision?,
//                                   action?, from_ms?, to_ms?, after?, limit?}  ig-reviewer
//   POST /api/audit/sar            {nhs_number}                                 ig-reviewer
//   GET  /api/agreements           agreements as text, validity, ending soon    ig-reviewer
//   GET  /api/verification         latest signed checkpoint, last run, progress ig-reviewer
//   POST /api/verification/run     verify the whole log in the background      ig-reviewer
// (auditor: every GET and read-only POST.) Every POST needs the header
// X-CSRF-Token from /api/me and Content-Type: application/json.

#include "admin/access.h"
#include "config/config.h"
#include "net/http.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cb::store {
class Store;
struct DeliveryInfo;
}  // namespace cb::store
namespace cb::pipeline {
class SubjectKeyer;
}
namespace cb::policy {
class PolicySet;
}

namespace cb::admin {

/// What the API works on. OWNERSHIP: `store` and `keyer` must outlive the
/// AdminApi; the callbacks are called from the API's worker threads.
struct ApiServices {
  store::Store* store = nullptr;
  const pipeline::SubjectKeyer* keyer = nullptr;  ///< to look people up by NHS number
  config::AuditSettings audit;                    ///< for the checkpoint verifier key
  /// The agreements in force now (nullptr when no mapped route loads any).
  std::function<std::shared_ptr<const policy::PolicySet>()> agreements;
  /// Deliveries an approval or replay put back in the queue, for the scheduler.
  std::function<void(const std::vector<store::DeliveryInfo>&)> queued;
  std::function<std::string()> health;  ///< "" = healthy, else why not
  std::function<std::string()> ready;   ///< "" = ready, else why not
};

class AdminApi {
 public:
  AdminApi(const config::AdminSettings& settings, ApiServices services);
  /// Waits for calls in progress and a running verification to finish.
  ~AdminApi();
  AdminApi(const AdminApi&) = delete;
  AdminApi& operator=(const AdminApi&) = delete;

  /// Answers one request under /api/ (from an I/O thread: the work runs on
  /// the API's own threads, so store reads and writes never block I/O).
  void handle(net::HttpRequest&& request, std::function<void(net::HttpResponse)> respond);
  /// After a reload: the users of the new configuration.
  void setUsers(std::vector<config::AdminUser> users);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cb::admin
