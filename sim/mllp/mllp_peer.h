#pragma once
// Both ends of an MLLP conversation, for the simulator (carebridge-mllp-sim)
// and the tests: a blocking sender that sends ER7 messages and returns the
// ACK, and a receiver that accepts messages on a thread of its own and
// answers AA (or AE, AR, CA, nothing at all, as told). Plain TCP or mutual
// TLS, with the framing and TLS policy of plugins/hl7v2 (mllp.h, mllp_link.h).

#include "mllp.h"
#include "mllp_link.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace cb::sim {

/// What an ACK says, read leniently (MSA-1, MSA-2, the first error text).
struct AckSummary {
  std::string code;        ///< MSA-1: AA, AE, AR, CA, CE, CR; "" when unreadable
  std::string control_id;  ///< MSA-2: the control id acknowledged
  std::string text;        ///< ERR-8, ERR-3.2 or MSA-3, whichever is present first
  std::string raw;         ///< the ACK as received
};

/// Reads an ACK; code "" when it is not a readable HL7 v2 ACK.
AckSummary summariseAck(const std::string& er7);

/// The MSH-10 of an ER7 message, or "" when it has none.
std::string controlIdOf(const std::string& er7);

/// A sending partner system. Blocking; one connection, kept open between
/// messages and reopened when it breaks. Not thread-safe.
class MllpSender {
 public:
  MllpSender(std::string endpoint, mllp::TlsFiles tls = {}, std::string server_name = {});
  ~MllpSender();
  MllpSender(const MllpSender&) = delete;
  MllpSender& operator=(const MllpSender&) = delete;

  /// Sends `message` in one frame and waits for one frame back. nullopt when
  /// no ACK came within `timeout` or the connection failed (see lastError()).
  std::optional<std::string> send(const std::string& message,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Writes bytes as they are (no framing), e.g. a frame cut in half.
  bool sendRaw(const std::string& bytes, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Waits for one frame.
  std::optional<std::string> receive(std::chrono::milliseconds timeout);
  /// True when the peer has closed the connection (checks without blocking long).
  bool closedByPeer(std::chrono::milliseconds wait = std::chrono::milliseconds(200));
  void close();
  const std::string& lastError() const { return error_; }

 private:
  bool ensureConnected(std::chrono::milliseconds timeout);
  bool runUntil(const bool& finished, std::chrono::steady_clock::time_point deadline);

  std::string endpoint_, host_, port_, server_name_;
  boost::asio::io_context io_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  boost::asio::ssl::context plain_{boost::asio::ssl::context::tls};
  std::unique_ptr<mllp::Link> link_;
  mllp::FrameReader reader_{64u << 20};
  std::string error_;
};

/// A receiving partner system on its own thread.
class MllpReceiver {
 public:
  /// How to answer: AA, AE, AR, CA, or Silent (read and never answer).
  enum class Answer { AA, AE, AR, CA, Silent };
  struct Received {
    std::string control_id;
    std::string message;
    std::string peer_cn;
  };
  using Observer = std::function<void(const Received&, const std::string& answered)>;
  /// Decides the answer to one message before it is sent (e.g. AA only once
  /// the message is safely stored, AE when storing failed); called on the
  /// receiver's thread. Without one, setAnswer() decides.
  using Decider = std::function<Answer(const Received&)>;

  /// Listens on `endpoint` ("127.0.0.1:0" picks a port). Throws std::runtime_error.
  explicit MllpReceiver(const std::string& endpoint, mllp::TlsFiles tls = {}, Observer observer = {},
                        Decider decider = {});
  ~MllpReceiver();
  MllpReceiver(const MllpReceiver&) = delete;
  MllpReceiver& operator=(const MllpReceiver&) = delete;

  std::uint16_t port() const { return port_; }
  void setAnswer(Answer a) { answer_ = a; }
  /// Closes every open connection (the next message needs a new one).
  void dropConnections();

  std::vector<Received> received() const;
  /// Distinct control ids received.
  std::size_t distinct() const;
  /// Messages received again under a control id seen before.
  std::size_t repeats() const;
  std::size_t tlsRefused() const { return tls_refused_; }
  std::size_t connections() const { return connections_; }
  bool waitFor(std::size_t distinct, std::chrono::milliseconds timeout) const;
  void stop();

 private:
  class Session;
  void accept();

  boost::asio::io_context io_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  boost::asio::ssl::context plain_{boost::asio::ssl::context::tls};
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<Answer> answer_{Answer::AA};
  Observer observer_;
  Decider decider_;
  std::atomic<std::size_t> tls_refused_{0}, connections_{0};
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  std::vector<Received> received_;
  std::set<std::string> ids_;
  std::size_t repeats_ = 0;
  std::vector<std::weak_ptr<Session>> sessions_;
  std::thread thread_;
};

}  // namespace cb::sim
