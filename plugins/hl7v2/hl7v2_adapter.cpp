// The `hl7v2` adapter: HL7 v2 messages over MLLP (mllp.h), with mutual TLS
// or, on loopback only, plain TCP.
//
// Inbound (`listen`): every frame is parsed with the codec (core/src/codec/
// hl7v2, compiled into this plugin), handed to the daemon with its message
// control id (MSH-10) as the sender's id, and answered only once the daemon
// has answered (HL7 v2.5.1 section 2.9.2, original acknowledgment mode):
//   AA  stored, or stored earlier under the same control id (a resend);
//   AE  the frame is not a message we can read (resending it will not help);
//   AR  the daemon refused it, could not store it now, or it is too large.
// AE and AR carry an ERR segment with an HL7 table 0357 code and a reason.
// A message that values MSH-15 or MSH-16 asks for enhanced mode (section
// 2.9.3): CA, CR or CE instead, each sent only if MSH-15 asks for it; no
// application ACK is ever sent (AckMode below, README.md).
// Nothing is acknowledged before the daemon has committed the message: if
// the daemon dies first, the sender gets no AA and resends.
//
// Outbound (`connect`): one keep-alive connection to the partner, opened on
// demand and reopened after a failure. Deliveries go out one at a time (MLLP
// has no request ids beyond MSA-2); each waits for its ACK: AA or CA is
// delivered, AE, AR or CR is a permanent failure, CE, no ACK within
// `ack_timeout`, or a broken connection is retried by the host.
//
// The host's HTTPS services do not fit MLLP, so this plugin runs its own
// Boost.Asio thread and OpenSSL contexts (mllp_link.h), built from the
// instance's [adapter.tls] as the host hands it over (plugin ABI 1.1,
// tls_settings): the same certificate, CA, CRL, pins and server name as any
// other adapter. The plugin's own tls_* settings of ABI 1.0 still work but
// are deprecated. See README.md.
#include "mllp.h"
#include "mllp_link.h"

#include "codec/hl7v2/ack.h"
#include "codec/hl7v2/er7.h"

#include <carebridge/plugin_sdk.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <cctype>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <list>
#include <mutex>
#include <optional>
#include <thread>

namespace {

namespace asio = boost::asio;
namespace hl7 = cb::codec::hl7v2;
namespace mllp = cb::mllp;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

const cb_config_key kKeys[] = {
    {"listen", CB_CONFIG_STRING, "", "inbound: \"host:port\" to accept MLLP connections on; empty = no inbound"},
    {"connect", CB_CONFIG_STRING, "", "outbound: the partner's MLLP \"host:port\"; empty = no outbound"},
    // Deprecated: use [adapter.tls] (certificate, private_key, ca, crl, server_name).
    {"tls_certificate", CB_CONFIG_PATH, "", "deprecated, use [adapter.tls] certificate"},
    {"tls_private_key", CB_CONFIG_PATH, "", "deprecated, use [adapter.tls] private_key"},
    {"tls_ca", CB_CONFIG_PATH, "", "deprecated, use [adapter.tls] ca"},
    {"tls_crl", CB_CONFIG_PATH, "", "deprecated, use [adapter.tls] crl"},
    {"tls_server_name", CB_CONFIG_STRING, "", "deprecated, use [adapter.tls] server_name"},
    {"ack_timeout", CB_CONFIG_DURATION_MS, "30s", "outbound: time allowed for the partner's ACK"},
    {"connect_timeout", CB_CONFIG_DURATION_MS, "10s", "time allowed to connect and complete the TLS handshake"},
    {"idle_timeout", CB_CONFIG_DURATION_MS, "5m", "inbound: close a connection that sends nothing this long"},
    {"max_message_bytes", CB_CONFIG_INT, "1048576", "largest message accepted (inbound) or ACK read (outbound)"},
    {"max_connections", CB_CONFIG_INT, "64", "inbound: concurrent connections accepted"},
};

constexpr std::string_view kContentType = "x-application/hl7-v2+er7";

struct Settings {
  std::string listen;
  std::string connect;
  mllp::TlsFiles tls;
  std::string server_name;
  std::chrono::milliseconds ack_timeout{};
  std::chrono::milliseconds connect_timeout{};
  std::chrono::milliseconds idle_timeout{};
  std::size_t max_message_bytes = 0;
  std::size_t max_connections = 0;
};

std::string errorText(const boost::system::error_code& ec) {
  return ec == asio::error::eof ? "connection closed by the peer" : ec.message();
}

// What goes into an ERR segment or a delivery reason must be printable ASCII
// without record content; codec errors name segments and fields only.
std::string printable(std::string_view s, std::size_t max = 200) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c >= 0x20 && c < 0x7F) ? c : '?';
  return out;
}

// ---- Everything the inbound sessions and the outbound sender share.
struct Runtime {
  Runtime(cb::sdk::Host h, Settings s) : host(h), settings(std::move(s)) {}

  cb::sdk::Host host;
  const Settings settings;
  asio::io_context io;
  asio::ssl::context plain_ctx{asio::ssl::context::tls};  // satisfies ssl::stream for plain links only
  std::shared_ptr<asio::ssl::context> server_tls;
  std::shared_ptr<asio::ssl::context> client_tls;
  std::atomic<std::uint64_t> ack_counter{0};
  std::mutex awaiting_mutex;
  std::condition_variable awaiting_cv;
  std::size_t awaiting = 0;  // messages handed to the daemon whose answer has not come back

