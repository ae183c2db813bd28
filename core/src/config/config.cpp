#include "config/config.h"

#include "common/digest.h"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace cb::config {
namespace {

namespace fs = std::filesystem;

/// Walks one TOML table, collecting every problem rather than stopping at the
/// first, so an operator fixes a config in one pass. Each table checks its
/// keys against the keys it knows: anything else is an error.
class Reader {
 public:
  Reader(std::string file, fs::path base) : file_(std::move(file)), base_(std::move(base)) {}

  SourceLocation at(const toml::node& n) const { return {file_, n.source().begin.line}; }

  void error(const toml::node& n, const std::string& key, const std::string& what) {
    errors_.push_back(at(n).str() + ": " + key + ": " + what);
  }
  void error(const std::string& what) { errors_.push_back(file_ + ": " + what); }
  void errorAt(const SourceLocation& where, const std::string& what) { errors_.push_back(where.str() + ": " + what); }

  /// Reports keys of `t` not in `known` (named with `prefix`).
  void rejectUnknown(const toml::table& t, const std::string& prefix, std::initializer_list<std::string_view> known) {
    for (const auto& [k, v] : t) {
      bool ok = false;
      for (auto name : known) ok = ok || k.str() == name;
      if (!ok) error(v, prefix + std::string(k.str()), "unknown key (allowed: " + join(known) + ")");
    }
  }

  const toml::table* table(const toml::table& parent, const std::string& key, const std::string& prefix) {
    const toml::node* n = parent.get(key);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) {
      error(*n, prefix + key, "must be a table");
      return nullptr;
    }
    return n->as_table();
  }

  std::optional<std::string> string(const toml::table& t, const std::string& key, const std::string& prefix,
                                    bool required = false) {
    const toml::node* n = t.get(key);
    if (n == nullptr) {
      if (required) error(t, prefix + key, "required key is missing (in " + tableName(prefix) + ")");
      return std::nullopt;
    }
    if (!n->is_string()) {
      error(*n, prefix + key, "must be a string");
      return std::nullopt;
    }
    std::string s = n->as_string()->get();
    if (required && s.empty()) {
      error(*n, prefix + key, "must not be empty");
      return std::nullopt;
    }
    return s;
  }

