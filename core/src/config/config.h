#pragma once
// carebridged's configuration: a TOML file parsed and validated once into an
// immutable snapshot. A reload (SIGHUP) builds a new snapshot and the daemon
// swaps it in whole, or keeps the old one and says why.
//
// Rules (STYLE.md "Configuration"): unknown keys are errors; every error
// names file:line and the key; secrets (private keys, HMAC keys) are never
// inlined, only referenced by path; relative paths are resolved against the
// folder holding the config file.

#include "common/result.h"
#include "net/http.h"
#include "net/tls.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cb::config {

/// Where a value came from, for error messages ("carebridge.toml:12").
struct SourceLocation {
  std::string file;
  std::uint32_t line = 0;
  std::string str() const { return file + ":" + std::to_string(line); }
};

struct DaemonSettings {
  std::filesystem::path data_dir;    ///< store, audit keys and state live here
  std::filesystem::path plugin_dir;  ///< where lib carebridge_<plugin>.so files are found
  unsigned io_threads = 2;           ///< threads running network I/O
  std::string log_level = "info";
  std::chrono::milliseconds drain_timeout{10000};  ///< SIGTERM: wait this long for in-flight work
  /// Root of the mapping files: holds schema/ and canonical/ (the mapping
  /// language and the canonical model) and one folder per system. Needed
  /// when any route is mapped.
  std::filesystem::path mappings_dir;
  /// Folder of information-sharing agreements (*.xml) and their schema at
  /// schema/agreement.xsd. Needed when any route is mapped: a mapped route
  /// shares nothing without an agreement covering it (fail closed).
  std::filesystem::path agreements_dir;
};

struct StoreSettings {
  std::filesystem::path path;                          ///< SQLite file (WAL mode)
  bool synchronous_full = true;                        ///< "full": commits on disk before reported (store/wal_sync.h)
  std::size_t group_commit_max = 1000;                 ///< most operations per transaction
  std::filesystem::path identity_key;                  ///< HMAC key for keyed hashes of people's identifiers
};

// ---- [admin] API users, roles and the web page (issue #6) ----

/// A person allowed to use the admin API and the information-governance web
/// page (`[[admin.user]]`), recognised by the subject CN of the client
/// certificate they present over mutual TLS on the admin listener.
struct AdminUser {
  std::string cn;                  ///< the certificate subject's common name, exactly
  std::vector<std::string> roles;  ///< operator, ig-reviewer, approver, auditor (see kAdminRoles)
  std::string organisation;        ///< ODS or council code of the person's employer (for the audit trail)
  SourceLocation where;
};

/// The roles `[[admin.user]] role` may name.
inline constexpr const char* kAdminRoles[] = {"operator", "ig-reviewer", "approver", "auditor"};

// ---- end of the [admin] users block ----

struct AdminSettings {
  bool enabled = true;
  net::Endpoint listen{"127.0.0.1", 9464};
  std::optional<net::TlsSettings> tls;  ///< without TLS the admin listener must be on loopback
  /// People who may use the admin API (needs [admin.tls]: they are known by
  /// their client certificates). Without users only /healthz, /readyz and
  /// /metrics are served.
  std::vector<AdminUser> users;
  /// Folder of the web page's static files (web/ in the repository);
  /// unset: no web page, the API alone.
  std::optional<std::filesystem::path> web_root;
  /// How long a page's anti-CSRF token stays valid; after it the page must
  /// be reloaded (the "session" of a certificate-authenticated page).
  std::chrono::milliseconds session_timeout{std::chrono::minutes(30)};
};

/// How deliveries to one destination are paced and retried.
struct DeliverySettings {
  std::size_t max_in_flight = 32;                       ///< concurrent deliveries to this destination
  std::chrono::milliseconds initial_backoff{1000};      ///< first retry delay
  std::chrono::milliseconds max_backoff{300000};        ///< backoff doubles up to this
  std::uint32_t max_attempts = 12;                      ///< then dead letter
  std::chrono::milliseconds attempt_timeout{30000};     ///< an attempt not reported by then counts as retry
};

// ---- [audit]: signed checkpoints of the audit log (issue #5 item 3) ----

/// How the daemon signs and publishes checkpoints of the audit log. Signing
/// is on when `signing_key` is set: then a checkpoint is signed whenever the
/// log has grown and `checkpoint_interval` has passed since the last one, or
/// `checkpoint_every` entries were added, and at shutdown.
struct AuditSettings {
  std::optional<std::filesystem::path> signing_key;   ///< Ed25519 note signer key file (0600, outside the store)
  std::optional<std::filesystem::path> verifier_key;  ///< public key file for `carebridge audit verify`
  std::chrono::milliseconds checkpoint_interval{600000};
  std::uint64_t checkpoint_every = 10000;
  std::optional<std::filesystem::path> publish_dir;   ///< each checkpoint is also written here
  bool publish_syslog = false;                        ///< and/or logged through syslog(3)
  SourceLocation where;                               ///< of the [audit] table, for errors about the key