  hl7::ParseLimits limits() const {
    hl7::ParseLimits l;
    l.max_bytes = settings.max_message_bytes;
    return l;
  }

  // MSH-10 of our ACKs: unique per process run and within the 20 characters
  // v2.5 allows for ST.
  std::string nextAckId() {
    const auto n = ack_counter.fetch_add(1) % 1000000;
    std::string seq = std::to_string(n);
    return "CB" + std::to_string(host.nowUnixMs() / 1000) + std::string(6 - seq.size(), '0') + seq;
  }

  void awaitBegin() {
    std::lock_guard lock(awaiting_mutex);
    ++awaiting;
  }
  void awaitEnd() {
    std::lock_guard lock(awaiting_mutex);
    if (--awaiting == 0) awaiting_cv.notify_all();
  }
};

// ---- Acknowledgements (HL7 v2.5.1 section 2.9 and ack.h).

struct Refusal {
  hl7::AckCode code = hl7::AckCode::ApplicationError;
  hl7::ErrorCondition condition = hl7::ErrorCondition::ApplicationInternalError;
  std::string text;
};

std::string_view skipBom(std::string_view s) {
  if (s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
  while (!s.empty() && (s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  return s;
}

// MSH-<n> (first component) read leniently from a message the codec
// refused, so the sender can still match our answer to what it sent and we
// still know which acknowledgment mode it asked for. Only a plain token
// (letters, digits, '.', '-', '_') is taken; anything else reads as empty.
std::string lenientMshField(std::string_view body, std::size_t n) {
  body = skipBom(body);
  if (body.size() < 8 || body.substr(0, 3) != "MSH" || n < 3) return {};
  const char fs = body[3];
  const std::string_view line = body.substr(0, body.find_first_of("\r\n"));
  std::vector<std::string_view> fields;  // fields[k] is MSH-(k+1): fields[0] "MSH", fields[1] MSH-2
  std::size_t from = 0;
  while (from <= line.size() && fields.size() < n) {
    const auto at = line.find(fs, from);
    fields.push_back(line.substr(from, at == std::string_view::npos ? std::string_view::npos : at - from));
    if (at == std::string_view::npos) break;
    from = at + 1;
  }
  if (fields.size() < n || fields[1].empty()) return {};
  std::string_view v = fields[n - 1].substr(0, fields[n - 1].find(fields[1][0]));
  if (v.empty() || v.size() > 199) return {};
  for (char c : v) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '.' ||
                    c == '-' || c == '_';
    if (!ok) return {};
  }
  return std::string(v);
}

std::string lenientControlId(std::string_view body) { return lenientMshField(body, 10); }

// Which acknowledgment the sender asked for (HL7 v2.5 section 2.9.3): with
// MSH-15 and MSH-16 both empty, original mode (AA/AE/AR, always sent);
// with either valued, enhanced mode: a commit ACK (CA/CE/CR) sent according
// to MSH-15 (table 0155: AL always, NE never, ER only for CE/CR, SU only for
// CA). An empty or unknown MSH-15 in enhanced mode is treated as AL: a
// commit ACK is the only proof the message is stored, so when in doubt the
// sender gets one. MSH-16 (application ACK) is accepted and never acted on:
// see README.md, "Acknowledgment modes".
struct AckMode {
  bool enhanced = false;
  std::string accept;  // MSH-15

  static AckMode of(std::string msh15, std::string msh16) {
    for (auto* v : {&msh15, &msh16}) {
      if (*v == "\"\"") v->clear();  // the explicit null: not valued
    }
    return AckMode{!msh15.empty() || !msh16.empty(), std::move(msh15)};
  }
  static AckMode of(const hl7::Message& msg) {
    auto field = [&msg](const char* path) {
      auto v = msg.value(path);
      return v ? *v : std::string();
    };
    return of(field("MSH-15"), field("MSH-16"));
  }
  static AckMode lenient(std::string_view body) { return of(lenientMshField(body, 15), lenientMshField(body, 16)); }

  /// Whether to answer at all, for an outcome that did (`success`) or did not commit the message.
  bool answers(bool success) const {
    if (!enhanced) return true;
    if (accept == "NE") return false;
    if (accept == "ER") return !success;
    if (accept == "SU") return success;
    return true;
  }
};

// An ACK written by hand, for frames the codec cannot read (so there is no
// inbound MSH to answer from): default delimiters, v2.5 layout.
std::string plainAck(Runtime& rt, const Refusal& r, const std::string& control_id) {
  auto clean = [](std::string_view s) {
    std::string out = printable(s);
    for (char& c : out) {
      if (c == '|' || c == '^' || c == '~' || c == '\\' || c == '&') c = ' ';
    }
    return out;
  };
  std::string ack = "MSH|^~\\&|||||" + hl7::formatTimestamp(std::chrono::system_clock::now()) + "||ACK|" +
                    rt.nextAckId() + "|P|2.5\rMSA|" + std::string(hl7::ackCodeText(r.code)) + "|" + control_id + "\r";
  if (r.code == hl7::AckCode::ApplicationAccept || r.code == hl7::AckCode::CommitAccept) return ack;
  return ack + "ERR|||" + std::to_string(static_cast<int>(r.condition)) + "^" +
         std::string(hl7::errorConditionText(r.condition)) + "^HL70357|E||||" + clean(r.text) + "\r";
}

// The ACK for a message the codec read: AA (CA in enhanced mode) when
// `refusal` is empty.
std::string ackFor(Runtime& rt, const hl7::Message& msg, const std::optional<Refusal>& refusal) {
  hl7::AckRequest req;
  req.code = refusal                   ? refusal->code
             : AckMode::of(msg).enhanced ? hl7::AckCode::CommitAccept
                                         : hl7::AckCode::ApplicationAccept;
  req.control_id = rt.nextAckId();
  if (refusal) {
    hl7::AckError e;
    e.condition = refusal->condition;
    e.text = refusal->text;
    req.errors.push_back(std::move(e));
  }
  auto ack = hl7::buildAck(msg, req);
  if (ack) return hl7::write(*ack);
  Refusal fallback = refusal.value_or(Refusal{req.code, hl7::ErrorCondition::MessageAccepted, ""});
  return plainAck(rt, fallback, msg.controlId());
}

// Who the message is about, for the daemon's per-person ordering (stored only
// as a keyed hash, never logged): the NHS number from PID-3 when one is
// marked as such, else the first identifier with its assigning authority.
std::string subjectOf(const hl7::Message& msg) {
  if (msg.segment("PID") == nullptr) return {};
  std::string first;
  for (int i = 1; i <= 20; ++i) {
    const std::string rep = "PID-3[" + std::to_string(i) + "]";
    auto id = msg.value(rep + ".1");
    if (!id || id->empty()) {
      if (i > 1) break;
      continue;
    }
    const std::string authority = msg.value(rep + ".4").ok() ? *msg.value(rep + ".4") : "";
    const std::string oid = msg.value(rep + ".4.2").ok() ? *msg.value(rep + ".4.2") : "";
    const std::string type = msg.value(rep + ".5").ok() ? *msg.value(rep + ".5") : "";
    // 2.16.840.1.113883.2.1.4.1 is the NHS number's OID.
    if (type == "NH" || authority == "NHS" || oid == "2.16.840.1.113883.2.1.4.1") return "nhs:" + *id;
    if (first.empty()) first = *id + "^" + authority;
  }
  return first;
}

// ---- Inbound: one accepted connection.
class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(Runtime& rt)
      : rt_(rt),
        link_(rt.io.get_executor(), rt.server_tls, rt.plain_ctx),
        timer_(rt.io),
        reader_(rt.settings.max_message_bytes) {}

  mllp::Link& link() { return link_; }

  void start() {
    remote_ = link_.remote();
    if (!link_.tls()) {
      readNext();
      return;
    }
    arm(rt_.settings.connect_timeout);
    link_.asyncHandshake(asio::ssl::stream_base::server, [self = shared_from_this()](boost::system::error_code ec) {
      self->timer_.cancel();
      if (ec) {
        self->rt_.host.warn("MLLP: TLS handshake from " + self->remote_ + " refused: " + errorText(ec));
        self->rt_.host.count("tls_refused");
        self->link_.close();
        return;
      }
      self->rt_.host.debug("MLLP: connection from " + self->remote_ + " (" + self->link_.peerCommonName() + ")");
      self->readNext();
    });
  }

  void close() {
    timer_.cancel();
    link_.close();
  }

 private:
  // Takes the next frame, reading when none is buffered. Frames are answered
  // strictly one at a time, in the order they came.
  void readNext() {
    std::string body;
    switch (reader_.next(body)) {
      case mllp::FrameReader::Event::Frame: handle(std::move(body)); return;
      case mllp::FrameReader::Event::Oversize: refuseOversize(body); return;
      case mllp::FrameReader::Event::NeedMore: break;
    }
    arm(rt_.settings.idle_timeout);
    link_.asyncReadSome(asio::buffer(buf_), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
      self->timer_.cancel();
      if (ec) {
        if (self->reader_.inFrame()) {
          self->rt_.host.warn("MLLP: " + self->remote_ + " went away mid-message: " + errorText(ec));
        }
        self->link_.close();
        return;
      }
      self->reader_.feed(std::string_view(self->buf_.data(), n));
      self->readNext();
    });
  }

  void handle(std::string body) {
    rt_.host.count("received");
    auto parsed = hl7::parse(body, rt_.limits());
    if (!parsed) {
      // Resending the same bytes will not help: AE, or CR in enhanced mode
      // (MSH-15/16 read leniently, since the codec could not read the header).
      const AckMode mode = AckMode::lenient(body);
      const bool has_msh = skipBom(body).substr(0, 3) == "MSH";
      Refusal r{mode.enhanced ? hl7::AckCode::CommitReject : hl7::AckCode::ApplicationError,
                has_msh ? hl7::ErrorCondition::DataTypeError : hl7::ErrorCondition::SegmentSequenceError,
                "message not accepted: " + parsed.error().message};
      const std::string id = lenientControlId(body);
      rt_.host.warn("MLLP: unreadable message" + (id.empty() ? std::string() : " " + id) + " from " + remote_ +
                    ": " + std::string(hl7::ackCodeText(r.code)) + sentOrNot(mode, false) + " (" +
                    printable(parsed.error().message) + ")");
      countAck(r.code, mode, false);
      if (mode.answers(false)) {
        reply(plainAck(rt_, r, id));
      } else {
        readNext();
      }
      return;
    }
    auto msg = std::make_shared<const hl7::Message>(std::move(*parsed));
    const std::string control_id = msg->controlId();
    const auto type = msg->messageType();
    const std::string record_type = type.trigger.empty() ? type.code : type.code + "^" + type.trigger;
    const std::string subject = subjectOf(*msg);
    cb::sdk::InboundRecord rec;
    rec.sender_message_id = control_id;
    rec.content_type = kContentType;
    rec.subject = subject;
    rec.record_type = record_type;
    rec.payload = body;
    rt_.awaitBegin();
    auto self = shared_from_this();
    const bool accepted = rt_.host.submit(rec, [self, msg](cb::sdk::SubmitResult result, std::string_view message_id,
                                                           std::string_view reason) {
      // On a host thread: build the answer here, write it on ours.
      auto ack = self->answer(*msg, result, message_id, reason);
      asio::post(self->rt_.io, [self, ack = std::move(ack)]() mutable { self->replyOrNext(std::move(ack)); });
      self->rt_.awaitEnd();
    });
    if (!accepted) {
      rt_.awaitEnd();
      replyOrNext(answer(*msg, cb::sdk::SubmitResult::Unavailable, {}, "carebridged is not accepting records now"));
    }
  }

  // The answer to a message the daemon has answered, or nothing when the
  // sender's MSH-15 asked for no commit ACK in this case (HL7 v2.5 2.9.3).
  // Original mode: AA stored (or stored earlier), AR refused or not stored.
  // Enhanced mode: CA stored, CR refused for good, CE not stored now (resend).
  std::optional<std::string> answer(const hl7::Message& msg, cb::sdk::SubmitResult result, std::string_view message_id,
                                    std::string_view reason) {
    const std::string control_id = msg.controlId();
    const AckMode mode = AckMode::of(msg);
    std::optional<Refusal> refusal;
    bool success = false;
    switch (result) {
      case cb::sdk::SubmitResult::Stored:
      case cb::sdk::SubmitResult::Duplicate:
        success = true;
        break;
      case cb::sdk::SubmitResult::Refused:
        refusal = Refusal{mode.enhanced ? hl7::AckCode::CommitReject : hl7::AckCode::ApplicationReject,
                          hl7::ErrorCondition::ApplicationInternalError, "not accepted: " + std::string(reason)};
        break;
      case cb::sdk::SubmitResult::Unavailable:
        refusal = Refusal{mode.enhanced ? hl7::AckCode::CommitError : hl7::AckCode::ApplicationReject,
                          hl7::ErrorCondition::ApplicationInternalError,
                          "not stored, resend later: " + std::string(reason)};
        break;
    }
    if (success) {
      const auto code = mode.enhanced ? hl7::AckCode::CommitAccept : hl7::AckCode::ApplicationAccept;
      rt_.host.debug("MLLP: message " + control_id + " " +
                     (result == cb::sdk::SubmitResult::Stored ? "stored" : "already stored") + " as " +
                     std::string(message_id) + ": " + std::string(hl7::ackCodeText(code)) + sentOrNot(mode, true));
      countAck(code, mode, true, result == cb::sdk::SubmitResult::Duplicate);
    } else {
      rt_.host.warn("MLLP: message " + control_id +
                    (result == cb::sdk::SubmitResult::Refused ? " refused: " : " not stored: ") +
                    std::string(hl7::ackCodeText(refusal->code)) + sentOrNot(mode, false) + " (" + printable(reason) +
                    ")");
      countAck(refusal->code, mode, false);
    }
    if (!mode.answers(success)) return std::nullopt;
    return ackFor(rt_, msg, refusal);
  }

  // A frame over max_message_bytes: answered from its MSH alone, AR (CR in
  // enhanced mode): the same bytes will never fit.
  void refuseOversize(const std::string& head) {
    const std::string limit = std::to_string(rt_.settings.max_message_bytes);
    const std::string_view msh = skipBom(head).substr(0, skipBom(head).find_first_of("\r\n"));
    auto parsed = hl7::parse(msh, rt_.limits());
    const AckMode mode = parsed ? AckMode::of(*parsed) : AckMode::lenient(head);
    Refusal r{mode.enhanced ? hl7::AckCode::CommitReject : hl7::AckCode::ApplicationReject,
              hl7::ErrorCondition::ApplicationInternalError,
              "message larger than the " + limit + " bytes this interface accepts"};
    rt_.host.warn("MLLP: message from " + remote_ + " larger than max_message_bytes (" + limit +
                  "): " + std::string(hl7::ackCodeText(r.code)) + sentOrNot(mode, false));
    countAck(r.code, mode, false);
    if (!mode.answers(false)) {
      readNext();
      return;
    }
    reply(parsed ? ackFor(rt_, *parsed, r) : plainAck(rt_, r, lenientControlId(head)));
  }

  static std::string sentOrNot(const AckMode& mode, bool success) {
    return mode.answers(success) ? std::string() : " not sent (MSH-15 " + mode.accept + ")";
  }

  // Counters ack_aa, ack_ae, ack_ar, ack_ca, ack_ce, ack_cr (ack_aa_duplicate,
  // ack_ca_duplicate for a resend); ack_withheld when MSH-15 asked for none.
  void countAck(hl7::AckCode code, const AckMode& mode, bool success, bool duplicate = false) {
    if (!mode.answers(success)) {
      rt_.host.count("ack_withheld");
      return;
    }
    std::string name = "ack_" + std::string(hl7::ackCodeText(code));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    rt_.host.count(duplicate ? name + "_duplicate" : name);
  }

  void replyOrNext(std::optional<std::string> ack) {
    if (ack) {
      reply(std::move(*ack));
    } else {
      readNext();
    }
  }

  void reply(std::string ack) {
    out_ = mllp::frame(ack);
    arm(rt_.settings.idle_timeout);
    link_.asyncWrite(asio::buffer(out_), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      self->timer_.cancel();
      if (ec) {
        self->rt_.host.warn("MLLP: could not send an ACK to " + self->remote_ + ": " + errorText(ec));
        self->link_.close();
        return;
      }
      self->readNext();
    });
  }

  // Closes the connection when the current operation takes longer than `d`.
  void arm(std::chrono::milliseconds d) {
    timer_.expires_after(d);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      // A timer re-armed after it fired (but before this ran) is not expired.
      if (!ec && self->timer_.expiry() <= std::chrono::steady_clock::now()) self->link_.close();
    });
  }

  Runtime& rt_;
  mllp::Link link_;
  asio::steady_timer timer_;
  mllp::FrameReader reader_;
  std::array<char, 16384> buf_{};
  std::string out_;
  std::string remote_;
};

