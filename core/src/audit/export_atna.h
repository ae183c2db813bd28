#pragma once
// IHE ATNA export of the audit trail (issue #5 item 6): each entry as a
// DICOM PS3.15 A.5.1 AuditMessage (XML), carried in an RFC 5424 syslog
// message, sent with RFC 5425 octet-counting framing over mutual TLS to a
// trust's collector (their SIEM).
//
// The sender keeps a durable cursor in the store (`audit_export_cursors`):
// the first entry not yet sent. It sends entries strictly in log order from
// the cursor and moves the cursor after each batch is written; when the
// collector is down nothing moves, and the next tick() sends from the same
// entry, so entries written meanwhile are kept and arrive later, in order.
// Syslog over TLS has no application acknowledgement (RFC 5425 section 4.3):
// a batch written just before the collector dropped the connection may be
// lost by the collector or, after a reconnect, arrive twice; each message
// carries the entry's leaf index (ParticipantObjectDetail "carebridge.seq")
// so a SIEM can drop duplicates and notice gaps.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "audit/export_common.h"
#include "common/result.h"
#include "config/config.h"
#include "net/http.h"
#include "net/tls.h"

namespace cb::store {
class Store;
}

namespace cb::audit {

/// The AuditMessage (UTF-8 XML with declaration, no line breaks) for the
/// entry at leaf index `seq` whose canonical bytes are `entry`. `purpose` as
/// for toFhirAuditEvent.
Result<std::string> toAtnaAuditMessage(std::int64_t seq, std::string_view entry, const ExportSource& source,
                                       const std::string& purpose = {});

/// An RFC 5424 message carrying an ATNA AuditMessage: PRI 85 (facility 10
/// security/authorization, severity 5 notice), VERSION 1, the entry's time,
/// `hostname`, APP-NAME `app_name`, PROCID, MSGID "IHE+RFC-3881", no
/// structured data, and MSG = UTF-8 BOM + `xml` (RFC 5424 section 6.4).
std::string syslogMessage(std::string_view xml, std::int64_t time_ms, std::string_view hostname,
                          std::string_view app_name, std::string_view procid);

/// RFC 5425 section 4.3 octet-counting: "MSG-LEN SP SYSLOG-MSG".
std::string octetCountedFrame(std::string_view message);

/// Where and how the sender sends.
struct AtnaSyslogOptions {
  net::Endpoint collector;
  net::TlsSettings tls;  ///< CA, our certificate and key; server_name (default: collector host)
  ExportSource source;
  std::string hostname;  ///< RFC 5424 HOSTNAME; default gethostname()
  std::string cursor_name = "atna-syslog";  ///< row in audit_export_cursors
  std::chrono::milliseconds timeout{5000};  ///< connect, handshake and each write
  std::size_t batch = 500;                  ///< entries read and sent per cursor update
};

/// Sends the audit trail to one collector, in order, from a durable cursor.
/// Thread-safe: tick() calls are serialised. Must not run on the store's
/// completion thread (it waits for its cursor updates to commit).
class AtnaSyslogExporter {
 public:
  /// From [audit] syslog_collector etc.; an error if no collector is set
  /// or the TLS files are unusable.
  static Result<std::unique_ptr<AtnaSyslogExporter>> create(const config::AuditSettings& settings,
                                                            store::Store& store);
  /// OWNERSHIP: `store` must outlive the exporter.
  static Result<std::unique_ptr<AtnaSyslogExporter>> create(AtnaSyslogOptions options, store::Store& store);
  ~AtnaSyslogExporter();
  AtnaSyslogExporter(const AtnaSyslogExporter&) = delete;
  AtnaSyslogExporter& operator=(const AtnaSyslogExporter&) = delete;

  /// Sends every entry from the cursor to the end of the log (as it is
  /// now), at most `max_entries`, connecting first if needed. Returns how
  /// many were sent; an error (collector unreachable, TLS refused, write
  /// failed) leaves the cursor after the last batch that was written.
  Result<std::size_t> tick(std::size_t max_entries = SIZE_MAX);

  /// Runs tick() every `interval` on a thread of its own until stop();
  /// failures are logged once per outage (logger "audit.export").
  void start(std::chrono::milliseconds interval);
  /// Stops the thread (waits for a tick in progress) and closes the connection.
  void stop();

  /// The first entry not yet sent (the stored cursor).
  Result<std::int64_t> cursor();

 private:
  struct Connection;
  AtnaSyslogExporter(AtnaSyslogOptions options, store::Store& store, std::shared_ptr<net::TlsContext> tls);
  Status connect();
  Status send(std::string_view bytes);
  bool connectionClosedByPeer();
  void disconnect();
  Status saveCursor(std::int64_t next);

  AtnaSyslogOptions options_;
  store::Store& store_;
  std::shared_ptr<net::TlsContext> tls_;
  std::string procid_;
  std::mutex tick_mutex_;
  std::unique_ptr<Connection> conn_;

  std::mutex run_mutex_;
  std::condition_variable run_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cb::audit