  std::optional<std::int64_t> integer(const toml::table& t, const std::string& key, const std::string& prefix,
                                      std::int64_t min, std::int64_t max) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_integer()) {
      error(*n, prefix + key, "must be an integer");
      return std::nullopt;
    }
    const std::int64_t v = n->as_integer()->get();
    if (v < min || v > max) {
      error(*n, prefix + key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
      return std::nullopt;
    }
    return v;
  }

  std::optional<bool> boolean(const toml::table& t, const std::string& key, const std::string& prefix) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_boolean()) {
      error(*n, prefix + key, "must be true or false");
      return std::nullopt;
    }
    return n->as_boolean()->get();
  }

  std::optional<std::chrono::milliseconds> duration(const toml::table& t, const std::string& key,
                                                    const std::string& prefix) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    std::string text;
    if (n->is_integer()) {
      text = std::to_string(n->as_integer()->get());
    } else if (n->is_string()) {
      text = n->as_string()->get();
    } else {
      error(*n, prefix + key, "must be a duration such as \"30s\", \"5m\" or an integer of milliseconds");
      return std::nullopt;
    }
    auto d = parseDuration(text);
    if (!d) {
      error(*n, prefix + key, d.error().message);
      return std::nullopt;
    }
    return *d;
  }

  std::optional<fs::path> path(const toml::table& t, const std::string& key, const std::string& prefix,
                               bool required = false) {
    auto s = string(t, key, prefix, required);
    if (!s) return std::nullopt;
    return resolve(*s);
  }

  /// Like path(), but the file must exist and be readable now.
  std::optional<fs::path> existingFile(const toml::table& t, const std::string& key, const std::string& prefix,
                                       bool required) {
    auto p = path(t, key, prefix, required);
    if (!p) return std::nullopt;
    std::ifstream probe(*p);
    if (!probe) {
      error(*t.get(key), prefix + key, "cannot read file " + p->string());
      return std::nullopt;
    }
    return p;
  }

  fs::path resolve(const std::string& s) const {
    fs::path p(s);
    if (p.is_relative()) p = base_ / p;
    return p.lexically_normal();
  }

  std::optional<net::Endpoint> endpoint(const toml::table& t, const std::string& key, const std::string& prefix) {
    auto s = string(t, key, prefix);
    if (!s) return std::nullopt;
    auto ep = net::parseEndpoint(*s);
    if (!ep) {
      error(*t.get(key), prefix + key, ep.error().message);
      return std::nullopt;
    }
    return *ep;
  }

  std::optional<net::TlsSettings> tls(const toml::table& parent, const std::string& prefix) {
    const toml::table* t = table(parent, "tls", prefix);
    if (t == nullptr) return std::nullopt;
    const std::string p = prefix + "tls.";
    rejectUnknown(*t, p, {"certificate", "private_key", "ca", "crl", "pins", "server_name"});
    net::TlsSettings s;
    if (auto v = existingFile(*t, "certificate", p, true)) s.certificate = *v;
    if (auto v = existingFile(*t, "private_key", p, true)) s.private_key = *v;
    if (auto v = existingFile(*t, "ca", p, true)) s.ca = *v;
    if (auto v = existingFile(*t, "crl", p, false)) s.crl = *v;
    if (auto v = string(*t, "server_name", p)) s.server_name = *v;
    if (const toml::node* pins = t->get("pins")) {
      if (!pins->is_array()) {
        error(*pins, p + "pins", "must be an array of \"sha256/<base64>\" strings");
      } else {
        for (const auto& pin : *pins->as_array()) {
          if (!pin.is_string() || pin.as_string()->get().rfind("sha256/", 0) != 0) {
            error(pin, p + "pins", "each pin must be a string \"sha256/<base64 of the SPKI digest>\" (RFC 7469)");
          } else {
            s.pins.push_back(pin.as_string()->get());
          }
        }
      }
    }
    return s;
  }

  std::vector<std::string> takeErrors() { return std::move(errors_); }
  bool failed() const { return !errors_.empty(); }
  const std::string& file() const { return file_; }

 private:
  static std::string join(std::initializer_list<std::string_view> names) {
    std::string out;
    for (auto n : names) {
      if (!out.empty()) out += ", ";
      out += n;
    }
    return out;
  }
  static std::string tableName(const std::string& prefix) {
    if (prefix.empty()) return "the top level";
    return "[" + prefix.substr(0, prefix.size() - 1) + "]";
  }

  std::string file_;
  fs::path base_;
  std::vector<std::string> errors_;
};

bool validName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  }
  return true;
}

void readDaemon(Reader& r, const toml::table& root, Config& c) {
  const toml::table* t = r.table(root, "daemon", "");
  if (t == nullptr) {
    r.error("[daemon] table is missing (it must at least set data_dir)");
    return;
  }
  r.rejectUnknown(*t, "daemon.",
                  {"data_dir", "plugin_dir", "io_threads", "log_level", "drain_timeout", "mappings_dir", "agreements_dir"});
  if (auto v = r.path(*t, "data_dir", "daemon.", true)) c.daemon.data_dir = *v;
  if (auto v = r.path(*t, "plugin_dir", "daemon.")) c.daemon.plugin_dir = *v;
  if (auto v = r.path(*t, "mappings_dir", "daemon.")) c.daemon.mappings_dir = *v;
  if (auto v = r.path(*t, "agreements_dir", "daemon.")) c.daemon.agreements_dir = *v;
  if (auto v = r.integer(*t, "io_threads", "daemon.", 1, 64)) c.daemon.io_threads = static_cast<unsigned>(*v);
  if (auto v = r.duration(*t, "drain_timeout", "daemon.")) c.daemon.drain_timeout = *v;
  if (auto v = r.string(*t, "log_level", "daemon.")) {
    static const std::set<std::string> kLevels{"trace", "debug", "info", "warn", "error", "critical", "off"};
    if (kLevels.count(*v) == 0) {
      r.error(*t->get("log_level"), "daemon.log_level", "must be one of trace, debug, info, warn, error, critical, off");
    } else {
      c.daemon.log_level = *v;
    }
  }
}

