#include "pipeline/subject_key.h"

#include "common/digest.h"
#include "mapping/nhs_number.h"

#include <openssl/rand.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

namespace cb::pipeline {

Result<SubjectKeyer> SubjectKeyer::load(const std::filesystem::path& key_file) {
  std::ifstream in(key_file, std::ios::binary);
  if (!in) return fail(key_file.string() + ": cannot read the identity key");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string hex = ss.str();
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r' || hex.back() == ' ')) hex.pop_back();
  std::string secret;
  if (!fromHex(hex, secret) || secret.size() < 32) {
    return fail(key_file.string() + ": the identity key must be at least 32 bytes written as hex");
  }
  return SubjectKeyer(std::move(secret));
}

Result<SubjectKeyer> SubjectKeyer::loadOrCreate(const std::filesystem::path& key_file) {
  std::error_code ec;
  if (std::filesystem::exists(key_file, ec)) return load(key_file);
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return fail("cannot generate an identity key: no randomness");
  std::filesystem::create_directories(key_file.parent_path(), ec);
  const std::string hex = toHex(std::span<const std::uint8_t>(raw, sizeof raw));
  const std::filesystem::path tmp = key_file.string() + ".tmp";
  {
    const mode_t old = umask(077);
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    umask(old);
    out << hex << "\n";
    if (!out) return fail(key_file.string() + ": cannot write the identity key");
  }
  std::filesystem::rename(tmp, key_file, ec);
  if (ec) return fail(key_file.string() + ": cannot write the identity key: " + ec.message());
  return load(key_file);
}

std::string SubjectKeyer::key(std::string_view kind, std::string_view identifier) const {
  if (identifier.empty()) return {};
  std::string data;
  data.reserve(kind.size() + 1 + identifier.size());
  data.append(kind).push_back(':');
  data.append(identifier);
  return toHex(hmacSha256(secret_, data));
}

Result<std::string> SubjectKeyer::nhsNumberKey(std::string_view nhs_number) const {
  const auto check = mapping::checkNhsNumber(nhs_number);
  if (!check.valid()) return fail("not a valid NHS number (" + std::string(mapping::describe(check.status)) + ")");
  return key("nhs", check.digits);
}

Result<std::string> SubjectKeyer::localIdKey(std::string_view system_and_id) const {
  const auto colon = system_and_id.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == system_and_id.size()) {
    return fail("write it as SYSTEM:ID (for example mosaic:123456)");
  }
  return key("local:" + std::string(system_and_id.substr(0, colon)), system_and_id.substr(colon + 1));
}

}  // namespace cb::pipeline
