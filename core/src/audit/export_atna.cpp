#include "audit/export_atna.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>

#include "audit/audit_query.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/log.h"
#include "store/audit_appender.h"
#include "store/sqlite.h"
#include "store/store.h"

namespace cb::audit {
namespace {

std::shared_ptr<spdlog::logger> logger() {
  static auto lg = log::get("audit.export");
  return lg;
}

void escapeXml(std::string& out, std::string_view s) {
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\n': out += "&#10;"; break;
      case '\r': out += "&#13;"; break;
      case '\t': out += "&#9;"; break;
      default:
        // XML 1.0 forbids the other C0 controls even as references.
        if (static_cast<unsigned char>(c) >= 0x20) out.push_back(c);
    }
  }
}

// <Name a="v" ...
class Element {
 public:
  Element(std::string& out, const char* name) : out_(out) {
    out_ += '<';
    out_ += name;
  }
  Element& attr(const char* name, std::string_view value) {
    out_ += ' ';
    out_ += name;
    out_ += "=\"";
    escapeXml(out_, value);
    out_ += '"';
    return *this;
  }
  Element& attrIf(const char* name, std::string_view value) { return value.empty() ? *this : attr(name, value); }

 private:
  std::string& out_;
};

// A coded value (DICOM PS3.15 A.5.1 "CodedValueType": csd-code,
// codeSystemName, originalText).
void coded(std::string& out, const char* element, std::string_view code, std::string_view system,
           std::string_view text) {
  Element(out, element).attr("csd-code", code).attr("codeSystemName", system).attr("originalText", text);
  out += "/>";
}

std::string errorText() {
  std::string s;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!s.empty()) s += "; ";
    s += buf;
  }
  return s.empty() ? std::string(std::strerror(errno)) : s;
}

// Writing to a socket the collector closed raises SIGPIPE; the daemon must
// get EPIPE instead. Blocks it for this thread while writing and discards one
// that became pending meanwhile (the per-thread technique of
// https://www.openssl.org/docs/faq.html "SIGPIPE").
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero{0, 0};
        (void)sigtimedwait(&pipe_, nullptr, &zero);
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t old_{};
  bool was_pending_ = false;
};

std::string localHostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "-";
  return buf;
}

}  // namespace

// ---- the AuditMessage ----

