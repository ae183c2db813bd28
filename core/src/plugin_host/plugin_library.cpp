#include "plugin_host/plugin_library.h"

#include "common/digest.h"

#include <dlfcn.h>

#include <fstream>
#include <sstream>

namespace cb::plugin_host {
namespace {

// The host's view of the ABI structs must match what plugins compile
// against; appending fields is the only permitted change (STYLE.md).
static_assert(offsetof(cb_plugin, struct_size) == 0);
static_assert(offsetof(cb_plugin, abi_major) == 4);
static_assert(offsetof(cb_plugin, abi_minor) == 6);
static_assert(offsetof(cb_plugin, name) == 8);
static_assert(offsetof(cb_plugin, create) == 56);
static_assert(sizeof(cb_plugin) == 96);
static_assert(sizeof(cb_bytes) == 16);
static_assert(offsetof(cb_inbound_record, payload) == 72);
static_assert(sizeof(cb_inbound_record) == 88);
static_assert(offsetof(cb_delivery, attempt) == 88);
static_assert(sizeof(cb_delivery) == 96);
static_assert(sizeof(cb_delivery_result) == 48);
static_assert(offsetof(cb_host_api, log) == 8);
static_assert(offsetof(cb_host_api, count) == 64);
// ABI 1.1 appended tls_settings; a 1.0 plugin never reads past `count`.
static_assert(offsetof(cb_host_api, tls_settings) == 72);
static_assert(sizeof(cb_host_api) == 80);
static_assert(offsetof(cb_tls_settings, certificate) == 8);
static_assert(offsetof(cb_tls_settings, pins) == 88);
static_assert(sizeof(cb_tls_settings) == 104);
static_assert(sizeof(cb_http_request) == 104);
static_assert(sizeof(cb_http_result) == 64);

std::string fileDigest(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return toHex(sha256(ss.str()));
}

}  // namespace

std::filesystem::path pluginPath(const std::filesystem::path& dir, const std::string& name) {
  return dir / ("libcarebridge_" + name + ".so");
}

std::string PluginLibrary::abiVersion() const {
  return std::to_string(plugin_->abi_major) + "." + std::to_string(plugin_->abi_minor);
}

Result<std::shared_ptr<PluginLibrary>> PluginLibrary::load(const std::filesystem::path& path,
                                                          const std::string& expected_name) {
  const std::string who = "plugin '" + expected_name + "' (" + path.string() + ")";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return fail(who + ": file not found");
  std::shared_ptr<PluginLibrary> lib(new PluginLibrary());
  lib->path_ = path;
  // RTLD_LOCAL: each plugin keeps its own symbols (two plugins may embed
  // different versions of a library); RTLD_NOW: fail here, not mid-delivery.
  lib->handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib->handle_ == nullptr) {
    const char* err = dlerror();
    return fail(who + ": cannot load: " + std::string(err != nullptr ? err : "unknown dlopen error"));
  }
  void* sym = dlsym(lib->handle_, CB_PLUGIN_ENTRY_SYMBOL);
  if (sym == nullptr) {
    return fail(who + ": not a carebridge plugin (no exported '" CB_PLUGIN_ENTRY_SYMBOL "' entry point)");
  }
  auto entry = reinterpret_cast<cb_plugin_entry_fn>(sym);
  const cb_plugin* p = nullptr;
  try {
    p = entry(CB_PLUGIN_ABI_MAJOR, CB_PLUGIN_ABI_MINOR);
  } catch (...) {
    return fail(who + ": its entry point threw an exception");
  }
  if (p == nullptr) {
    return fail(who + ": the plugin declined to load under this carebridged's plugin ABI " +
                std::to_string(CB_PLUGIN_ABI_MAJOR) + "." + std::to_string(CB_PLUGIN_ABI_MINOR));
  }
  // Read the version before trusting struct_size: the first 8 bytes are the
  // same in every ABI version.
  const std::string host_abi = std::to_string(CB_PLUGIN_ABI_MAJOR) + "." + std::to_string(CB_PLUGIN_ABI_MINOR);
  const std::string plugin_abi = std::to_string(p->abi_major) + "." + std::to_string(p->abi_minor);
  if (p->abi_major != CB_PLUGIN_ABI_MAJOR) {
    return fail(who + ": built for plugin ABI " + plugin_abi + " but this carebridged speaks plugin ABI " + host_abi +
                " (major versions differ); rebuild the plugin against carebridge's plugin_abi.h " +
                std::to_string(CB_PLUGIN_ABI_MAJOR) + ".x");
  }
  if (p->abi_minor > CB_PLUGIN_ABI_MINOR) {
    return fail(who + ": built for plugin ABI " + plugin_abi + ", newer than this carebridged's " + host_abi +
                "; upgrade carebridged or rebuild the plugin against ABI " + host_abi);
  }
  if (p->struct_size < sizeof(cb_plugin)) {
    return fail(who + ": its cb_plugin struct is " + std::to_string(p->struct_size) + " bytes, expected at least " +
                std::to_string(sizeof(cb_plugin)) + " for ABI " + plugin_abi);
  }
  if (p->name == nullptr || expected_name != p->name) {
    return fail(who + ": the library calls itself '" + std::string(p->name != nullptr ? p->name : "") +
                "', not '" + expected_name + "'");
  }
  if (p->create == nullptr || p->start == nullptr || p->stop == nullptr || p->destroy == nullptr) {
    return fail(who + ": incomplete plugin (create, start, stop and destroy are required)");
  }
  if ((p->capabilities & CB_CAP_OUTBOUND) != 0 && p->deliver == nullptr) {
    return fail(who + ": declares it can deliver but has no deliver function");
  }
  lib->plugin_ = p;
  lib->name_ = p->name;
  lib->version_ = p->version != nullptr ? p->version : "";
  lib->description_ = p->description != nullptr ? p->description : "";
  for (uint32_t i = 0; i < p->config_key_count; ++i) {
    const cb_config_key& k = p->config_keys[i];
    if (k.key == nullptr) return fail(who + ": config key #" + std::to_string(i) + " has no name");
    if (k.type > CB_CONFIG_ENDPOINT) {
      return fail(who + ": config key '" + std::string(k.key) + "' has unknown type " + std::to_string(k.type));
    }
    SettingSpec s;
    s.key = k.key;
    s.type = static_cast<cb_config_type>(k.type);
    s.required = k.default_value == nullptr;
    s.default_value = k.default_value != nullptr ? k.default_value : "";
    s.help = k.help != nullptr ? k.help : "";
    lib->settings_.push_back(std::move(s));
  }
  lib->sha256_ = fileDigest(path);
  return lib;
}

PluginLibrary::~PluginLibrary() {
  if (handle_ != nullptr) dlclose(handle_);
}

}  // namespace cb::plugin_host
