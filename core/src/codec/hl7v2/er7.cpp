#include "codec/hl7v2/er7.h"

#include <algorithm>
#include <charconv>
#include <utility>

namespace cb::codec::hl7v2 {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

bool isUpperOrDigit(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool isAlnum(char c) { return isUpperOrDigit(c) || (c >= 'a' && c <= 'z'); }

// A segment id is three characters, the first a letter (v2.5.1 2.5: "Each
// segment begins with a three-character literal value"; Z for local ones).
bool isSegmentId(std::string_view id) {
  return id.size() == 3 && id[0] >= 'A' && id[0] <= 'Z' && isUpperOrDigit(id[1]) && isUpperOrDigit(id[2]);
}

bool isBatchSegment(std::string_view id) { return id == "FHS" || id == "BHS" || id == "BTS" || id == "FTS"; }

// Control characters other than TAB cannot appear in HL7 v2 text unescaped
// (v2.5.1 2.7: other bytes travel as \Xhh\), MLLP framing bytes in a value
// mean a framing error, and none of them can be carried in XML 1.0.
bool isForbiddenControl(unsigned char c) { return c < 0x20 && c != '\t'; }

std::string describeByte(unsigned char c) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string s = "0x";
  s += kHex[c >> 4];
  s += kHex[c & 0xF];
  return s;
}

std::string where(std::size_t segment_number, std::string_view id) {
  std::string s = "HL7 v2: segment " + std::to_string(segment_number);
  if (isSegmentId(id)) s += " (" + std::string(id) + ")";
  return s;
}

Status checkDelimiterChar(char c, std::string_view what) {
  const auto u = static_cast<unsigned char>(c);
  if (isAlnum(c) || c == ' ' || u < 0x20 || u >= 0x7F) {
    return fail("HL7 v2: segment 1 (MSH): " + std::string(what) + " is " + describeByte(u) +
                "; delimiters must be printable ASCII punctuation (v2.5.1 Chapter 2, 2.5)");
  }
  return {};
}

// Splits `text` on `sep`, calling `each` for every piece; stops early when
// `each` returns false.
template <class Fn>
bool forEachPiece(std::string_view text, char sep, Fn&& each) {
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(sep, start);
    const std::string_view piece = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (!each(piece)) return false;
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}

// Turns the text of one field into a Field, enforcing the per-level limits
// and the message-wide item budget before anything is allocated.
class FieldSplitter {
 public:
  FieldSplitter(const Delimiters& d, const ParseLimits& limits) : d_(d), limits_(limits) {}

  Result<Field> split(std::string_view text, std::size_t segment_number, std::string_view id, std::size_t field_number) {
    Field field;
    if (text.empty()) return field;
    const auto here = [&] { return where(segment_number, id) + " field " + std::to_string(field_number); };
    if (static_cast<std::size_t>(std::count(text.begin(), text.end(), d_.repetition)) + 1 > limits_.max_repetitions) {
      return fail(here() + ": more than " + std::to_string(limits_.max_repetitions) +
                  " repetitions (ParseLimits::max_repetitions)");
    }
    std::string error;
    std::size_t rep_number = 0;
    forEachPiece(text, d_.repetition, [&](std::string_view rep_text) {
      ++rep_number;
      if (!take(1)) {
        error = budgetError();
        return false;
      }
      Repetition& rep = field.emplace_back();
      if (rep_text.empty()) return true;
      const auto components = static_cast<std::size_t>(std::count(rep_text.begin(), rep_text.end(), d_.component)) + 1;
      if (components > limits_.max_components) {
        error = here() + " repetition " + std::to_string(rep_number) + ": more than " +
                std::to_string(limits_.max_components) + " components (ParseLimits::max_components)";
        return false;
      }
      rep.reserve(components);
      std::size_t comp_number = 0;
      return forEachPiece(rep_text, d_.component, [&](std::string_view comp_text) {
        ++comp_number;
        if (!take(1)) {
          error = budgetError();
          return false;
        }
        Component& comp = rep.emplace_back();
        if (comp_text.empty()) return true;
        const auto subs = static_cast<std::size_t>(std::count(comp_text.begin(), comp_text.end(), d_.subcomponent)) + 1;
        if (subs > limits_.max_subcomponents) {
          error = here() + " repetition " + std::to_string(rep_number) + " component " + std::to_string(comp_number) +
                  ": more than " + std::to_string(limits_.max_subcomponents) +
                  " sub-components (ParseLimits::max_subcomponents)";
          return false;
        }
        if (!take(subs)) {
          error = budgetError();
          return false;
        }
        comp.reserve(subs);
        forEachPiece(comp_text, d_.subcomponent, [&](std::string_view sub) {
          comp.emplace_back(sub);
          return true;
        });
        return true;
      });
    });
    if (!error.empty()) return fail(std::move(error));
    return field;
  }

