#pragma once
// Keyed hashes of people's identifiers. The store and the audit trail never
// hold an NHS number or local id in the clear: they hold
// HMAC-SHA-256(site key, "nhs:" + number), so the store alone does not list
// who is in it, yet a lookup by NHS number (a subject access request) works
// for whoever holds the site key. The key lives in a file outside the store.

#include "common/result.h"

#include <filesystem>
#include <string>
#include <string_view>

namespace cb::pipeline {

class SubjectKeyer {
 public:
  /// Loads the site key from `key_file`, creating a new random 32-byte key
  /// (mode 0600) if the file does not exist yet.
  static Result<SubjectKeyer> loadOrCreate(const std::filesystem::path& key_file);
  /// Loads an existing key only (the CLI must not invent a different key).
  static Result<SubjectKeyer> load(const std::filesystem::path& key_file);

  /// The keyed hash (hex) of an identifier in a namespace ("nhs", "local:<system>",
  /// "subject" for an adapter-supplied ordering subject). Empty identifier -> "".
  std::string key(std::string_view kind, std::string_view identifier) const;

  /// The keyed hash of an NHS number as a person typed it (spaces allowed),
  /// after the Modulus 11 check; the error never repeats the number.
  Result<std::string> nhsNumberKey(std::string_view nhs_number) const;
  /// The keyed hash of a local id written "SYSTEM:ID" (e.g. mosaic:123456).
  Result<std::string> localIdKey(std::string_view system_and_id) const;

 private:
  explicit SubjectKeyer(std::string secret) : secret_(std::move(secret)) {}
  std::string secret_;
};

}  // namespace cb::pipeline
