// Driver for the `mesh` plugin: the load and configuration checks (and only
// where the plugin is built: required() is false). Its receive and deliver
// checks need a driver standing up a MESH mailbox (the MESH test server of
// tests/plugins/mesh); see README.md.
#include "conformance.h"

namespace cb::conformance {
namespace {

class MeshDriver final : public PluginDriver {
 public:
  std::string plugin() const override { return "mesh"; }
  bool required() const override { return false; }

  std::vector<BadSettings> badSettings(Harness& h) override {
    test::writeFile(h.dir() / "mesh-password", "password\n");
    test::writeFile(h.dir() / "mesh-shared-key", "TestKey\n");
    auto spec = [&](std::map<std::string, std::string> extra) {
      std::map<std::string, std::string> s = {{"url", "https://localhost:1"},
                                              {"mailbox", "X26HC005"},
                                              {"password_file", (h.dir() / "mesh-password").string()},
                                              {"shared_key_file", (h.dir() / "mesh-shared-key").string()},
                                              {"receive", "true"}};
      for (auto& [k, v] : extra) s[k] = v;
      return AdapterSpec{s, h.tls("carebridge")};
    };
    return {{spec({{"url", "http://localhost:1"}}), "url"},
            {spec({{"mailbox", "x26hc005"}}), "mailbox"},
            {spec({{"password_file", (h.dir() / "missing").string()}}), "password_file"},
            {spec({{"to_mailbox", "X26HC006"}}), "workflow_id"}};
  }
};

}  // namespace

CB_CONFORMANCE_DRIVER(mesh, MeshDriver);

}  // namespace cb::conformance