  bool take(std::size_t n) {
    if (items_ + n > limits_.max_items) return false;
    items_ += n;
    return true;
  }

  std::string budgetError() const {
    return "HL7 v2: refused: more than " + std::to_string(limits_.max_items) +
           " fields, repetitions, components and sub-components in one message (ParseLimits::max_items)";
  }

 private:
  const Delimiters& d_;
  const ParseLimits& limits_;
  std::size_t items_ = 0;
};

const std::string* leafAt(const Segment& seg, std::size_t field, std::size_t rep, std::size_t comp, std::size_t sub) {
  if (field == 0 || field > seg.fields.size()) return nullptr;
  const Field& f = seg.fields[field - 1];
  if (rep == 0 || rep > f.size()) return nullptr;
  const Repetition& r = f[rep - 1];
  if (comp == 0 || comp > r.size()) return nullptr;
  const Component& c = r[comp - 1];
  if (sub == 0 || sub > c.size()) return nullptr;
  return &c[sub - 1];
}

// The header fields every message must carry for us to route and acknowledge
// it (v2.5.1 2.15.9: MSH-9, MSH-10 and MSH-12 are required).
Status checkHeader(const Segment& msh) {
  struct Required {
    std::size_t field;
    const char* what;
  };
  static constexpr Required kRequired[] = {
      {9, "MSH-9 (message type)"}, {10, "MSH-10 (message control id)"}, {12, "MSH-12 (version id)"}};
  for (const auto& r : kRequired) {
    const std::string* v = leafAt(msh, r.field, 1, 1, 1);
    if (v == nullptr || v->empty()) {
      return fail("HL7 v2: segment 1 (MSH): truncated or incomplete header: " + std::string(r.what) +
                  " is missing; a message needs MSH-9.1, MSH-10 and MSH-12 to be routed and acknowledged");
    }
  }
  return {};
}

Status checkSegmentId(std::string_view id, std::size_t segment_number) {
  if (!isSegmentId(id)) {
    return fail(where(segment_number, "") +
                ": segment id must be three upper-case letters or digits followed by the field separator");
  }
  if (isBatchSegment(id)) {
    return fail(where(segment_number, id) +
                ": batch header or trailer; batches are not accepted, split them into single messages first");
  }
  if (id == "MSH" && segment_number != 1) {
    return fail(where(segment_number, id) + ": a second MSH; the input holds more than one message");
  }
  return {};
}

// Parses the header segment's first two fields and returns the delimiters
// and where MSH-3 starts (npos when the segment ends after MSH-2).
struct HeaderStart {
  Delimiters delimiters;
  std::string encoding;
  std::size_t rest = std::string_view::npos;
};

Result<HeaderStart> readHeaderStart(std::string_view line) {
  if (line.size() < 4) return fail("HL7 v2: segment 1 (MSH): truncated before MSH-1 (field separator)");
  const char fs = line[3];
  std::size_t end = 4;
  while (end < line.size() && line[end] != fs) ++end;
  const std::string_view msh2 = line.substr(4, end - 4);
  auto delimiters = delimitersFrom(line.substr(3, 1), msh2);
  if (!delimiters) return std::move(delimiters).error();
  HeaderStart h{*delimiters, std::string(msh2), end < line.size() ? end + 1 : std::string_view::npos};
  return h;
}

// Parses "PID", "OBX[3]" and "5", "3[2]" etc. for Message::value().
bool readIndex(std::string_view& s, std::size_t& out) {
  std::size_t n = 0;
  const auto* begin = s.data();
  const auto [ptr, ec] = std::from_chars(begin, begin + s.size(), n);
  if (ec != std::errc() || ptr == begin || n == 0) return false;
  out = n;
  s.remove_prefix(static_cast<std::size_t>(ptr - begin));
  return true;
}

bool readBracket(std::string_view& s, std::size_t& out) {
  if (s.empty() || s.front() != '[') return true;
  s.remove_prefix(1);
  if (!readIndex(s, out) || s.empty() || s.front() != ']') return false;
  s.remove_prefix(1);
  return true;
}

}  // namespace

