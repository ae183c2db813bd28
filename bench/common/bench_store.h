#pragma once
// A store for a benchmark to write to: a real SQLite file, in the folder the
// user named (kept afterwards) or in a fresh folder under the system's temp
// folder (removed when the benchmark is done).
#include <filesystem>
#include <memory>
#include <string>

#include "common/result.h"
#include "store/store.h"

namespace cb::bench {

class BenchStore {
 public:
  /// Opens `file_name` in `dir`, or, if `dir` is empty, in a new folder
  /// named `<prefix>-XXXXXX` under the temp folder.
  static Result<BenchStore> open(std::filesystem::path dir, const std::string& prefix, const std::string& file_name,
                                 bool synchronous_full);
  BenchStore(BenchStore&& other) noexcept
      : store_(std::move(other.store_)), dir_(std::move(other.dir_)), temporary_(other.temporary_) {
    other.temporary_ = false;  // the folder is this one's to remove now
  }
  BenchStore& operator=(BenchStore&&) = delete;
  BenchStore(const BenchStore&) = delete;
  /// Closes the store, then removes the folder if it was made for the run.
  ~BenchStore();

  store::Store& store() { return *store_; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  BenchStore() = default;
  std::unique_ptr<store::Store> store_;
  std::filesystem::path dir_;
  bool temporary_ = false;
};

}  // namespace cb::bench
