#pragma once
// Finds and loads adapter plugins, and checks each configured adapter's
// settings against what its plugin declares (unknown keys, wrong types and
// missing required keys are errors naming file:line).
//
// Reload: a plugin is loaded from a private copy named by the library's
// SHA-256 (in `cache_dir`), so an operator can replace a plugin file and
// SIGHUP: the new code is loaded beside the old, and the old copy is
// unloaded once its instances have stopped.

#include "common/result.h"
#include "config/config.h"
#include "plugin_host/plugin_library.h"

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace cb::plugin_host {

class PluginHost {
 public:
  /// `cache_dir` empty: load libraries in place (for --check-config and the CLI).
  PluginHost(std::filesystem::path plugin_dir, std::filesystem::path cache_dir = {});

  /// The library for plugin `name`, loaded once per distinct file content.
  Result<std::shared_ptr<PluginLibrary>> library(const std::string& name);

  /// Validates every adapter against its plugin, and that routes take from
  /// adapters that can receive and deliver to adapters that can deliver.
  /// Returns every problem found, one per line.
  Status validate(const config::Config& config);

  /// The adapter's settings as the plugin will receive them: declared keys
  /// only, defaults filled in, durations in ms, paths resolved.
  Result<std::vector<std::pair<std::string, std::string>>> resolveSettings(const PluginLibrary& lib,
                                                                           const config::AdapterSettings& adapter,
                                                                           const std::filesystem::path& base_dir) const;

  const std::filesystem::path& pluginDir() const { return plugin_dir_; }

 private:
  std::filesystem::path plugin_dir_;
  std::filesystem::path cache_dir_;
  std::mutex mutex_;
  std::map<std::string, std::weak_ptr<PluginLibrary>> loaded_;  // by content digest
};

}  // namespace cb::plugin_host