void readStore(Reader& r, const toml::table& root, Config& c) {
  c.store.path = c.daemon.data_dir / "carebridge.db";
  c.store.identity_key = c.daemon.data_dir / "identity.key";
  const toml::table* t = r.table(root, "store", "");
  if (t == nullptr) return;
  r.rejectUnknown(*t, "store.", {"path", "synchronous", "group_commit_max", "identity_key"});
  if (auto v = r.string(*t, "path", "store.")) {
    fs::path p(*v);
    c.store.path = p.is_relative() ? (c.daemon.data_dir / p).lexically_normal() : p;
  }
  if (auto v = r.path(*t, "identity_key", "store.")) c.store.identity_key = *v;
  if (auto v = r.integer(*t, "group_commit_max", "store.", 1, 100000)) c.store.group_commit_max = static_cast<std::size_t>(*v);
  if (auto v = r.string(*t, "synchronous", "store.")) {
    if (*v == "full") {
      c.store.synchronous_full = true;
    } else if (*v == "normal") {
      c.store.synchronous_full = false;
    } else {
      r.error(*t->get("synchronous"), "store.synchronous",
              "must be \"full\" (every commit survives power loss) or \"normal\" (may lose the last commits on power loss)");
    }
  }
}

// ---- [admin] API users, roles and the web page (issue #6) ----
// [[admin.user]] cn = "...", role = "approver" or ["ig-reviewer", "auditor"],
// organisation = "00AF"; web_root = "web"; session_timeout = "30m".
void readAdminUsers(Reader& r, const toml::table& t, Config& c) {
  if (auto v = r.path(t, "web_root", "admin.")) {
    std::error_code ec;
    if (!fs::is_regular_file(*v / "index.html", ec)) {
      r.error(*t.get("web_root"), "admin.web_root", "no index.html in " + v->string() + " (point it at the web/ folder)");
    } else {
      c.admin.web_root = *v;
    }
  }
  if (auto v = r.duration(t, "session_timeout", "admin.")) {
    if (v->count() < 60000 || v->count() > 86400000) {
      r.error(*t.get("session_timeout"), "admin.session_timeout", "must be between 1m and 24h");
    } else {
      c.admin.session_timeout = *v;
    }
  }
  const toml::node* users = t.get("user");
  if (users == nullptr) return;
  if (!users->is_array_of_tables()) {
    r.error(*users, "admin.user", "must be an array of tables: write each user as [[admin.user]]");
    return;
  }
  std::set<std::string> seen;
  for (const auto& node : *users->as_array()) {
    const toml::table& u = *node.as_table();
    const std::string p = "admin.user.";
    r.rejectUnknown(u, p, {"cn", "role", "organisation"});
    AdminUser user;
    user.where = r.at(u);
    if (auto v = r.string(u, "cn", p, true)) user.cn = *v;
    if (auto v = r.string(u, "organisation", p)) user.organisation = *v;
    const toml::node* role = u.get("role");
    std::vector<const toml::node*> names;
    if (role == nullptr) {
      r.errorAt(user.where, p + "role: required key is missing (operator, ig-reviewer, approver or auditor)");
    } else if (role->is_array()) {
      for (const auto& n : *role->as_array()) names.push_back(&n);
      if (names.empty()) r.error(*role, p + "role", "must name at least one role");
    } else {
      names.push_back(role);
    }
    for (const toml::node* n : names) {
      const bool known = n->is_string() && std::any_of(std::begin(kAdminRoles), std::end(kAdminRoles), [&](const char* k) {
                           return n->as_string()->get() == k;
                         });
      if (!known) {
        r.error(*n, p + "role", "must be operator, ig-reviewer, approver or auditor (a string or an array of them)");
      } else {
        user.roles.push_back(n->as_string()->get());
      }
    }
    if (!user.cn.empty() && !seen.insert(user.cn).second) {
      r.errorAt(user.where, p + "cn: '" + user.cn + "' is listed twice; give one [[admin.user]] all its roles");
    }
    c.admin.users.push_back(std::move(user));
  }
  if (!c.admin.users.empty() && !c.admin.tls) {
    r.error(*users, "admin.user",
            "admin users are recognised by their client certificates: add [admin.tls] (mutual TLS) to the admin listener");
  }
}
// ---- end of the [admin] users block ----