// ---- Inbound: the listener.
class Listener {
 public:
  explicit Listener(Runtime& rt) : rt_(rt), acceptor_(rt.io) {}

  // Binds synchronously so that a taken port fails start() with a clear message.
  void open() {
    const auto [host, port] = mllp::splitEndpoint(rt_.settings.listen);
    tcp::resolver resolver(rt_.io);
    boost::system::error_code ec;
    auto results = resolver.resolve(host, port, tcp::resolver::passive, ec);
    if (ec || results.empty()) {
      throw cb::sdk::ConfigError("listen: cannot resolve '" + rt_.settings.listen + "': " + ec.message());
    }
    const tcp::endpoint ep = *results.begin();
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw cb::sdk::ConfigError("listen: cannot listen on '" + rt_.settings.listen + "': " + ec.message());
    const auto bound = acceptor_.local_endpoint(ec);
    rt_.host.info("MLLP listening on " + bound.address().to_string() + ":" + std::to_string(bound.port()) + " (" +
                  (rt_.server_tls ? "mutual TLS" : "plain TCP, loopback") + ")");
    accept();
  }

  // Stops accepting; connections in progress carry on.
  void closeAcceptor() {
    boost::system::error_code ec;
    acceptor_.close(ec);
  }

  void closeAll() {
    closeAcceptor();
    for (auto& weak : sessions_) {
      if (auto s = weak.lock()) s->close();
    }
    sessions_.clear();
  }

