#include "peers/hl7_inbox.h"

#include "peers/file_drop.h"

#include <map>
#include <memory>
#include <mutex>

namespace cb::sim {

namespace {

// A control id as a file name: anything but letters, digits, '-' and '_' becomes '_'.
std::string fileNameFor(const std::string& control_id) {
  std::string s = control_id.empty() ? std::string("no-control-id") : control_id.substr(0, 100);
  for (char& c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) c = '_';
  }
  return s + ".hl7";
}

}  // namespace

std::string Hl7Inbox::messageTypeOf(const std::string& er7) {
  // MSH-1 is the field separator itself (at offset 3) and MSH-2 follows it,
  // so MSH-9 starts after the 7th separator from there.
  if (er7.size() < 8 || er7.compare(0, 3, "MSH") != 0) return {};
  const char fs = er7[3];
  const char cs = er7.size() > 4 ? er7[4] : '^';
  std::size_t at = 3;
  for (int i = 0; i < 7 && at != std::string::npos; ++i) at = er7.find(fs, at + 1);
  if (at == std::string::npos) return {};
  const std::size_t end = er7.find_first_of(std::string(1, fs) + "\r", at + 1);
  const std::string field = er7.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
  const std::size_t first = field.find(cs);
  if (first == std::string::npos) return field;
  const std::size_t second = field.find(cs, first + 1);
  return field.substr(0, second);
}

Hl7Inbox::Hl7Inbox(Options options) : options_(std::move(options)) {
  if (!options_.save_dir.empty()) std::filesystem::create_directories(options_.save_dir);
  // The decider runs before the ACK is built: the message is written (and
  // fsynced) first, and AA goes back only if that worked, else AE so the
  // sender keeps it and sends it again. The observer then logs the outcome.
  auto saved = std::make_shared<std::map<std::string, std::string>>();
  auto saved_mutex = std::make_shared<std::mutex>();
  auto decide = [this, saved, saved_mutex](const MllpReceiver::Received& r) {
    std::string where = "-";
    bool ok = true;
    if (!options_.save_dir.empty()) {
      const std::string name = fileNameFor(r.control_id);
      ok = writeFileAtomically(options_.save_dir, name, r.message).empty();
      where = ok ? (options_.save_dir / name).string() : "failed";
    }
    std::lock_guard lock(*saved_mutex);
    (*saved)[r.control_id] = where;
    return ok ? MllpReceiver::Answer::AA : MllpReceiver::Answer::AE;
  };
  auto observe = [this, saved, saved_mutex](const MllpReceiver::Received& r, const std::string& answered) {
    std::string where;
    {
      std::lock_guard lock(*saved_mutex);
      where = (*saved)[r.control_id];
      saved->erase(r.control_id);
    }
    if (options_.log) {
      const std::string type = messageTypeOf(r.message);
      options_.log("hl7 received " + (r.control_id.empty() ? std::string("-") : r.control_id) + " " +
                   (type.empty() ? std::string("?") : type) + " " + answered + " saved " + where + " from " +
                   (r.peer_cn.empty() ? std::string("-") : r.peer_cn));
    }
  };
  receiver_ = std::make_unique<MllpReceiver>(options_.listen, options_.tls, observe, decide);
}

Hl7Inbox::~Hl7Inbox() { stop(); }
std::uint16_t Hl7Inbox::port() const { return receiver_->port(); }
std::size_t Hl7Inbox::distinct() const { return receiver_->distinct(); }
bool Hl7Inbox::waitFor(std::size_t n, std::chrono::milliseconds timeout) const { return receiver_->waitFor(n, timeout); }
void Hl7Inbox::stop() {
  if (receiver_) receiver_->stop();
}

}  // namespace cb::sim
