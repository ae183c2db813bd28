#pragma once
// A MESH server for the mesh adapter's tests, following the public MESH API
// (github.com/NHSDigital/mesh-api-specification, specification/mesh-api.yaml):
// HTTPS with mutual TLS on loopback (the development "server" certificate,
// clients verified against the development CA), built on carebridge's own
// net layer, with mailboxes kept in memory.
//
// It checks the NHSMESH Authorization header of every request: the scheme,
// a known mailbox (the one in the path), the HMAC-SHA256 with the shared key
// and the mailbox's password, a timestamp within 2 hours of its own clock,
// a (nonce, nonce count) pair never used before, and a nonce not expired by
// expireTokens(). Refusals are 403 with a MESH error body.
//
// Endpoints: handshake (GET or POST /messageexchange/{mailbox}), inbox
// (GET .../inbox), download (GET .../inbox/{id} and .../inbox/{id}/{chunk},
// 206 + Mex-Chunk-Range while chunks remain), acknowledgement
// (PUT .../inbox/{id}/status/acknowledged), send (POST .../outbox, with
// Mex-Chunk-Range 1:N, then POST .../outbox/{id}/{n}), tracking
// (GET .../outbox/tracking?localID= or ?messageID=), endpoint lookup
// (GET /messageexchange/endpointlookup/{ods}/{workflow}).

#include "net/https_server.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace cb::test {

class MeshTestServer {
 public:
  struct Request {
    std::string method;
    std::string target;
    std::vector<net::HttpHeader> headers;
    std::string body;
    std::string peer_cn;
    unsigned status = 0;  ///< what the server answered
    const std::string* header(std::string_view name) const { return net::findHeader(headers, name); }
  };

  struct Message {
    std::string id;
    std::string from, to, workflow, local_id, subject, file_name, content_type;
    std::string message_type = "DATA";
    std::vector<std::string> chunks;  ///< received so far
    std::size_t chunk_count = 1;      ///< announced with Mex-Chunk-Range (1 if not chunked)
    bool acknowledged = false;
    std::vector<net::HttpHeader> report_headers;  ///< for a REPORT: Mex-LinkedMsgID, Mex-StatusCode, ...
    bool complete() const { return chunks.size() == chunk_count; }
    std::string payload() const;
  };

  /// Listens on 127.0.0.1:0 with `<certs>/<cert_name>.pem`.
  MeshTestServer(boost::asio::io_context& io, const std::filesystem::path& certs, std::string shared_key,
                 const std::string& cert_name = "server");
  ~MeshTestServer();

  std::uint16_t port() const;
  /// "https://localhost:<port>"
  std::string url() const;

  void addMailbox(const std::string& mailbox, const std::string& password);
  /// Registers `mailbox` as the endpoint of ODS code `ods` for `workflow`.
  void addEndpoint(const std::string& ods, const std::string& workflow, const std::string& mailbox);

  /// Puts a message into `to`'s inbox as if `from` had sent it, in the given
  /// chunks; returns its MESH id.
  std::string post(const std::string& from, const std::string& to, const std::string& workflow,
                   std::vector<std::string> chunks, const std::string& content_type = "application/octet-stream",
                   const std::string& local_id = "");
  /// Puts an error report into `to`'s inbox about message `linked` (local id `local_id`).
  std::string postReport(const std::string& to, const std::string& linked, const std::string& local_id);

  /// Every nonce seen so far is expired: a token using it gets 403.
  void expireTokens();
  /// Moves the server's clock (for the 2-hour timestamp window).
  void setClockOffset(std::chrono::minutes offset);

  /// The next request whose method is `method` and whose target contains
  /// `target_part` (after its token was accepted) gets this answer.
  void script(const std::string& method, const std::string& target_part, net::HttpResponse response);
  /// While hanging, requests are held unanswered (until hang(false) or destruction).
  void hang(bool on);

  std::vector<Request> requests() const;
  std::vector<std::string> authRefusals() const;
  std::size_t handshakes() const;
  /// Messages sent from `mailbox` (complete or not), oldest first.
  std::vector<Message> sentFrom(const std::string& mailbox) const;
  std::optional<Message> message(const std::string& id) const;
  bool acknowledged(const std::string& id) const;
  /// Waits until `pred` holds (checked after every request) or the timeout.
  bool waitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) const;
  void stop();

 private:
  net::HttpResponse handle(Request& r);
  std::optional<std::string> checkAuth(const Request& r, const std::string& path_mailbox);
  std::string newId();
  std::int64_t nowMs() const;

  std::unique_ptr<net::HttpsServer> server_;
  std::string shared_key_;
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  std::map<std::string, std::string> passwords_;
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> endpoints_;
  std::vector<Message> messages_;
  std::map<std::string, std::set<std::string>> used_;  // nonce -> counts used
  std::set<std::string> expired_;
  std::chrono::minutes offset_{0};
  struct Scripted {
    std::string method, target_part;
    net::HttpResponse response;
  };
  std::deque<Scripted> scripted_;
  std::vector<Request> requests_;
  std::vector<std::string> auth_refusals_;
  std::vector<net::Responder> held_;
  bool hang_ = false;
  std::size_t handshakes_ = 0;
  std::size_t next_id_ = 0;
};

}  // namespace cb::test