 private:
  void accept() {
    auto session = std::make_shared<Session>(rt_);
    acceptor_.async_accept(session->link().socket(), [this, session](boost::system::error_code ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
      if (!ec) {
        sessions_.remove_if([](const std::weak_ptr<Session>& w) { return w.expired(); });
        if (sessions_.size() >= rt_.settings.max_connections) {
          rt_.host.warn("MLLP: refused a connection: max_connections (" +
                        std::to_string(rt_.settings.max_connections) + ") reached");
          session->close();
        } else {
          sessions_.push_back(session);
          session->start();
        }
      }
      accept();
    });
  }

  Runtime& rt_;
  tcp::acceptor acceptor_;
  std::list<std::weak_ptr<Session>> sessions_;
};

// ---- Outbound: one partner connection, one message in flight.
struct Job {
  std::string frame;       // the message, ER7 with CR terminators, framed
  std::string control_id;  // its MSH-10, which the ACK's MSA-2 must echo
  std::string message_id;  // carebridge's id, for logs
  cb::sdk::DeliveryDone done;
  bool resent = false;     // already resent once on a fresh connection
};

class Sender {
 public:
  explicit Sender(Runtime& rt) : rt_(rt), resolver_(rt.io), timer_(rt.io), reader_(rt.settings.max_message_bytes) {
    std::tie(host_, port_) = mllp::splitEndpoint(rt.settings.connect);
    server_name_ = rt.settings.server_name.empty() ? host_ : rt.settings.server_name;
  }

