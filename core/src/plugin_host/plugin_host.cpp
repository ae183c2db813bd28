#include "plugin_host/plugin_host.h"

#include "common/digest.h"

#include <fstream>
#include <sstream>

namespace cb::plugin_host {
namespace fs = std::filesystem;

namespace {

const char* typeName(cb_config_type t) {
  switch (t) {
    case CB_CONFIG_STRING: return "a string";
    case CB_CONFIG_INT: return "an integer";
    case CB_CONFIG_BOOL: return "true or false";
    case CB_CONFIG_DURATION_MS: return "a duration such as \"30s\"";
    case CB_CONFIG_PATH: return "a file path";
    case CB_CONFIG_ENDPOINT: return "\"host:port\"";
  }
  return "a value";
}

// Converts one written value to the canonical text for its declared type.
Result<std::string> canonical(const SettingSpec& spec, const config::SettingValue& v, const fs::path& base_dir) {
  switch (spec.type) {
    case CB_CONFIG_STRING:
      if (!v.is_string) return fail("must be " + std::string(typeName(spec.type)));
      return v.value;
    case CB_CONFIG_INT:
      if (!v.is_integer) return fail("must be " + std::string(typeName(spec.type)));
      return v.value;
    case CB_CONFIG_BOOL:
      if (!v.is_bool) return fail("must be " + std::string(typeName(spec.type)));
      return v.value;
    case CB_CONFIG_DURATION_MS: {
      if (!v.is_string && !v.is_integer) return fail("must be " + std::string(typeName(spec.type)));
      auto d = config::parseDuration(v.value);
      if (!d) return d.error();
      return std::to_string(d->count());
    }
    case CB_CONFIG_PATH: {
      if (!v.is_string || v.value.empty()) return fail("must be " + std::string(typeName(spec.type)));
      fs::path p(v.value);
      if (p.is_relative()) p = base_dir / p;
      return p.lexically_normal().string();
    }
    case CB_CONFIG_ENDPOINT: {
      if (!v.is_string) return fail("must be " + std::string(typeName(spec.type)));
      auto ep = net::parseEndpoint(v.value);
      if (!ep) return ep.error();
      return v.value;
    }
  }
  return fail("unknown setting type");
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

PluginHost::PluginHost(fs::path plugin_dir, fs::path cache_dir)
    : plugin_dir_(std::move(plugin_dir)), cache_dir_(std::move(cache_dir)) {}

Result<std::shared_ptr<PluginLibrary>> PluginHost::library(const std::string& name) {
  const fs::path original = pluginPath(plugin_dir_, name);
  std::error_code ec;
  if (!fs::exists(original, ec)) {
    return fail("plugin '" + name + "': " + original.string() + " not found (check daemon.plugin_dir)");
  }
  const std::string bytes = readFile(original);
  const std::string digest = toHex(sha256(bytes));
  std::lock_guard lock(mutex_);
  auto& slot = loaded_[digest];
  if (auto lib = slot.lock()) return lib;
  fs::path path = original;
  if (!cache_dir_.empty()) {
    fs::create_directories(cache_dir_, ec);
    path = cache_dir_ / ("libcarebridge_" + name + "-" + digest.substr(0, 16) + ".so");
    if (!fs::exists(path, ec)) {
      const fs::path tmp = path.string() + ".tmp";
      {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!out) return fail("plugin '" + name + "': cannot write a private copy to " + cache_dir_.string());
      }
      fs::rename(tmp, path, ec);
      if (ec) return fail("plugin '" + name + "': cannot place a private copy in " + cache_dir_.string());
    }
  }
  auto lib = PluginLibrary::load(path, name);
  if (!lib) return lib.error();
  slot = *lib;
  return lib;
}

Result<std::vector<std::pair<std::string, std::string>>> PluginHost::resolveSettings(
    const PluginLibrary& lib, const config::AdapterSettings& adapter, const fs::path& base_dir) const {
  std::vector<std::string> errors;
  std::vector<std::pair<std::string, std::string>> out;
  const std::string who = "adapter '" + adapter.name + "': settings.";
  for (const auto& [key, value] : adapter.settings) {
    bool known = false;
    for (const auto& spec : lib.settings()) known = known || spec.key == key;
    if (!known) {
      std::string allowed;
      for (const auto& spec : lib.settings()) allowed += (allowed.empty() ? "" : ", ") + spec.key;
      errors.push_back(value.where.str() + ": " + who + key + ": unknown key for plugin '" + lib.name() +
                       "' (allowed: " + (allowed.empty() ? "none" : allowed) + ")");
    }
  }
  for (const auto& spec : lib.settings()) {
    auto it = adapter.settings.find(spec.key);
    if (it == adapter.settings.end()) {
      if (spec.required) {
        errors.push_back(adapter.where.str() + ": " + who + spec.key + ": required by plugin '" + lib.name() + "' (" +
                         spec.help + ")");
        continue;
      }
      if (spec.type == CB_CONFIG_DURATION_MS || spec.type == CB_CONFIG_PATH) {
        config::SettingValue def{spec.default_value, true, false, false, adapter.where};
        if (spec.default_value.empty()) {
          out.emplace_back(spec.key, "");
          continue;
        }
        auto c = canonical(spec, def, base_dir);
        if (!c) {
          errors.push_back("plugin '" + lib.name() + "': default of " + spec.key + ": " + c.error().message);
          continue;
        }
        out.emplace_back(spec.key, *c);
      } else {
        out.emplace_back(spec.key, spec.default_value);
      }
      continue;
    }
    auto c = canonical(spec, it->second, base_dir);
    if (!c) {
      errors.push_back(it->second.where.str() + ": " + who + spec.key + ": " + c.error().message);
      continue;
    }
    out.emplace_back(spec.key, *c);
  }
  if (!errors.empty()) {
    std::string all;
    for (const auto& e : errors) all += (all.empty() ? "" : "\n") + e;
    return fail(all);
  }
  return out;
}

Status PluginHost::validate(const config::Config& config) {
  std::vector<std::string> errors;
  std::map<std::string, std::shared_ptr<PluginLibrary>> libs;
  for (const auto& a : config.adapters) {
    auto lib = library(a.plugin);
    if (!lib) {
      errors.push_back(a.where.str() + ": adapter '" + a.name + "': " + lib.error().message);
      continue;
    }
    libs[a.name] = *lib;
    if (auto s = resolveSettings(**lib, a, config.base_dir); !s) errors.push_back(s.error().message);
  }
  for (const auto& r : config.routes) {
    if (auto it = libs.find(r.from); it != libs.end() && !it->second->canReceive()) {
      errors.push_back(r.where.str() + ": route '" + r.name + "': from: adapter '" + r.from + "' (plugin '" +
                       it->second->name() + "') cannot receive records");
    }
    for (const auto& d : r.to) {
      if (auto it = libs.find(d); it != libs.end() && !it->second->canDeliver()) {
        errors.push_back(r.where.str() + ": route '" + r.name + "': to: adapter '" + d + "' (plugin '" +
                         it->second->name() + "') cannot deliver records");
      }
    }
  }
  if (!errors.empty()) {
    std::string all;
    for (const auto& e : errors) all += (all.empty() ? "" : "\n") + e;
    return fail(all);
  }
  return {};
}

}  // namespace cb::plugin_host