std::string Delimiters::encodingCharacters() const {
  std::string s{component, repetition, escape, subcomponent};
  if (truncation != '\0') s += truncation;
  return s;
}

Result<Delimiters> delimitersFrom(std::string_view msh1, std::string_view msh2) {
  if (msh1.size() != 1) return fail("HL7 v2: segment 1 (MSH): MSH-1 must be exactly one character (the field separator)");
  if (msh2.size() < 4) {
    return fail("HL7 v2: segment 1 (MSH): truncated MSH-2: " + std::to_string(msh2.size()) +
                " encoding characters, need 4 (component, repetition, escape, sub-component)");
  }
  if (msh2.size() > 5) {
    return fail("HL7 v2: segment 1 (MSH): MSH-2 has " + std::to_string(msh2.size()) +
                " characters; at most 5 (component, repetition, escape, sub-component, truncation)");
  }
  Delimiters d;
  d.field = msh1[0];
  d.component = msh2[0];
  d.repetition = msh2[1];
  d.escape = msh2[2];
  d.subcomponent = msh2[3];
  d.truncation = msh2.size() == 5 ? msh2[4] : '\0';
  if (auto s = checkDelimiterChar(d.field, "MSH-1 (field separator)"); !s) return std::move(s).error();
  static constexpr const char* kNames[] = {"MSH-2 component separator", "MSH-2 repetition separator",
                                           "MSH-2 escape character", "MSH-2 sub-component separator",
                                           "MSH-2 truncation character"};
  for (std::size_t i = 0; i < msh2.size(); ++i) {
    if (auto s = checkDelimiterChar(msh2[i], kNames[i]); !s) return std::move(s).error();
  }
  const std::string all = std::string(1, d.field) + std::string(msh2);
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (all.find(all[i], i + 1) != std::string::npos) {
      return fail("HL7 v2: segment 1 (MSH): MSH-1 and MSH-2 repeat a character; each delimiter must be distinct");
    }
  }
  return d;
}

Message::Message(Delimiters delimiters, std::vector<Segment> segments)
    : delimiters_(delimiters), segments_(std::move(segments)) {}

Result<Message> Message::assemble(Delimiters d, std::vector<Segment> segments) {
  if (auto check = delimitersFrom(std::string_view(&d.field, 1), d.encodingCharacters()); !check) {
    return std::move(check).error();
  }
  if (segments.empty() || segments.front().id != "MSH") {
    return fail("HL7 v2: segment 1: a message must start with an MSH segment");
  }
  const Segment& msh = segments.front();
  const std::string* msh1 = leafAt(msh, 1, 1, 1, 1);
  const std::string* msh2 = leafAt(msh, 2, 1, 1, 1);
  if (msh1 == nullptr || *msh1 != std::string(1, d.field) || msh2 == nullptr || *msh2 != d.encodingCharacters() ||
      msh.fields[0].size() != 1 || msh.fields[1].size() != 1 || msh.fields[0][0].size() != 1 ||
      msh.fields[1][0].size() != 1 || msh.fields[0][0][0].size() != 1 || msh.fields[1][0][0].size() != 1) {
    return fail("HL7 v2: segment 1 (MSH): MSH-1 and MSH-2 must hold exactly the message's delimiters");
  }
  const std::string structural{d.field, d.component, d.repetition, d.subcomponent};
  for (std::size_t s = 0; s < segments.size(); ++s) {
    const Segment& seg = segments[s];
    if (auto ok = checkSegmentId(seg.id, s + 1); !ok) return std::move(ok).error();
    for (std::size_t f = 0; f < seg.fields.size(); ++f) {
      if (s == 0 && f < 2) continue;  // MSH-1 and MSH-2 are the delimiters themselves
      for (const Repetition& rep : seg.fields[f]) {
        for (const Component& comp : rep) {
          for (const std::string& value : comp) {
            for (const char c : value) {
              const auto u = static_cast<unsigned char>(c);
              if (structural.find(c) != std::string::npos || u == '\r' || u == '\n' || isForbiddenControl(u)) {
                return fail(where(s + 1, seg.id) + " field " + std::to_string(f + 1) + ": a value holds " +
                            (structural.find(c) != std::string::npos ? "a delimiter" : describeByte(u)) +
                            "; encode values with encode() before assembling");
              }
            }
          }
        }
      }
    }
  }
  if (auto ok = checkHeader(msh); !ok) return std::move(ok).error();
  return Message(d, std::move(segments));
}

