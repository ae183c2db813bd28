#pragma once
// Both sides of a watched-folder exchange, as the file-based seed systems
// play them: an export job that writes each record into a folder so that a
// reader never sees half a file, and an import job that takes the complete
// files carebridge dropped, checks each is in the system's import format, and
// files it under imported/ or rejected/ (with the reason beside it).

#include "systems/records.h"

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace cb::sim {

/// Writes `bytes` to `dir`/`name` so that the name only ever holds the whole
/// file: first `name`.part (which carebridge's filedrop adapter ignores),
/// fsync, rename over `name`, fsync the folder (rename(2) is atomic within a
/// file system; the folder's fsync makes the new name durable).
/// `before_rename`, when given, runs with the .part path just before the
/// rename (tests use it to look at the folder mid-write). Returns "" or the
/// reason it failed (naming the path).
std::string writeFileAtomically(const std::filesystem::path& dir, const std::string& name, std::string_view bytes,
                                const std::function<void(const std::filesystem::path&)>& before_rename = {});

/// "" when `bytes` is a document `system` imports (Mosaic and LAS: well-formed
/// XML with one of the import roots their outbound mappings write; AIS: CSV
/// with a header whose first column is "Record Type" and at least one row),
/// else why not. Never quotes the content.
std::string checkImportFormat(SeedSystem system, std::string_view bytes);

/// What the import job did with one file.
struct ImportOutcome {
  std::string file;     ///< the name it had in the folder
  bool imported = false;
  std::string reason;   ///< why it was rejected
  std::string moved_to;  ///< where it went
};

/// One pass over `dir`: every complete file (not hidden, not *.part, *.tmp,
/// *.partial, *.filepart, not a .done/.ok marker) is checked and moved to
/// `dir`/imported/ or `dir`/rejected/ (with NAME.reason.txt), a marker beside
/// it going along. A name already taken there gets .1, .2, ... appended.
/// Files come in name order.
std::vector<ImportOutcome> importPass(SeedSystem system, const std::filesystem::path& dir);

}  // namespace cb::sim
