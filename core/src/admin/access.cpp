#include "admin/access.h"

#include "common/digest.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

namespace cb::admin {

const char* toString(Permission p) {
  switch (p) {
    case Permission::Health: return "health";
    case Permission::Queues: return "queues";
    case Permission::Replay: return "replay";
    case Permission::AuditSearch: return "audit-search";
    case Permission::SubjectAccess: return "subject-access";
    case Permission::Agreements: return "agreements";
    case Permission::Verification: return "verification";
    case Permission::RunVerification: return "run-verification";
    case Permission::Holds: return "holds";
    case Permission::DecideHolds: return "decide-holds";
  }
  return "unknown";
}

namespace {

bool roleAllows(std::string_view role, Permission p) {
  using P = Permission;
  if (role == "operator") return p == P::Health || p == P::Queues || p == P::Replay;
  if (role == "ig-reviewer") {
    return p == P::AuditSearch || p == P::SubjectAccess || p == P::Agreements || p == P::Verification ||
           p == P::RunVerification;
  }
  if (role == "approver") return p == P::Holds || p == P::DecideHolds;
  // Read-only everything: verification only reads the log, so it may run it.
  if (role == "auditor") return p != P::Replay && p != P::DecideHolds;
  return false;
}

constexpr Permission kAll[] = {Permission::Health,       Permission::Queues,          Permission::Replay,
                               Permission::AuditSearch,  Permission::SubjectAccess,   Permission::Agreements,
                               Permission::Verification, Permission::RunVerification, Permission::Holds,
                               Permission::DecideHolds};

}  // namespace

bool allows(const std::vector<std::string>& roles, Permission p) {
  return std::any_of(roles.begin(), roles.end(), [p](const std::string& r) { return roleAllows(r, p); });
}

std::vector<Permission> permissionsOf(const std::vector<std::string>& roles) {
  std::vector<Permission> out;
  for (auto p : kAll) {
    if (allows(roles, p)) out.push_back(p);
  }
  return out;
}

std::optional<config::AdminUser> UserDirectory::find(std::string_view cn) const {
  std::lock_guard lock(mutex_);
  for (const auto& u : users_) {
    if (!cn.empty() && u.cn == cn) return u;
  }
  return std::nullopt;
}

void UserDirectory::replace(std::vector<config::AdminUser> users) {
  std::lock_guard lock(mutex_);
  users_ = std::move(users);
}

bool UserDirectory::empty() const {
  std::lock_guard lock(mutex_);
  return users_.empty();
}

CsrfTokens::CsrfTokens(std::chrono::milliseconds lifetime) : secret_(32, '\0'), lifetime_(lifetime) {
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret_.data()), static_cast<int>(secret_.size())) != 1) {
    throw std::runtime_error("admin: no randomness for the anti-CSRF secret");
  }
}

std::string CsrfTokens::mac(std::string_view cn, std::int64_t issued_ms) const {
  std::string data(cn);
  data += '\n';
  data += std::to_string(issued_ms);
  return toHex(hmacSha256(secret_, data));
}

std::string CsrfTokens::issue(std::string_view cn, std::int64_t now_ms) const {
  return std::to_string(now_ms) + "." + mac(cn, now_ms);
}

CsrfTokens::Check CsrfTokens::check(std::string_view token, std::string_view cn, std::int64_t now_ms) const {
  if (token.empty()) return Check::Missing;
  const auto dot = token.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 15) return Check::Invalid;  // Unix ms: 13 digits
  const std::string_view issued_text = token.substr(0, dot);
  if (issued_text.find_first_not_of("0123456789") != std::string_view::npos) return Check::Invalid;
  const std::int64_t issued = std::stoll(std::string(issued_text));
  const std::string expected = mac(cn, issued);
  const std::string_view given = token.substr(dot + 1);
  // Constant time: the comparison must not tell an attacker how much matched.
  if (given.size() != expected.size() || CRYPTO_memcmp(given.data(), expected.data(), given.size()) != 0) {
    return Check::Invalid;
  }
  if (issued > now_ms + 60000 || now_ms - issued > lifetime_.count()) return Check::Expired;
  return Check::Valid;
}

}  // namespace cb::admin