void readAdmin(Reader& r, const toml::table& root, Config& c) {
  const toml::table* t = r.table(root, "admin", "");
  if (t == nullptr) return;
  r.rejectUnknown(*t, "admin.", {"enabled", "listen", "tls", "user", "web_root", "session_timeout"});
  if (auto v = r.boolean(*t, "enabled", "admin.")) c.admin.enabled = *v;
  if (auto v = r.endpoint(*t, "listen", "admin.")) c.admin.listen = *v;
  c.admin.tls = r.tls(*t, "admin.");
  readAdminUsers(r, *t, c);
}

// ---- [audit] exports and retention (issue #5 items 6-7) ----
void readAuditExports(Reader& r, const toml::table& t, Config& c) {
  auto& a = c.audit;
  if (auto v = r.endpoint(t, "syslog_collector", "audit.")) a.syslog_collector = *v;
  const bool collector = a.syslog_collector.has_value();
  // Mutual TLS to the collector (RFC 5425 section 5): all three are needed.
  if (auto v = r.existingFile(t, "syslog_ca", "audit.", collector)) a.syslog_tls.ca = *v;
  if (auto v = r.existingFile(t, "syslog_certificate", "audit.", collector)) a.syslog_tls.certificate = *v;
  if (auto v = r.existingFile(t, "syslog_private_key", "audit.", collector)) a.syslog_tls.private_key = *v;
  if (auto v = r.string(t, "syslog_server_name", "audit.")) a.syslog_tls.server_name = *v;
  if (collector && a.syslog_tls.server_name.empty()) a.syslog_tls.server_name = a.syslog_collector->host;
  if (!collector) {
    for (const char* k : {"syslog_ca", "syslog_certificate", "syslog_private_key", "syslog_server_name"}) {
      if (const auto* n = t.get(k)) r.error(*n, std::string("audit.") + k, "needs audit.syslog_collector");
    }
  }
  if (auto v = r.duration(t, "syslog_interval", "audit.")) {
    if (*v < std::chrono::milliseconds(100)) {
      r.error(*t.get("syslog_interval"), "audit.syslog_interval", "must be at least 100ms");
    } else {
      a.syslog_interval = *v;
    }
  }
  if (auto v = r.string(t, "export_site", "audit.")) a.export_site = *v;
  auto retention = [&](const toml::table& table, const std::string& key, const std::string& prefix)
      -> std::optional<std::chrono::milliseconds> {
    auto v = r.duration(table, key, prefix);
    if (v && *v < std::chrono::hours(1)) {
      r.error(*table.get(key), prefix + key, "must be at least 1h (a payload must outlive its delivery)");
      return std::nullopt;
    }
    return v;
  };
  a.payload_retention = retention(t, "payload_retention", "audit.");
  if (const toml::table* by = r.table(t, "payload_retention_by_agreement", "audit.")) {
    for (const auto& [k, v] : *by) {
      if (auto d = retention(*by, std::string(k.str()), "audit.payload_retention_by_agreement.")) {
        a.payload_retention_by_agreement[std::string(k.str())] = *d;
      }
    }
  }
}
// ---- end of [audit] exports and retention ----

