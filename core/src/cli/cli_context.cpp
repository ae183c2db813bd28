#include "cli/cli_context.h"

#include <cstdlib>

namespace cb::cli {

Result<std::shared_ptr<const config::Config>> CliContext::config() const { return config::load(config_file); }

Result<std::unique_ptr<store::Store>> CliContext::openStore() const {
  auto c = config();
  if (!c) return c.error();
  std::error_code ec;
  if (!std::filesystem::exists((*c)->store.path, ec)) {
    return fail((*c)->store.path.string() + ": no store yet (has carebridged run with this configuration?)");
  }
  store::StoreOptions o;
  o.path = (*c)->store.path;
  o.synchronous_full = (*c)->store.synchronous_full;
  return store::Store::open(o);
}

audit::Actor CliContext::actor(const std::string& role) const {
  std::string who = user;
  if (who.empty()) {
    if (const char* s = std::getenv("SUDO_USER")) who = s;
  }
  if (who.empty()) {
    if (const char* u = std::getenv("USER")) who = u;
  }
  if (who.empty()) who = "unknown";
  return audit::Actor::person(who, "", role);
}

}  // namespace cb::cli