  bool signing() const { return signing_key.has_value(); }

  // -- exports and retention (issue #5 items 6-7) --
  /// ATNA audit messages over syslog/TLS (RFC 5425) to this collector
  /// ("host:port"); every entry is sent, in order, from a durable cursor.
  std::optional<net::Endpoint> syslog_collector;
  /// syslog_ca, syslog_certificate, syslog_private_key (required with a
  /// collector), syslog_server_name (default: the collector's host).
  net::TlsSettings syslog_tls;
  std::chrono::milliseconds syslog_interval{5000};  ///< how often the sender looks for new entries
  /// Identifies this site in exports (ATNA AuditEnterpriseSiteID, FHIR
  /// AuditEvent.source.site), e.g. the organisation's ODS code.
  std::string export_site;
  /// Payloads of delivered messages are purged this long after delivery
  /// (unset: kept); per agreement id in [audit.payload_retention_by_agreement].
  std::optional<std::chrono::milliseconds> payload_retention;
  std::map<std::string, std::chrono::milliseconds> payload_retention_by_agreement;
};

// ---- end of [audit] ----

/// One `[adapter.settings]` value as written, with its location.
struct SettingValue {
  std::string value;  ///< canonical text: strings as-is, integers decimal, booleans true/false
  bool is_string = false;
  bool is_integer = false;
  bool is_bool = false;
  SourceLocation where;
};

/// One configured adapter instance: a plugin plus its own endpoints,
/// certificates and mapping ("adapters added per trust").
struct AdapterSettings {
  std::string name;          ///< unique instance name, used in routes, logs, metrics
  std::string plugin;        ///< plugin name: loads <plugin_dir>/libcarebridge_<plugin>.so
  std::string organisation;  ///< ODS code (or council code) of the partner this adapter speaks to
  std::optional<net::TlsSettings> tls;
  std::map<std::string, SettingValue> settings;  ///< validated against the plugin's declared keys at load
  /// The system this adapter speaks for: a folder under daemon.mappings_dir
  /// (for example "rio") with its mapping files and system.toml. Required
  /// for an adapter on a mapped route; "" for passthrough-only adapters.
  std::string system;
  DeliverySettings delivery;
  SourceLocation where;
};

/// A route: what arrives at one inbound adapter goes to these outbound adapters.
struct RouteSettings {
  enum class Mode {
    /// Forward the record unchanged: no translation and no agreement check.
    /// Only for partners exchanging the same format under a contract outside
    /// carebridge; the config must say so explicitly.
    Passthrough,
    /// Translate through the source system's mappings to the canonical
    /// model, decide per destination under the information-sharing
    /// agreements, remove what may not go, render in each destination
    /// system's format.
    Mapped,
  };
  std::string name;
  std::string from;
  std::vector<std::string> to;
  Mode mode = Mode::Passthrough;
  /// Mapped routes: the purpose the records travel for (direct-care,
  /// safeguarding, performance-monitoring, statutory-return); the agreement
  /// must allow it for the flow.
  std::string purpose;
  /// Mapped routes: the canonical record types the route carries (Person,
  /// Referral, CareActAssessment, ...); empty = every type. One source may
  /// reach one destination by several routes only when each lists its types
  /// and no type is on two of them, so that every record has one route, one
  /// purpose and one agreement flow (e.g. a trust's safeguarding enquiries for
  /// "safeguarding", its reviews for "direct-care").
  std::vector<std::string> record_types;
  SourceLocation where;
};

/// The whole, validated configuration. Immutable once built.
struct Config {
  std::filesystem::path file;      ///< the file it was read from (absolute)
  std::filesystem::path base_dir;  ///< relative paths (here and in plugin settings) resolve against this
  std::string file_sha256;     ///< digest of the file's bytes, for the audit trail
  DaemonSettings daemon;
  StoreSettings store;
  AdminSettings admin;
  AuditSettings audit;
  std::vector<AdapterSettings> adapters;
  std::vector<RouteSettings> routes;

  const AdapterSettings* adapter(const std::string& name) const;
  /// Routes whose `from` is `adapter`.
  std::vector<const RouteSettings*> routesFrom(const std::string& adapter) const;
};

/// Reads and validates a config file. On failure the error lists every
/// problem found, one per line, each "file:line: key: what is wrong".
Result<std::shared_ptr<const Config>> load(const std::filesystem::path& file);

/// Same, from text (for tests); `name` stands for the file in messages and
/// relative paths resolve against `base_dir`.
Result<std::shared_ptr<const Config>> loadFromString(const std::string& text, const std::string& name,
                                                     const std::filesystem::path& base_dir);

/// Parses "250ms", "30s", "5m", "2h", "1d" (or a bare integer of ms).
Result<std::chrono::milliseconds> parseDuration(const std::string& text);

}  // namespace cb::config