// ---- [audit] (issue #5 item 3) ----
void readAudit(Reader& r, const toml::table& root, Config& c) {
  const toml::table* t = r.table(root, "audit", "");
  if (t == nullptr) return;
  c.audit.where = r.at(*t);
  r.rejectUnknown(*t, "audit.", {"signing_key", "verifier_key", "checkpoint_interval", "checkpoint_every",
                                 "publish_dir", "publish_syslog",
                                 // exports and retention (issue #5 items 6-7), read by readAuditExports()
                                 "syslog_collector", "syslog_ca", "syslog_certificate", "syslog_private_key",
                                 "syslog_server_name", "syslog_interval", "export_site", "payload_retention",
                                 "payload_retention_by_agreement"});
  // The key must be readable now: a daemon that cannot sign must not start
  // believing it will (its content is checked when the checkpointer loads it).
  if (auto v = r.existingFile(*t, "signing_key", "audit.", false)) c.audit.signing_key = *v;
  if (auto v = r.existingFile(*t, "verifier_key", "audit.", false)) c.audit.verifier_key = *v;
  if (auto v = r.duration(*t, "checkpoint_interval", "audit.")) {
    if (*v < std::chrono::seconds(1)) {
      r.error(*t->get("checkpoint_interval"), "audit.checkpoint_interval", "must be at least 1s");
    } else {
      c.audit.checkpoint_interval = *v;
    }
  }
  if (auto v = r.integer(*t, "checkpoint_every", "audit.", 1, 100000000)) {
    c.audit.checkpoint_every = static_cast<std::uint64_t>(*v);
  }
  if (auto v = r.path(*t, "publish_dir", "audit.")) c.audit.publish_dir = *v;
  if (auto v = r.boolean(*t, "publish_syslog", "audit.")) c.audit.publish_syslog = *v;
  if (!c.audit.signing() && (c.audit.publish_dir || c.audit.publish_syslog)) {
    r.error(*t, "audit.signing_key", "publish_dir/publish_syslog need checkpoints: set signing_key (create one with "
                                     "`carebridge audit keygen --out FILE`)");
  }
  readAuditExports(r, *t, c);
}
// ---- end of [audit] ----

void readDelivery(Reader& r, const toml::table& adapter, const std::string& prefix, DeliverySettings& d) {
  const toml::table* t = r.table(adapter, "delivery", prefix);
  if (t == nullptr) return;
  const std::string p = prefix + "delivery.";
  r.rejectUnknown(*t, p, {"max_in_flight", "initial_backoff", "max_backoff", "max_attempts", "attempt_timeout"});
  if (auto v = r.integer(*t, "max_in_flight", p, 1, 4096)) d.max_in_flight = static_cast<std::size_t>(*v);
  if (auto v = r.integer(*t, "max_attempts", p, 1, 1000000)) d.max_attempts = static_cast<std::uint32_t>(*v);
  if (auto v = r.duration(*t, "initial_backoff", p)) d.initial_backoff = *v;
  if (auto v = r.duration(*t, "max_backoff", p)) d.max_backoff = *v;
  if (auto v = r.duration(*t, "attempt_timeout", p)) d.attempt_timeout = *v;
  if (d.max_backoff < d.initial_backoff) r.error(*t, p + "max_backoff", "must not be shorter than initial_backoff");
}