Result<std::string> toAtnaAuditMessage(std::int64_t seq, std::string_view entry, const ExportSource& source,
                                       const std::string& purpose_hint) {
  auto parsed = parseCanonicalEntry(entry);
  if (!parsed) return fail("audit entry " + std::to_string(seq) + ": " + parsed.error().message);
  const AuditEvent& e = *parsed;
  const DicomEvent ev = dicomEventFor(e.action);
  std::string purpose = purpose_hint;
  std::string reason;
  for (const auto& [k, v] : e.details) {
    if (k == "purpose" && !v.empty()) purpose = v;
    if (k == "reason") reason = v;
  }

  std::string x;
  x.reserve(1024);
  x += R"(<?xml version="1.0" encoding="UTF-8"?><AuditMessage>)";
  // DICOM PS3.15 A.5.1: EventIdentification, ActiveParticipant+,
  // AuditSourceIdentification, ParticipantObjectIdentification*.
  Element(x, "EventIdentification")
      .attr("EventActionCode", std::string(1, ev.action))
      .attr("EventDateTime", formatUtc(e.time_ms))
      .attr("EventOutcomeIndicator", dicomOutcome(e.outcome));
  x += '>';
  coded(x, "EventID", ev.code, "DCM", ev.display);
  if (ev.subtype_code != nullptr) coded(x, "EventTypeCode", ev.subtype_code, "DCM", ev.subtype_display);
  coded(x, "EventTypeCode", e.action, kActionCodeSystem, e.action);
  if (!reason.empty()) {
    x += "<EventOutcomeDescription>";
    escapeXml(x, reason);
    x += "</EventOutcomeDescription>";
  }
  if (!purpose.empty()) coded(x, "PurposeOfUse", purpose, kPurposeSystem, purpose);
  x += "</EventIdentification>";

  // Who acted: the requestor.
  const char* kind = e.actor.kind == Actor::Kind::Person    ? "person"
                     : e.actor.kind == Actor::Kind::Adapter ? "adapter"
                                                            : "system";
  Element(x, "ActiveParticipant")
      .attr("UserID", std::string(kind) + ":" + (e.actor.name.empty() ? "unknown" : e.actor.name))
      .attrIf("AlternativeUserID", e.actor.organisation)
      .attr("UserIsRequestor", "true")
      .attr("UserTypeCode", e.actor.kind == Actor::Kind::Person ? "1" : "2");
  x += '>';
  if (!e.actor.role.empty()) coded(x, "RoleIDCode", e.actor.role, "urn:carebridge:role", e.actor.role);
  x += "</ActiveParticipant>";
  auto org = [&](const std::string& ods, const char* code, const char* text) {
    if (ods.empty()) return;
    Element(x, "ActiveParticipant").attr("UserID", ods).attr("UserIsRequestor", "false");
    x += '>';
    coded(x, "RoleIDCode", code, "DCM", text);
    x += "</ActiveParticipant>";
  };
  org(e.source_org, "110153", "Source Role ID");
  org(e.destination_org, "110152", "Destination Role ID");

  Element(x, "AuditSourceIdentification").attrIf("AuditEnterpriseSiteID", source.site).attr("AuditSourceID",
                                                                                            source.source_id);
  x += '>';
  coded(x, "AuditSourceTypeCode", "4", "DCM", "Application Server Process or Thread");
  x += "</AuditSourceIdentification>";

  if (!e.subject_key.empty()) {
    // The person, only as the keyed hash (never the NHS number).
    Element(x, "ParticipantObjectIdentification")
        .attr("ParticipantObjectID", e.subject_key)
        .attr("ParticipantObjectTypeCode", "1")
        .attr("ParticipantObjectTypeCodeRole", "1");
    x += '>';
    coded(x, "ParticipantObjectIDTypeCode", "2", "RFC-3881", "Patient Number");
    x += "</ParticipantObjectIdentification>";
  }
  // The record (or, for entries about no record, the entry itself).
  const bool disclosure = e.action == action::kDeliveryAttempt && e.outcome == outcome::kSuccess;
  Element rec(x, "ParticipantObjectIdentification");
  rec.attr("ParticipantObjectID", e.message_id.empty() ? "carebridge-audit-" + std::to_string(seq) : e.message_id)
      .attr("ParticipantObjectTypeCode", "2")
      .attr("ParticipantObjectTypeCodeRole", e.message_id.empty() ? "13" : "4");
  if (disclosure) rec.attr("ParticipantObjectDataLifeCycle", "11");
  x += '>';
  coded(x, "ParticipantObjectIDTypeCode", e.message_id.empty() ? "audit-entry" : "message-id", "urn:carebridge",
        e.record_type.empty() ? "carebridge audit entry" : e.record_type);
  auto detail = [&](std::string_view type, std::string_view value) {
    Element(x, "ParticipantObjectDetail").attr("type", type).attr("value", base64Encode(value));
    x += "/>";
  };
  detail("carebridge.seq", std::to_string(seq));
  if (!e.payload_sha256.empty()) detail("payload_sha256", e.payload_sha256);
  for (const auto& [k, v] : e.details) detail(k, v);
  x += "</ParticipantObjectIdentification></AuditMessage>";
  return x;
}

std::string syslogMessage(std::string_view xml, std::int64_t time_ms, std::string_view hostname,
                          std::string_view app_name, std::string_view procid) {
  auto field = [](std::string_view v) { return v.empty() ? std::string("-") : std::string(v); };
  std::string m = "<85>1 " + formatUtc(time_ms) + " " + field(hostname) + " " + field(app_name) + " " +
                  field(procid) + " IHE+RFC-3881 - \xEF\xBB\xBF";
  m.append(xml);
  return m;
}

std::string octetCountedFrame(std::string_view message) {
  std::string f = std::to_string(message.size());
  f.push_back(' ');
  f.append(message);
  return f;
}

// ---- the sender ----

struct AtnaSyslogExporter::Connection {
  int fd = -1;
  SSL* ssl = nullptr;
  ~Connection() {
    if (ssl != nullptr) {
      SigpipeGuard guard;
      (void)SSL_shutdown(ssl);
      SSL_free(ssl);
    }
    if (fd >= 0) ::close(fd);
  }
};

Result<std::unique_ptr<AtnaSyslogExporter>> AtnaSyslogExporter::create(const config::AuditSettings& s,
                                                                       store::Store& store) {
  if (!s.syslog_collector) return fail("[audit] syslog_collector is not set");
  AtnaSyslogOptions o;
  o.collector = *s.syslog_collector;
  o.tls = s.syslog_tls;
  o.source.site = s.export_site;
  return create(std::move(o), store);
}

