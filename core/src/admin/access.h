#pragma once
// Who may do what through the admin API (issue #6). People are known by the
// client certificate they present over mutual TLS on the admin listener: its
// subject CN is looked up in [[admin.user]], which gives their roles and
// organisation. Each API call needs one permission; a role grants a fixed
// set of them:
//
//   operator     health, queues and dead letters, replay
//   ig-reviewer  audit search, subject access reports, agreements, verification
//   approver     held disclosures: see them, approve or refuse
//   auditor      read-only everything (and may run verification, which only reads)
//
// A page served to a certificate-authenticated browser is open to cross-site
// request forgery (the browser presents the certificate to any site's form),
// so every POST carries a token the page got from GET /api/me: an HMAC of
// the user's CN and the time it was issued, under a per-process secret, valid
// for [admin] session_timeout.

#include "config/config.h"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cb::admin {

enum class Permission {
  Health,           ///< GET /api/health
  Queues,           ///< GET /api/deliveries
  Replay,           ///< POST /api/deliveries/replay
  AuditSearch,      ///< POST /api/audit/search
  SubjectAccess,    ///< POST /api/audit/sar
  Agreements,       ///< GET /api/agreements
  Verification,     ///< GET /api/verification
  RunVerification,  ///< POST /api/verification/run
  Holds,            ///< GET /api/holds
  DecideHolds,      ///< POST /api/holds/decide
};
const char* toString(Permission p);

/// Whether any of `roles` grants `p`. Unknown roles grant nothing.
bool allows(const std::vector<std::string>& roles, Permission p);

/// Every permission `roles` grant (for the page, which shows only what the
/// user may use; the server checks each call regardless).
std::vector<Permission> permissionsOf(const std::vector<std::string>& roles);

/// The configured users, replaceable on reload. Thread-safe.
class UserDirectory {
 public:
  explicit UserDirectory(std::vector<config::AdminUser> users) : users_(std::move(users)) {}
  /// The user whose CN is exactly `cn`, if configured.
  std::optional<config::AdminUser> find(std::string_view cn) const;
  void replace(std::vector<config::AdminUser> users);
  bool empty() const;

 private:
  mutable std::mutex mutex_;
  std::vector<config::AdminUser> users_;
};

/// Anti-CSRF tokens bound to a user's CN, expiring after `lifetime`.
class CsrfTokens {
 public:
  /// A fresh random secret (tokens do not survive a restart: pages reload).
  explicit CsrfTokens(std::chrono::milliseconds lifetime);
  /// "<issued unix ms>.<hex HMAC(secret, cn '\n' issued)>".
  std::string issue(std::string_view cn, std::int64_t now_ms) const;
  enum class Check { Valid, Missing, Invalid, Expired };
  Check check(std::string_view token, std::string_view cn, std::int64_t now_ms) const;
  std::chrono::milliseconds lifetime() const { return lifetime_; }

 private:
  std::string mac(std::string_view cn, std::int64_t issued_ms) const;
  std::string secret_;
  std::chrono::milliseconds lifetime_;
};

}  // namespace cb::admin
