#include "hl7v2_test_support.h"

#include <gtest/gtest.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace cb::codec::hl7v2::test {
namespace {

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = s.find(sep, start);
    out.emplace_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

std::string join(std::vector<std::string> parts, char sep) {
  while (!parts.empty() && parts.back().empty()) parts.pop_back();
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += sep;
    out += parts[i];
  }
  return out;
}

}  // namespace

std::filesystem::path referenceHl7Dir() {
  const char* dir = std::getenv("CB_REFERENCE_DIR");
  return std::filesystem::path(dir != nullptr && *dir != '\0' ? dir : CB_DEFAULT_REFERENCE_DIR) / "hl7v2";
}

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> xpath(const _xmlDoc* doc, const std::string& expr) {
  std::vector<std::string> values;
  xmlXPathContextPtr ctx = xmlXPathNewContext(const_cast<xmlDocPtr>(doc));
  xmlXPathRegisterNs(ctx, reinterpret_cast<const xmlChar*>("v"), reinterpret_cast<const xmlChar*>("urn:hl7-org:v2xml"));
  xmlXPathObjectPtr result = xmlXPathEvalExpression(reinterpret_cast<const xmlChar*>(expr.c_str()), ctx);
  EXPECT_NE(result, nullptr) << "bad XPath " << expr;
  if (result != nullptr && result->type == XPATH_NODESET && result->nodesetval != nullptr) {
    for (int i = 0; i < result->nodesetval->nodeNr; ++i) {
      xmlChar* s = xmlXPathCastNodeToString(result->nodesetval->nodeTab[i]);
      values.emplace_back(reinterpret_cast<const char*>(s));
      xmlFree(s);
    }
  } else if (result != nullptr) {
    xmlChar* s = xmlXPathCastToString(result);
    values.emplace_back(reinterpret_cast<const char*>(s));
    xmlFree(s);
  }
  xmlXPathFreeObject(result);
  xmlXPathFreeContext(ctx);
  return values;
}

std::string normaliseEr7(std::string_view bytes) {
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
  std::vector<std::string> lines;
  std::string current;
  for (const char c : bytes) {
    if (c == '\r' || c == '\n') {
      if (!current.empty()) lines.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) lines.push_back(current);
  if (lines.empty() || lines[0].size() < 8) return {};
  const char fs = lines[0][3];
  const std::size_t enc_end = lines[0].find(fs, 4);
  const std::string enc = lines[0].substr(4, enc_end == std::string::npos ? std::string::npos : enc_end - 4);
  const char comp = enc[0];
  const char rep = enc[1];
  const char sub = enc[3];

  std::string out;
  for (std::size_t l = 0; l < lines.size(); ++l) {
    const std::string& line = lines[l];
    std::string head = line.substr(0, 3);
    std::string rest;
    if (l == 0) {
      head += fs;
      head += enc;
      rest = enc_end == std::string::npos ? "" : line.substr(enc_end);  // keeps the leading separator
    } else {
      rest = line.substr(3);
    }
    std::vector<std::string> fields = split(rest, fs);  // fields[0] is "" (text before the first separator)
    for (std::string& f : fields) {
      std::vector<std::string> reps = split(f, rep);
      for (std::string& r : reps) {
        std::vector<std::string> comps = split(r, comp);
        for (std::string& c : comps) c = join(split(c, sub), sub);
        r = join(comps, comp);
      }
      f = join(reps, rep);
    }
    out += head + join(fields, fs) + '\r';
  }
  return out;
}

}  // namespace cb::codec::hl7v2::test