  // On the I/O thread.
  void enqueue(Job job) {
    if (stopping_) {
      job.done.retry("adapter is stopping");
      return;
    }
    queue_.push_back(std::move(job));
    pump();
  }

  // On the I/O thread: every queued delivery is handed back for a retry.
  void shutdown() {
    stopping_ = true;
    ++gen_;
    timer_.cancel();
    resolver_.cancel();
    dropLink();
    while (!queue_.empty()) {
      auto done = std::move(queue_.front().done);
      queue_.pop_front();
      done.retry("adapter is stopping");
    }
  }

 private:
  void pump() {
    if (busy_ || queue_.empty() || stopping_) return;
    busy_ = true;
    const std::uint64_t gen = ++gen_;
    if (link_) {
      send(gen);
    } else {
      connect(gen);
    }
  }

  void connect(std::uint64_t gen) {
    reused_ = false;
    arm(gen, rt_.settings.connect_timeout, "no connection to " + rt_.settings.connect + " within connect_timeout");
    resolver_.async_resolve(host_, port_, [this, gen](boost::system::error_code ec, tcp::resolver::results_type r) {
      if (gen != gen_) return;
      if (ec) {
        failed(gen, "cannot resolve " + host_ + ": " + errorText(ec));
        return;
      }
      link_ = std::make_shared<mllp::Link>(rt_.io.get_executor(), rt_.client_tls, rt_.plain_ctx);
      link_->expectServerName(server_name_);
      exchanges_ = 0;
      auto link = link_;
      asio::async_connect(link->socket(), r, [this, gen, link](boost::system::error_code cec, const tcp::endpoint&) {
        if (gen != gen_) return;
        if (cec) {
          failed(gen, "cannot connect to " + rt_.settings.connect + ": " + errorText(cec));
          return;
        }
        if (!link->tls()) {
          send(gen);
          return;
        }
        link->asyncHandshake(asio::ssl::stream_base::client, [this, gen, link](boost::system::error_code hec) {
          if (gen != gen_) return;
          if (hec) {
            rt_.host.count("tls_refused");
            failed(gen, "TLS handshake with " + rt_.settings.connect + " failed: " + errorText(hec));
            return;
          }
          send(gen);
        });
      });
    });
  }