Result<std::unique_ptr<AtnaSyslogExporter>> AtnaSyslogExporter::create(AtnaSyslogOptions options,
                                                                       store::Store& store) {
  if (options.tls.server_name.empty()) options.tls.server_name = options.collector.host;
  if (options.hostname.empty()) options.hostname = localHostname();
  options.batch = std::max<std::size_t>(options.batch, 1);
  auto tls = net::makeClientTlsContext(options.tls);
  if (!tls) return fail("ATNA syslog export to " + options.collector.host + ":" +
                        std::to_string(options.collector.port) + ": " + tls.error().message);
  return std::unique_ptr<AtnaSyslogExporter>(new AtnaSyslogExporter(std::move(options), store, std::move(*tls)));
}

AtnaSyslogExporter::AtnaSyslogExporter(AtnaSyslogOptions options, store::Store& store,
                                       std::shared_ptr<net::TlsContext> tls)
    : options_(std::move(options)), store_(store), tls_(std::move(tls)), procid_(std::to_string(::getpid())) {}

AtnaSyslogExporter::~AtnaSyslogExporter() { stop(); }

Status AtnaSyslogExporter::connect() {
  const std::string where = options_.collector.host + ":" + std::to_string(options_.collector.port);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(options_.collector.port);
  if (const int rc = getaddrinfo(options_.collector.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return fail("syslog collector " + where + ": cannot resolve: " + gai_strerror(rc));
  }
  auto conn = std::make_unique<Connection>();
  std::string lastError = "no address";
  const int timeout_ms = static_cast<int>(options_.timeout.count());
  for (addrinfo* ai = res; ai != nullptr && conn->fd < 0; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, timeout_ms) == 1 ? 0 : -1;
      int err = rc == 0 ? 0 : ETIMEDOUT;
      socklen_t len = sizeof err;
      if (rc == 0) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        errno = err;
        rc = -1;
      }
    }
    if (rc != 0) {
      lastError = std::strerror(errno);
      ::close(fd);
      continue;
    }
    conn->fd = fd;
  }
  freeaddrinfo(res);
  if (conn->fd < 0) return fail("syslog collector " + where + ": cannot connect: " + lastError);
  // Blocking from here, with timeouts on every read and write.
  ::fcntl(conn->fd, F_SETFL, ::fcntl(conn->fd, F_GETFL) & ~O_NONBLOCK);
  timeval tv{static_cast<time_t>(timeout_ms / 1000), static_cast<suseconds_t>((timeout_ms % 1000) * 1000)};
  ::setsockopt(conn->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ::setsockopt(conn->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

  ERR_clear_error();
  conn->ssl = SSL_new(static_cast<SSL_CTX*>(tls_->native()));
  if (conn->ssl == nullptr) return fail("syslog collector " + where + ": " + errorText());
  // RFC 5425 section 5.2: the client authenticates the server by its
  // certificate's name (RFC 6125); an IP literal must match an IP SAN.
  const std::string& name = options_.tls.server_name;
  X509_VERIFY_PARAM* param = SSL_get0_param(conn->ssl);
  in6_addr probe6{};
  in_addr probe4{};
  if (inet_pton(AF_INET, name.c_str(), &probe4) == 1 || inet_pton(AF_INET6, name.c_str(), &probe6) == 1) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) != 1) {
      return fail("syslog collector " + where + ": bad server address " + name);
    }
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size()) != 1 ||
        // SSL_set_tlsext_host_name is a macro with a C cast; this is its expansion.
        SSL_ctrl(conn->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(name.c_str())) !=
            1) {
      return fail("syslog collector " + where + ": bad server name " + name);
    }
  }
  SSL_set_fd(conn->ssl, conn->fd);
  SigpipeGuard guard;
  if (SSL_connect(conn->ssl) != 1) {
    const long verify = SSL_get_verify_result(conn->ssl);
    std::string why = errorText();
    if (verify != X509_V_OK) why = std::string("certificate refused: ") + X509_verify_cert_error_string(verify);
    return fail("syslog collector " + where + ": TLS handshake failed: " + why);
  }
  conn_ = std::move(conn);
  logger()->info("ATNA syslog export: connected to {} (TLS, server {})", where, name);
  return {};
}