Result<Message> parse(std::string_view in, const ParseLimits& limits) {
  if (in.empty()) return fail("HL7 v2: refused: empty input");
  if (in.size() > limits.max_bytes) {
    return fail("HL7 v2: refused: " + std::to_string(in.size()) + " bytes exceeds the limit of " +
                std::to_string(limits.max_bytes) + " (ParseLimits::max_bytes)");
  }
  if (in.starts_with(kBom)) in.remove_prefix(kBom.size());
  while (!in.empty() && (in.front() == '\r' || in.front() == '\n')) in.remove_prefix(1);
  if (in.empty()) return fail("HL7 v2: refused: no segments in the input");

  const std::string_view first_id = in.substr(0, 3);
  if (first_id != "MSH") {
    if (isBatchSegment(first_id)) {
      return fail("HL7 v2: segment 1 (" + std::string(first_id) +
                  "): batches are not accepted, split them into single messages first");
    }
    return fail(std::string("HL7 v2: refused: the input does not start with an MSH segment") +
                (isSegmentId(first_id) ? " (it starts with " + std::string(first_id) + ")" : " (nor with a segment id)"));
  }

  const std::size_t first_end = in.find_first_of("\r\n");
  auto header = readHeaderStart(in.substr(0, first_end));
  if (!header) return std::move(header).error();
  const Delimiters d = header->delimiters;

  FieldSplitter splitter(d, limits);
  std::vector<Segment> segments;
  std::size_t segment_number = 0;
  std::size_t pos = 0;
  while (pos < in.size()) {
    std::size_t end = in.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) end = in.size();
    const std::string_view line = in.substr(pos, end - pos);
    pos = end + 1;
    // CR, LF and CRLF all end a segment; the empty "lines" this leaves (and
    // blank lines between segments) are skipped.
    if (line.empty()) continue;

    ++segment_number;
    if (segment_number > limits.max_segments) {
      return fail("HL7 v2: refused: more than " + std::to_string(limits.max_segments) +
                  " segments (ParseLimits::max_segments)");
    }
    const std::string_view id = line.substr(0, 3);
    if (auto ok = checkSegmentId(id, segment_number); !ok) return std::move(ok).error();
    if (line.size() > 3 && line[3] != d.field) {
      return fail(where(segment_number, id) + ": segment id must be followed by the field separator");
    }
    for (std::size_t i = 3; i < line.size(); ++i) {
      const auto u = static_cast<unsigned char>(line[i]);
      if (isForbiddenControl(u)) {
        auto field_number = static_cast<std::size_t>(std::count(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(i), d.field));
        if (segment_number == 1) ++field_number;  // MSH-1 is the separator itself
        return fail(where(segment_number, id) + " field " + std::to_string(field_number) + ": control character " +
                    describeByte(u) + " is not allowed in a value (send it as an \\X" + describeByte(u).substr(2) +
                    "\\ escape)");
      }
    }

    Segment& seg = segments.emplace_back();
    seg.id = std::string(id);
    std::string_view rest;
    std::size_t field_number = 0;
    bool has_rest = false;
    if (segment_number == 1) {
      // MSH-1 is the field separator and MSH-2 the encoding characters
      // (v2.5.1 2.15.9): both are literal values, never split.
      if (!splitter.take(2)) return fail(splitter.budgetError());
      seg.fields.push_back(Field{Repetition{Component{std::string(1, d.field)}}});
      seg.fields.push_back(Field{Repetition{Component{header->encoding}}});
      field_number = 2;
      if (header->rest != std::string_view::npos) {
        rest = line.substr(header->rest);
        has_rest = true;
      }
    } else if (line.size() > 3) {
      rest = line.substr(4);
      has_rest = true;
    }
    if (!has_rest) continue;
    const auto fields = static_cast<std::size_t>(std::count(rest.begin(), rest.end(), d.field)) + 1 + field_number;
    if (fields > limits.max_fields) {
      return fail(where(segment_number, id) + ": more than " + std::to_string(limits.max_fields) +
                  " fields (ParseLimits::max_fields)");
    }
    seg.fields.reserve(fields);
    std::string error;
    forEachPiece(rest, d.field, [&](std::string_view text) {
      ++field_number;
      if (!splitter.take(1)) {
        error = splitter.budgetError();
        return false;
      }
      auto field = splitter.split(text, segment_number, id, field_number);
      if (!field) {
        error = std::move(field).error().message;
        return false;
      }
      seg.fields.push_back(std::move(*field));
      return true;
    });
    if (!error.empty()) return fail(std::move(error));
  }

  if (auto ok = checkHeader(segments.front()); !ok) return std::move(ok).error();
  return Message(d, std::move(segments));
}