  void send(std::uint64_t gen) {
    Job& job = queue_.front();
    reused_ = exchanges_ > 0;
    reader_ = mllp::FrameReader(rt_.settings.max_message_bytes);
    arm(gen, rt_.settings.ack_timeout,
        "no ACK within ack_timeout (" + std::to_string(rt_.settings.ack_timeout.count()) + " ms)");
    auto link = link_;
    link->asyncWrite(asio::buffer(job.frame), [this, gen, link](boost::system::error_code ec, std::size_t) {
      if (gen != gen_) return;
      if (ec) {
        failed(gen, "cannot send to " + rt_.settings.connect + ": " + errorText(ec));
        return;
      }
      readAck(gen);
    });
  }

  void readAck(std::uint64_t gen) {
    std::string body;
    switch (reader_.next(body)) {
      case mllp::FrameReader::Event::Frame: interpret(gen, body); return;
      case mllp::FrameReader::Event::Oversize: failed(gen, "ACK larger than max_message_bytes"); return;
      case mllp::FrameReader::Event::NeedMore: break;
    }
    auto link = link_;
    link->asyncReadSome(asio::buffer(buf_), [this, gen, link](boost::system::error_code ec, std::size_t n) {
      if (gen != gen_) return;
      if (ec) {
        failed(gen, "no ACK from " + rt_.settings.connect + ": " + errorText(ec));
        return;
      }
      reader_.feed(std::string_view(buf_.data(), n));
      readAck(gen);
    });
  }

  void interpret(std::uint64_t gen, const std::string& body) {
    Job& job = queue_.front();
    auto ack = hl7::parse(body, rt_.limits());
    if (!ack) {
      failed(gen, "unreadable ACK from " + rt_.settings.connect + ": " + ack.error().message);
      return;
    }
    const std::string code = ack->value("MSA-1").ok() ? *ack->value("MSA-1") : "";
    const std::string ref = ack->value("MSA-2").ok() ? *ack->value("MSA-2") : "";
    if (ref != job.control_id) {
      failed(gen, "ACK for control id '" + printable(ref, 64) + "' while waiting for '" + job.control_id + "'");
      return;
    }
    ++exchanges_;
    std::string text;
    for (const char* path : {"ERR-8", "ERR-3.2", "MSA-3", "ERR-1.4.2"}) {
      auto v = ack->value(path);
      if (v && !v->empty()) {
        text = printable(*v);
        break;
      }
    }
    const std::string what = "partner answered " + printable(code, 2) + " for control id " + job.control_id +
                             (text.empty() ? std::string() : ": " + text);
    if (code == "AA" || code == "CA") {
      complete([](cb::sdk::DeliveryDone& d) { d.ok(); }, "delivered (" + code + ")", "delivered");
    } else if (code == "AE" || code == "AR" || code == "CR") {
      complete([&what](cb::sdk::DeliveryDone& d) { d.fail(what); }, what, "delivery_refused");
    } else if (code == "CE") {
      complete([&what](cb::sdk::DeliveryDone& d) { d.retry(what); }, what, "delivery_retry");
    } else {
      failed(gen, "ACK with unknown MSA-1 '" + printable(code, 8) + "'");
    }
  }

