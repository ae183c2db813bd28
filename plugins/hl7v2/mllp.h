#pragma once
// MLLP, the Minimal Lower Layer Protocol that carries HL7 v2 messages over a
// byte stream (HL7 v2.5.1 Appendix C.4 "Minimal Lower Layer Protocol", and
// the HL7 MLLP Release 2 transport specification):
//
//   <VT 0x0B> message bytes <FS 0x1C><CR 0x0D>
//
// One frame carries one message (or one ACK). Bytes between frames are
// noise and are ignored. Header-only so that the plugin, the simulator and
// the tests frame messages with the same code.

#include <cstddef>
#include <string>
#include <string_view>

namespace cb::mllp {

inline constexpr char kStartBlock = '\x0B';
inline constexpr char kEndBlock = '\x1C';
inline constexpr char kCarriageReturn = '\x0D';

/// Wraps one message in an MLLP frame.
inline std::string frame(std::string_view message) {
  std::string out;
  out.reserve(message.size() + 3);
  out += kStartBlock;
  out += message;
  out += kEndBlock;
  out += kCarriageReturn;
  return out;
}

/// Splits a byte stream into frames. Feed it what the socket read, then call
/// next() until it says NeedMore. A frame longer than `max_bytes` is not kept
/// whole: next() reports Oversize with the frame's first `max_bytes` bytes
/// (enough to read its MSH and answer), and the rest of it is skipped.
class FrameReader {
 public:
  enum class Event { NeedMore, Frame, Oversize };

  explicit FrameReader(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  void feed(std::string_view bytes) { pending_.append(bytes); }

  /// Takes the next complete frame into `out` (replacing its content).
  Event next(std::string& out) {
    while (!pending_.empty()) {
      if (!in_frame_) {
        const auto start = pending_.find(kStartBlock);
        if (start == std::string::npos) {
          pending_.clear();  // noise between frames
          return Event::NeedMore;
        }
        pending_.erase(0, start + 1);
        in_frame_ = true;
        oversize_ = false;
        body_.clear();
        continue;
      }
      const auto end = pending_.find("\x1C\x0D");
      if (end == std::string::npos) {
        // Keep a trailing FS: its CR may come with the next read.
        const std::size_t take = pending_.back() == kEndBlock ? pending_.size() - 1 : pending_.size();
        append(std::string_view(pending_).substr(0, take));
        pending_.erase(0, take);
        return Event::NeedMore;
      }
      append(std::string_view(pending_).substr(0, end));
      pending_.erase(0, end + 2);
      in_frame_ = false;
      out.swap(body_);
      body_.clear();
      return oversize_ ? Event::Oversize : Event::Frame;
    }
    return Event::NeedMore;
  }

  /// True while a frame has started but not ended.
  bool inFrame() const { return in_frame_; }

 private:
  void append(std::string_view part) {
    if (oversize_) return;
    if (body_.size() + part.size() > max_bytes_) {
      body_.append(part.substr(0, max_bytes_ - body_.size()));
      oversize_ = true;
      return;
    }
    body_.append(part);
  }

  std::size_t max_bytes_;
  std::string pending_;
  std::string body_;
  bool in_frame_ = false;
  bool oversize_ = false;
};

}  // namespace cb::mllp