std::string write(const Message& message) {
  const Delimiters& d = message.delimiters();
  std::string out;
  const auto writeField = [&](const Field& field) {
    for (std::size_t r = 0; r < field.size(); ++r) {
      if (r > 0) out += d.repetition;
      for (std::size_t c = 0; c < field[r].size(); ++c) {
        if (c > 0) out += d.component;
        for (std::size_t s = 0; s < field[r][c].size(); ++s) {
          if (s > 0) out += d.subcomponent;
          out += field[r][c][s];
        }
      }
    }
  };
  for (const Segment& seg : message.segments()) {
    out += seg.id;
    std::size_t first = 0;
    if (seg.id == "MSH" && seg.fields.size() >= 2) {
      out += d.field;
      out += d.encodingCharacters();
      first = 2;
    }
    for (std::size_t f = first; f < seg.fields.size(); ++f) {
      out += d.field;
      writeField(seg.fields[f]);
    }
    out += '\r';
  }
  return out;
}

const Segment* Message::segment(std::string_view id, std::size_t occurrence) const {
  std::size_t seen = 0;
  for (const Segment& seg : segments_) {
    if (seg.id == id && ++seen == occurrence) return &seg;
  }
  return nullptr;
}

MessageType Message::messageType() const {
  const Segment& msh = segments_.front();
  const auto get = [&](std::size_t comp) {
    const std::string* v = leafAt(msh, 9, 1, comp, 1);
    return v == nullptr ? std::string() : decode(*v, delimiters_);
  };
  return MessageType{get(1), get(2), get(3)};
}

std::string Message::controlId() const { return decode(*leafAt(segments_.front(), 10, 1, 1, 1), delimiters_); }

std::string Message::version() const { return decode(*leafAt(segments_.front(), 12, 1, 1, 1), delimiters_); }

std::string Message::characterSet() const {
  const std::string* v = leafAt(segments_.front(), 18, 1, 1, 1);
  return v == nullptr ? std::string() : decode(*v, delimiters_);
}