  template <class Report>
  void complete(Report report, const std::string& what, std::string_view counter) {
    timer_.cancel();
    ++gen_;
    auto job = std::move(queue_.front());
    queue_.pop_front();
    busy_ = false;
    rt_.host.debug("MLLP: message " + job.message_id + " (control id " + job.control_id + "): " + what);
    rt_.host.count(counter);
    report(job.done);
    pump();
  }

  // The attempt failed at the connection level: drop the connection; retry
  // once at once on a new connection when an idle keep-alive connection had
  // gone stale, else hand the delivery back to the host to retry later.
  void failed(std::uint64_t gen, std::string reason) {
    if (gen != gen_) return;
    if (timed_out_) reason = timeout_reason_;
    const bool timed_out = timed_out_;
    timer_.cancel();
    dropLink();
    ++gen_;
    busy_ = false;
    Job& job = queue_.front();
    if (!timed_out && reused_ && !job.resent) {
      job.resent = true;
      rt_.host.debug("MLLP: reconnecting to " + rt_.settings.connect + " (" + reason + ")");
      pump();
      return;
    }
    auto done = std::move(job.done);
    const std::string message_id = job.message_id;
    queue_.pop_front();
    rt_.host.warn("MLLP: message " + message_id + " not delivered, will retry: " + reason);
    rt_.host.count("delivery_retry");
    done.retry(reason);
    pump();
  }

  void arm(std::uint64_t gen, std::chrono::milliseconds d, std::string reason) {
    timed_out_ = false;
    timeout_reason_ = std::move(reason);
    timer_.expires_after(d);
    timer_.async_wait([this, gen](boost::system::error_code ec) {
      if (ec || gen != gen_) return;
      timed_out_ = true;
      resolver_.cancel();
      if (link_) link_->close();
    });
  }

  void dropLink() {
    if (link_) link_->close();
    link_.reset();  // handlers in flight hold their own reference
  }

  Runtime& rt_;
  std::string host_, port_, server_name_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;
  mllp::FrameReader reader_;
  std::array<char, 16384> buf_{};
  std::shared_ptr<mllp::Link> link_;
  std::deque<Job> queue_;
  std::uint64_t gen_ = 0;       // bumped per attempt: completions of an earlier attempt are ignored
  std::size_t exchanges_ = 0;   // ACKs received on the current connection
  bool reused_ = false;
  bool busy_ = false;
  bool stopping_ = false;
  bool timed_out_ = false;
  std::string timeout_reason_;
};

// ---- The adapter.

// Where the TLS settings come from: [adapter.tls] as the host hands it over
// (plugin ABI 1.1), or the plugin's own tls_* keys of ABI 1.0, deprecated.
// Both at once would leave a reader unsure which certificate is presented,
// so that is refused.
void readTls(const cb::sdk::Host& host, const cb::sdk::Config& c, Settings& s) {
  static constexpr const char* kLegacyKeys[] = {"tls_certificate", "tls_private_key", "tls_ca", "tls_crl",
                                                "tls_server_name"};
  std::string legacy;
  for (const char* key : kLegacyKeys) {
    if (!c.str(key).empty()) legacy += (legacy.empty() ? "" : ", ") + std::string(key);
  }
  if (auto tls = host.tlsSettings()) {
    if (!legacy.empty()) {
      throw cb::sdk::ConfigError("TLS is configured twice: in [adapter.tls] and in [adapter.settings] (" + legacy +
                                 "); remove the deprecated settings and keep [adapter.tls]");
    }
    s.tls.certificate = tls->certificate;
    s.tls.private_key = tls->private_key;
    s.tls.ca = tls->ca;
    s.tls.crl = tls->crl;
    s.tls.pins = tls->pins;
    s.tls.from_adapter_tls = true;
    s.server_name = tls->server_name;
    return;
  }
  if (legacy.empty()) return;
  host.warn("settings " + legacy + " are deprecated and will be removed: move them to [adapter.tls] " +
            "(certificate, private_key, ca, crl, server_name; pins are available only there)");
  s.tls.certificate = c.str("tls_certificate");
  s.tls.private_key = c.str("tls_private_key");
  s.tls.ca = c.str("tls_ca");
  s.tls.crl = c.str("tls_crl");
  s.server_name = c.str("tls_server_name");
}

