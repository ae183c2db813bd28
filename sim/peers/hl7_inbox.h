#pragma once
// RiO's HL7 v2 inbound interface as a simulator: accepts messages over MLLP
// (plain or mutual TLS), writes each one to a folder, and only then answers
// AA (HL7 v2.5.1 chapter 2.9, original acknowledgment mode: the receiver
// accepts responsibility once it has safe-stored the message); AE when it
// could not be written.

#include "mllp_peer.h"

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace cb::sim {

class Hl7Inbox {
 public:
  struct Options {
    std::string listen = "127.0.0.1:0";
    mllp::TlsFiles tls;                    ///< empty: plain MLLP (loopback use)
    std::filesystem::path save_dir;        ///< each message as <control id>.hl7 (atomically)
    /// One line per message: "hl7 received <control id> <MSH-9> AA saved <file> from <peer CN>".
    std::function<void(const std::string&)> log;
  };
  /// Listens at once. Throws std::runtime_error when it cannot.
  explicit Hl7Inbox(Options options);
  ~Hl7Inbox();
  Hl7Inbox(const Hl7Inbox&) = delete;
  Hl7Inbox& operator=(const Hl7Inbox&) = delete;

  std::uint16_t port() const;
  /// Distinct control ids received.
  std::size_t distinct() const;
  bool waitFor(std::size_t distinct, std::chrono::milliseconds timeout) const;
  void stop();

  /// MSH-9 as "ADT^A28" (first two components), or "" when unreadable.
  static std::string messageTypeOf(const std::string& er7);

 private:
  Options options_;
  std::unique_ptr<MllpReceiver> receiver_;
};

}  // namespace cb::sim