void readAdapters(Reader& r, const toml::table& root, Config& c) {
  const toml::node* n = root.get("adapter");
  if (n == nullptr) return;
  if (!n->is_array_of_tables()) {
    r.error(*n, "adapter", "must be written as [[adapter]] tables");
    return;
  }
  std::set<std::string> names;
  std::size_t index = 0;
  for (const auto& item : *n->as_array()) {
    const toml::table& t = *item.as_table();
    AdapterSettings a;
    a.where = r.at(t);
    std::string prefix = "adapter[" + std::to_string(index++) + "].";
    if (auto v = r.string(t, "name", prefix, true)) {
      a.name = *v;
      prefix = "adapter '" + a.name + "': ";
      if (!validName(a.name)) {
        r.error(*t.get("name"), "name", "adapter names use a-z, 0-9, '-' and '_' only (at most 64)");
      } else if (!names.insert(a.name).second) {
        r.error(*t.get("name"), "name", "adapter '" + a.name + "' is defined twice");
      }
    }
    r.rejectUnknown(t, prefix, {"name", "plugin", "organisation", "system", "tls", "settings", "delivery"});
    if (auto v = r.string(t, "system", prefix)) {
      a.system = *v;
      if (!validName(a.system)) r.error(*t.get("system"), prefix + "system", "system names a folder: a-z, 0-9, '-' and '_' only");
    }
    if (auto v = r.string(t, "plugin", prefix, true)) {
      a.plugin = *v;
      if (!validName(a.plugin)) r.error(*t.get("plugin"), prefix + "plugin", "plugin names use a-z, 0-9, '-' and '_' only");
    }
    if (auto v = r.string(t, "organisation", prefix)) a.organisation = *v;
    a.tls = r.tls(t, prefix);
    readDelivery(r, t, prefix, a.delivery);
    if (const toml::table* s = r.table(t, "settings", prefix)) {
      for (const auto& [k, v] : *s) {
        SettingValue sv;
        sv.where = r.at(v);
        if (v.is_string()) {
          sv.value = v.as_string()->get();
          sv.is_string = true;
        } else if (v.is_integer()) {
          sv.value = std::to_string(v.as_integer()->get());
          sv.is_integer = true;
        } else if (v.is_boolean()) {
          sv.value = v.as_boolean()->get() ? "true" : "false";
          sv.is_bool = true;
        } else {
          r.error(v, prefix + "settings." + std::string(k.str()), "must be a string, integer or boolean");
          continue;
        }
        a.settings.emplace(std::string(k.str()), std::move(sv));
      }
    }
    c.adapters.push_back(std::move(a));
  }
}