Result<std::string> Message::value(std::string_view path) const {
  const auto bad = [&] {
    return fail("HL7 v2: malformed path '" + std::string(path) +
                "'; expected SEG[-occurrence]-FIELD[[repetition]][.COMPONENT[.SUBCOMPONENT]], e.g. PID-5.1 or OBX[2]-5");
  };
  std::string_view s = path;
  if (s.size() < 3 || !isSegmentId(s.substr(0, 3))) return bad();
  const std::string_view id = s.substr(0, 3);
  s.remove_prefix(3);
  std::size_t occurrence = 1;
  std::size_t field = 0;
  std::size_t rep = 1;
  std::size_t comp = 1;
  std::size_t sub = 1;
  if (!readBracket(s, occurrence)) return bad();
  if (s.empty() || s.front() != '-') return bad();
  s.remove_prefix(1);
  if (!readIndex(s, field) || !readBracket(s, rep)) return bad();
  if (!s.empty()) {
    if (s.front() != '.') return bad();
    s.remove_prefix(1);
    if (!readIndex(s, comp)) return bad();
    if (!s.empty()) {
      if (s.front() != '.') return bad();
      s.remove_prefix(1);
      if (!readIndex(s, sub) || !s.empty()) return bad();
    }
  }
  const Segment* seg = segment(id, occurrence);
  if (seg == nullptr) return std::string();
  const std::string* v = leafAt(*seg, field, rep, comp, sub);
  if (v == nullptr) return std::string();
  if (seg == &segments_.front() && field <= 2) return *v;  // MSH-1, MSH-2 are literal
  return decode(*v, delimiters_);
}

std::vector<TextRun> decodeRuns(std::string_view encoded, const Delimiters& d) {
  std::vector<TextRun> runs;
  const auto text = [&]() -> std::string& {
    if (runs.empty() || runs.back().kind != TextRun::Kind::Text) runs.push_back({TextRun::Kind::Text, {}});
    return runs.back().text;
  };
  std::size_t pos = 0;
  while (pos < encoded.size()) {
    const std::size_t open = encoded.find(d.escape, pos);
    if (open == std::string_view::npos) {
      text() += encoded.substr(pos);
      break;
    }
    if (open > pos) text() += encoded.substr(pos, open - pos);
    const std::size_t close = encoded.find(d.escape, open + 1);
    if (close == std::string_view::npos) {
      // No closing escape character: a sender that did not escape a literal
      // one. Taking it literally loses nothing the sender meant.
      text() += encoded.substr(open);
      break;
    }
    const std::string_view contents = encoded.substr(open + 1, close - open - 1);
    // The delimiter escapes of v2.5.1 2.7.1 stand for the delimiter characters
    // themselves; everything else is kept as an escape run.
    if (contents == "F") {
      text() += d.field;
    } else if (contents == "S") {
      text() += d.component;
    } else if (contents == "T") {
      text() += d.subcomponent;
    } else if (contents == "R") {
      text() += d.repetition;
    } else if (contents == "E") {
      text() += d.escape;
    } else {
      runs.push_back({TextRun::Kind::Escape, std::string(contents)});
    }
    pos = close + 1;
  }
  return runs;
}

std::string decode(std::string_view encoded, const Delimiters& d) {
  if (encoded.find(d.escape) == std::string_view::npos) return std::string(encoded);
  std::string out;
  for (const TextRun& run : decodeRuns(encoded, d)) {
    if (run.kind == TextRun::Kind::Text) {
      out += run.text;
    } else {
      out += d.escape;
      out += run.text;
      out += d.escape;
    }
  }
  return out;
}

std::string encode(std::string_view text, const Delimiters& d) {
  std::string out;
  out.reserve(text.size());
  const auto esc = [&](std::string_view contents) {
    out += d.escape;
    out += contents;
    out += d.escape;
  };
  for (const char c : text) {
    if (c == d.field) {
      esc("F");
    } else if (c == d.component) {
      esc("S");
    } else if (c == d.subcomponent) {
      esc("T");
    } else if (c == d.repetition) {
      esc("R");
    } else if (c == d.escape) {
      esc("E");
    } else if (c == '\r') {
      esc("X0D");
    } else if (c == '\n') {
      esc("X0A");
    } else {
      out += c;
    }
  }
  return out;
}

Result<std::string> encodeEscape(std::string_view contents, const Delimiters& d) {
  const std::string forbidden{d.field, d.component, d.repetition, d.subcomponent, d.escape};
  for (const char c : contents) {
    const auto u = static_cast<unsigned char>(c);
    if (forbidden.find(c) != std::string::npos || u == '\r' || u == '\n' || isForbiddenControl(u)) {
      return fail("HL7 v2: an escape sequence may not contain a delimiter, the escape character or a control character");
    }
  }
  std::string out;
  out += d.escape;
  out += contents;
  out += d.escape;
  return out;
}

}  // namespace cb::codec::hl7v2