Settings readSettings(const cb::sdk::Host& host, const cb::sdk::Config& c) {
  Settings s;
  s.listen = c.str("listen");
  s.connect = c.str("connect");
  readTls(host, c, s);
  s.ack_timeout = c.duration("ack_timeout");
  s.connect_timeout = c.duration("connect_timeout");
  s.idle_timeout = c.duration("idle_timeout");
  const auto max_bytes = c.integer("max_message_bytes");
  const auto max_conn = c.integer("max_connections");
  if (s.listen.empty() && s.connect.empty()) throw cb::sdk::ConfigError("set listen (inbound), connect (outbound) or both");
  if (max_bytes < 64 || max_bytes > (64 << 20)) throw cb::sdk::ConfigError("max_message_bytes must be 64 .. 67108864");
  if (max_conn < 1) throw cb::sdk::ConfigError("max_connections must be at least 1");
  for (auto [key, d] : {std::pair{"ack_timeout", s.ack_timeout}, std::pair{"connect_timeout", s.connect_timeout},
                        std::pair{"idle_timeout", s.idle_timeout}}) {
    if (d.count() <= 0) throw cb::sdk::ConfigError(std::string(key) + " must be longer than 0");
  }
  s.max_message_bytes = static_cast<std::size_t>(max_bytes);
  s.max_connections = static_cast<std::size_t>(max_conn);
  const bool any_tls = !s.tls.certificate.empty() || !s.tls.private_key.empty() || !s.tls.ca.empty();
  const bool all_tls = !s.tls.certificate.empty() && !s.tls.private_key.empty() && !s.tls.ca.empty();
  if (any_tls && !all_tls) {
    // Only the deprecated keys can get here: the host requires all three in [adapter.tls].
    throw cb::sdk::ConfigError("set all of tls_certificate, tls_private_key and tls_ca (mutual TLS), or none "
                               "(plain TCP on loopback); better, use [adapter.tls]");
  }
  for (auto [key, value] : {std::pair{"listen", s.listen}, std::pair{"connect", s.connect}}) {
    if (value.empty()) continue;
    try {
      const auto [endpoint_host, endpoint_port] = mllp::splitEndpoint(value);
      if (!all_tls && !mllp::isLoopback(endpoint_host)) {
        throw cb::sdk::ConfigError(std::string(key) + ": plain MLLP is allowed on loopback only; '" + value +
                                   "' needs mutual TLS: add [adapter.tls] (certificate, private_key, ca)");
      }
    } catch (const cb::sdk::ConfigError&) {
      throw;
    } catch (const std::exception& e) {
      throw cb::sdk::ConfigError(std::string(key) + ": " + e.what());
    }
  }
  return s;
}

class Hl7v2Adapter final : public cb::sdk::Adapter {
 public:
  Hl7v2Adapter(cb::sdk::Host host, const cb::sdk::Config& config) : rt_(host, readSettings(host, config)) {
    if (rt_.settings.tls.enabled()) {
      try {
        rt_.server_tls = mllp::makeTlsContext(true, rt_.settings.tls);
        rt_.client_tls = mllp::makeTlsContext(false, rt_.settings.tls);
      } catch (const std::exception& e) {
        throw cb::sdk::ConfigError(e.what());
      }
    }
    if (!rt_.settings.connect.empty()) sender_ = std::make_unique<Sender>(rt_);
    if (!rt_.settings.listen.empty()) listener_ = std::make_unique<Listener>(rt_);
  }

  ~Hl7v2Adapter() override { stop(); }

  void start() override {
    if (listener_) listener_->open();
    std::promise<void> finished;
    finished_ = finished.get_future();
    thread_ = std::thread([this, finished = std::move(finished)]() mutable {
      for (;;) {
        try {
          rt_.io.run();
          break;
        } catch (const std::exception& e) {
          rt_.host.error(std::string("MLLP: unexpected exception on the I/O thread: ") + e.what());
        }
      }
      finished.set_value();
    });
  }

  void deliver(const cb::sdk::Delivery& d, cb::sdk::DeliveryDone&& done) override {
    if (!sender_) {
      done.fail("adapter has no `connect` address: it only receives");
      return;
    }
    auto msg = hl7::parse(d.payload, rt_.limits());
    if (!msg) {
      done.fail("payload is not an HL7 v2 message: " + msg.error().message);
      return;
    }
    Job job{mllp::frame(hl7::write(*msg)), msg->controlId(), std::string(d.message_id), std::move(done), false};
    std::lock_guard lock(mutex_);
    if (stopping_) {
      job.done.retry("adapter is stopping");
      return;
    }
    asio::post(rt_.io, [this, job = std::move(job)]() mutable { sender_->enqueue(std::move(job)); });
  }

  void stop() override {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
    }
    if (!thread_.joinable()) return;
    // 1. No new connections. 2. Messages already handed to the daemon get
    // their answer while the connections are still open (bounded wait).
    // 3. Close everything; queued deliveries go back to the host to retry.
    if (listener_) asio::post(rt_.io, [this] { listener_->closeAcceptor(); });
    {
      std::unique_lock lock(rt_.awaiting_mutex);
      rt_.awaiting_cv.wait_for(lock, 2s, [this] { return rt_.awaiting == 0; });
    }
    std::promise<void> flushed;
    auto flushed_future = flushed.get_future();
    asio::post(rt_.io, [this, &flushed] {
      if (listener_) listener_->closeAll();
      if (sender_) sender_->shutdown();
      flushed.set_value();
    });
    // ACKs posted just before closeAll may still be written; then close.
    if (flushed_future.wait_for(5s) != std::future_status::ready) rt_.io.stop();
    work_.reset();
    if (finished_.wait_for(5s) != std::future_status::ready) rt_.io.stop();
    thread_.join();
  }

 private:
  Runtime rt_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(rt_.io);
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<Sender> sender_;
  std::mutex mutex_;
  bool stopping_ = false;
  std::thread thread_;
  std::future<void> finished_;
};

}  // namespace

CB_PLUGIN(Hl7v2Adapter, "hl7v2", "1.1.0", "HL7 v2 over MLLP (mutual TLS, or plain TCP on loopback), both ways",
          CB_CAP_INBOUND | CB_CAP_OUTBOUND, kKeys)
