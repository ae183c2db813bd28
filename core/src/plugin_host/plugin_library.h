#pragma once
// One adapter plugin shared library, loaded with dlopen and checked against
// the host's plugin ABI before anything in it is called (after PostgreSQL's
// PG_MODULE_MAGIC: refuse to load on an ABI mismatch, with a message naming
// the plugin and both versions).

#include "common/result.h"

#include <carebridge/plugin_abi.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace cb::plugin_host {

/// A declared setting of a plugin (its config_map).
struct SettingSpec {
  std::string key;
  cb_config_type type = CB_CONFIG_STRING;
  bool required = false;
  std::string default_value;
  std::string help;
};

class PluginLibrary {
 public:
  /// Opens `path`, calls its entry point and checks the ABI. `expected_name`
  /// is the name the config used; the plugin must report the same name.
  static Result<std::shared_ptr<PluginLibrary>> load(const std::filesystem::path& path, const std::string& expected_name);
  ~PluginLibrary();
  PluginLibrary(const PluginLibrary&) = delete;
  PluginLibrary& operator=(const PluginLibrary&) = delete;

  const cb_plugin& api() const { return *plugin_; }
  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }
  const std::string& description() const { return description_; }
  bool canReceive() const { return (plugin_->capabilities & CB_CAP_INBOUND) != 0; }
  bool canDeliver() const { return (plugin_->capabilities & CB_CAP_OUTBOUND) != 0 && plugin_->deliver != nullptr; }
  const std::vector<SettingSpec>& settings() const { return settings_; }
  const std::filesystem::path& path() const { return path_; }
  /// SHA-256 of the library file, recorded in the audit trail when loaded.
  const std::string& sha256() const { return sha256_; }
  std::string abiVersion() const;

 private:
  PluginLibrary() = default;
  void* handle_ = nullptr;
  const cb_plugin* plugin_ = nullptr;
  std::string name_, version_, description_, sha256_;
  std::filesystem::path path_;
  std::vector<SettingSpec> settings_;
};

/// Path of a plugin named `name` in `dir`: <dir>/libcarebridge_<name>.so
std::filesystem::path pluginPath(const std::filesystem::path& dir, const std::string& name);

}  // namespace cb::plugin_host