void readRoutes(Reader& r, const toml::table& root, Config& c) {
  const toml::node* n = root.get("route");
  if (n == nullptr) return;
  if (!n->is_array_of_tables()) {
    r.error(*n, "route", "must be written as [[route]] tables");
    return;
  }
  std::set<std::string> names;
  std::size_t index = 0;
  for (const auto& item : *n->as_array()) {
    const toml::table& t = *item.as_table();
    RouteSettings rt;
    rt.where = r.at(t);
    std::string prefix = "route[" + std::to_string(index++) + "].";
    if (auto v = r.string(t, "name", prefix, true)) {
      rt.name = *v;
      prefix = "route '" + rt.name + "': ";
      if (!validName(rt.name)) {
        r.error(*t.get("name"), "name", "route names use a-z, 0-9, '-' and '_' only (at most 64)");
      } else if (!names.insert(rt.name).second) {
        r.error(*t.get("name"), "name", "route '" + rt.name + "' is defined twice");
      }
    }
    r.rejectUnknown(t, prefix, {"name", "from", "to", "mode", "purpose", "record_types"});
    if (auto v = r.string(t, "from", prefix, true)) {
      rt.from = *v;
      if (c.adapter(rt.from) == nullptr) r.error(*t.get("from"), prefix + "from", "no adapter named '" + rt.from + "'");
    }
    if (const toml::node* to = t.get("to")) {
      if (!to->is_array() || to->as_array()->empty()) {
        r.error(*to, prefix + "to", "must be a non-empty array of adapter names");
      } else {
        std::set<std::string> seen;
        for (const auto& dest : *to->as_array()) {
          if (!dest.is_string()) {
            r.error(dest, prefix + "to", "must contain adapter names (strings)");
            continue;
          }
          const std::string d = dest.as_string()->get();
          if (c.adapter(d) == nullptr) {
            r.error(dest, prefix + "to", "no adapter named '" + d + "'");
          } else if (d == rt.from) {
            r.error(dest, prefix + "to", "a route must not deliver back to its own source '" + d + "'");
          } else if (!seen.insert(d).second) {
            r.error(dest, prefix + "to", "'" + d + "' is listed twice");
          } else {
            rt.to.push_back(d);
          }
        }
      }
    } else {
      r.error(t, prefix + "to", "required key is missing");
    }
    if (auto v = r.string(t, "mode", prefix, true)) {
      if (*v == "passthrough") {
        rt.mode = RouteSettings::Mode::Passthrough;
      } else if (*v == "mapped") {
        rt.mode = RouteSettings::Mode::Mapped;
      } else {
        r.error(*t.get("mode"), prefix + "mode",
                "unknown mode '" + *v +
                    "' (\"mapped\": translate, decide under the agreements, render; \"passthrough\": forward "
                    "unchanged, no agreement check)");
      }
    }
    if (auto v = r.string(t, "purpose", prefix)) {
      static const std::set<std::string> kPurposes{"direct-care", "safeguarding", "performance-monitoring",
                                                   "statutory-return"};
      if (kPurposes.count(*v) == 0) {
        r.error(*t.get("purpose"), prefix + "purpose",
                "must be one of direct-care, safeguarding, performance-monitoring, statutory-return");
      } else {
        rt.purpose = *v;
      }
    }
    if (const toml::node* types = t.get("record_types")) {
      // The canonical model's record types (mappings/canonical/canonical.xsd).
      static const std::set<std::string> kRecordTypes{"Person",          "Referral",           "CareActAssessment",
                                                      "CarersAssessment", "StatutoryReview",    "SafeguardingConcern",
                                                      "SafeguardingEnquiry"};
      if (!types->is_array() || types->as_array()->empty()) {
        r.error(*types, prefix + "record_types", "must be a non-empty array of canonical record types");
      } else {
        for (const auto& type : *types->as_array()) {
          const std::string name = type.is_string() ? type.as_string()->get() : std::string();
          if (kRecordTypes.count(name) == 0) {
            r.error(type, prefix + "record_types",
                    "'" + name +
                        "' is not a canonical record type (Person, Referral, CareActAssessment, CarersAssessment, "
                        "StatutoryReview, SafeguardingConcern, SafeguardingEnquiry)");
          } else if (std::find(rt.record_types.begin(), rt.record_types.end(), name) != rt.record_types.end()) {
            r.error(type, prefix + "record_types", "'" + name + "' is listed twice");
          } else {
            rt.record_types.push_back(name);
          }
        }
      }
      if (rt.mode != RouteSettings::Mode::Mapped) {
        r.error(*types, prefix + "record_types",
                "only mapped routes have record types (a passthrough route does not read its records)");
      }
    }
    if (rt.mode == RouteSettings::Mode::Mapped) {
      if (rt.purpose.empty()) r.error(t, prefix + "purpose", "a mapped route must say the purpose its records travel for");
      if (c.daemon.mappings_dir.empty()) r.errorAt(rt.where, prefix + "mode: mapped needs daemon.mappings_dir");
      if (c.daemon.agreements_dir.empty()) r.errorAt(rt.where, prefix + "mode: mapped needs daemon.agreements_dir");
      const auto needSystem = [&](const std::string& adapter) {
        const auto* a = c.adapter(adapter);
        if (a != nullptr && a->system.empty()) {
          r.errorAt(rt.where, prefix + "adapter '" + adapter + "' needs `system` (its mapping folder) on a mapped route");
        }
      };
      needSystem(rt.from);
      for (const auto& d : rt.to) needSystem(d);
    } else if (!rt.purpose.empty()) {
      r.error(*t.get("purpose"), prefix + "purpose", "only mapped routes have a purpose (passthrough checks no agreement)");
    }
    c.routes.push_back(std::move(rt));
  }
  // A record is delivered at most once per destination: two routes from one
  // source to one destination would be ambiguous about which rules apply,
  // unless both list their record types and share none.
  std::map<std::pair<std::string, std::string>, std::vector<const RouteSettings*>> reach;
  for (const auto& rt : c.routes) {
    for (const auto& d : rt.to) {
      auto& earlier = reach[std::make_pair(rt.from, d)];
      for (const RouteSettings* other : earlier) {
        std::string shared;
        if (rt.record_types.empty() || other->record_types.empty()) {
          shared = "every record type";
        } else {
          for (const auto& type : rt.record_types) {
            if (std::find(other->record_types.begin(), other->record_types.end(), type) != other->record_types.end()) {
              shared += (shared.empty() ? "" : ", ") + type;
            }
          }
        }
        if (!shared.empty()) {
          r.errorAt(rt.where, "route '" + rt.name + "': to: adapter '" + d + "' is already reached from '" + rt.from +
                                  "' by route '" + other->name + "' (both carry " + shared +
                                  "; give each route record_types with none in common)");
        }
      }
      earlier.push_back(&rt);
    }
  }
}