bool AtnaSyslogExporter::connectionClosedByPeer() {
  // A collector never sends application data (RFC 5425); anything readable
  // is a close_notify, a reset or the end of the stream.
  pollfd p{conn_->fd, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

void AtnaSyslogExporter::disconnect() { conn_.reset(); }

Status AtnaSyslogExporter::send(std::string_view bytes) {
  SigpipeGuard guard;
  std::size_t done = 0;
  while (done < bytes.size()) {
    ERR_clear_error();
    const int n = SSL_write(conn_->ssl, bytes.data() + done, static_cast<int>(bytes.size() - done));
    if (n <= 0) {
      const int err = SSL_get_error(conn_->ssl, n);
      return fail("writing to the syslog collector failed (" + std::to_string(err) + "): " + errorText());
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

Result<std::int64_t> AtnaSyslogExporter::cursor() {
  std::int64_t next = 0;
  auto s = store_.read([&](store::Connection& db) -> Status {
    auto st = db.prepare("SELECT next_seq FROM audit_export_cursors WHERE name = ?");
    if (!st) return st.error();
    (*st)->bind(1, options_.cursor_name);
    auto row = (*st)->step();
    if (!row) {
      (*st)->reset();
      return row.error();
    }
    if (*row) next = (*st)->columnInt(0);
    (*st)->reset();
    return {};
  });
  if (!s) return s.error();
  return next;
}

Status AtnaSyslogExporter::saveCursor(std::int64_t next) {
  return store_.transactSync([this, next](store::Connection& db, store::AuditAppender&) -> Status {
    auto st = db.prepare(
        "INSERT INTO audit_export_cursors(name, next_seq, updated_at) VALUES (?1, ?2, ?3) "
        "ON CONFLICT(name) DO UPDATE SET next_seq = MAX(next_seq, ?2), updated_at = ?3");
    if (!st) return st.error();
    (*st)->bind(1, options_.cursor_name).bind(2, next).bind(3, SystemClock::instance().nowUnixMs());
    return (*st)->run();
  });
}

Result<std::size_t> AtnaSyslogExporter::tick(std::size_t max_entries) {
  std::lock_guard lock(tick_mutex_);
  auto from = cursor();
  if (!from) return from.error();
  auto size = store_.auditSize();
  if (!size) return size.error();
  std::size_t sent = 0;
  std::int64_t next = *from;
  while (next < *size && sent < max_entries) {
    if (conn_ && connectionClosedByPeer()) {
      logger()->warn("ATNA syslog export: the collector closed the connection; reconnecting");
      disconnect();
    }
    if (!conn_) {
      if (auto s = connect(); !s) return s.error();
    }
    const std::size_t want = std::min(options_.batch, max_entries - sent);
    auto rows = store_.auditEntries(next, want);
    if (!rows) return rows.error();
    if (rows->empty()) break;
    std::string frames;
    std::int64_t expect = next;
    for (const auto& r : *rows) {
      if (r.seq != expect) {
        return fail("audit entry " + std::to_string(expect) + " is missing; run `carebridge audit verify`");
      }
      std::string purpose;
      if (r.action == action::kDeliveryAttempt) {
        std::string destination;
        if (auto e = parseCanonicalEntry(r.entry)) {
          for (const auto& [k, v] : e->details) {
            if (k == "destination") destination = v;
          }
        }
        auto p = decisionPurpose(store_, r.message_id, destination);
        if (!p) return p.error();
        purpose = std::move(*p);
      }
      auto xml = toAtnaAuditMessage(r.seq, r.entry, options_.source, purpose);
      if (!xml) return xml.error();
      frames += octetCountedFrame(syslogMessage(*xml, r.time_ms, options_.hostname, "carebridge", procid_));
      ++expect;
    }
    if (auto s = send(frames); !s) {
      disconnect();
      return s.error();
    }
    next = expect;
    sent += rows->size();
    if (auto s = saveCursor(next); !s) return s.error();
  }
  return sent;
}

void AtnaSyslogExporter::start(std::chrono::milliseconds interval) {
  std::lock_guard lock(run_mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this, interval] {
    bool failing = false;
    std::unique_lock lk(run_mutex_);
    while (!stopping_) {
      lk.unlock();
      auto r = tick();
      if (!r && !failing) {
        logger()->error("ATNA syslog export: {}; entries are kept and sent when the collector is back",
                        r.error().message);
      } else if (r && failing) {
        logger()->info("ATNA syslog export: collector reachable again; {} entries sent", *r);
      }
      failing = !r;
      lk.lock();
      run_cv_.wait_for(lk, interval, [this] { return stopping_; });
    }
  });
}

void AtnaSyslogExporter::stop() {
  {
    std::lock_guard lock(run_mutex_);
    stopping_ = true;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(tick_mutex_);
  disconnect();
}

}  // namespace cb::audit