Result<std::shared_ptr<const Config>> parse(const std::string& text, const std::string& name, const fs::path& base) {
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    return fail(name + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
  auto c = std::make_shared<Config>();
  c->base_dir = base;
  c->file_sha256 = toHex(sha256(text));
  Reader r(name, base);
  r.rejectUnknown(root, "", {"daemon", "store", "admin", "audit", "adapter", "route"});
  readDaemon(r, root, *c);
  // Installed plugins live where `cmake --install` put them.
  if (c->daemon.plugin_dir.empty()) c->daemon.plugin_dir = CAREBRIDGE_DEFAULT_PLUGIN_DIR;
  readStore(r, root, *c);
  readAdmin(r, root, *c);
  readAudit(r, root, *c);
  readAdapters(r, root, *c);
  readRoutes(r, root, *c);
  if (c->admin.enabled && !c->admin.tls && c->admin.listen.host != "127.0.0.1" && c->admin.listen.host != "::1" &&
      c->admin.listen.host != "localhost") {
    r.error("admin.listen: without [admin.tls] the admin listener must be on loopback (127.0.0.1 or ::1)");
  }
  if (r.failed()) {
    std::string all;
    for (const auto& e : r.takeErrors()) all += (all.empty() ? "" : "\n") + e;
    return fail(all);
  }
  return std::shared_ptr<const Config>(std::move(c));
}

}  // namespace

const AdapterSettings* Config::adapter(const std::string& name) const {
  for (const auto& a : adapters) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

std::vector<const RouteSettings*> Config::routesFrom(const std::string& adapter_name) const {
  std::vector<const RouteSettings*> out;
  for (const auto& r : routes) {
    if (r.from == adapter_name) out.push_back(&r);
  }
  return out;
}

Result<std::chrono::milliseconds> parseDuration(const std::string& text) {
  if (text.empty()) return fail("empty duration");
  std::size_t i = 0;
  std::uint64_t n = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    n = n * 10 + static_cast<std::uint64_t>(text[i] - '0');
    if (n > 1000000000000ULL) return fail("duration '" + text + "' is too large");
    ++i;
  }
  if (i == 0) return fail("duration '" + text + "' must start with a number, e.g. \"30s\"");
  const std::string unit = text.substr(i);
  std::uint64_t ms = 0;
  if (unit.empty() || unit == "ms") {
    ms = n;
  } else if (unit == "s") {
    ms = n * 1000;
  } else if (unit == "m") {
    ms = n * 60'000;
  } else if (unit == "h") {
    ms = n * 3'600'000;
  } else if (unit == "d") {
    ms = n * 86'400'000;
  } else {
    return fail("duration '" + text + "' has an unknown unit (use ms, s, m, h or d)");
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

Result<std::shared_ptr<const Config>> load(const fs::path& file) {
  std::error_code ec;
  fs::path abs = fs::absolute(file, ec);
  if (ec) abs = file;
  std::ifstream in(abs, std::ios::binary);
  if (!in) return fail(abs.string() + ": cannot open the configuration file for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  auto c = parse(ss.str(), abs.string(), abs.parent_path());
  if (!c) return c;
  auto copy = std::make_shared<Config>(**c);
  copy->file = abs;
  return std::shared_ptr<const Config>(std::move(copy));
}

Result<std::shared_ptr<const Config>> loadFromString(const std::string& text, const std::string& name,
                                                     const fs::path& base_dir) {
  return parse(text, name, base_dir);
}

}  // namespace cb::config
