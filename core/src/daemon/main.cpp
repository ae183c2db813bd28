// carebridged: see daemon/daemon.h. This file only parses arguments.
#include "daemon/daemon.h"

#include <CLI/CLI.hpp>

#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"carebridged: integration daemon between council social care and NHS trust record systems"};
  std::string config = "/etc/carebridge/carebridge.toml";
  bool check = false;
  bool version = false;
  app.add_option("-c,--config", config, "configuration file (TOML)");
  app.add_flag("--check-config", check, "validate the configuration (file, plugins, settings, certificates) and exit");
  app.add_flag("--version", version, "print the version and exit");
  CLI11_PARSE(app, argc, argv);
  if (version) {
    std::cout << "carebridged " << CAREBRIDGE_VERSION << "\n";
    return 0;
  }
  if (check) {
    auto r = cb::daemon::checkConfig(config);
    if (!r) {
      std::cerr << r.error().message << "\n";
      return 1;
    }
    std::cout << *r << "\n";
    return 0;
  }
  return cb::daemon::run(cb::daemon::DaemonOptions{config});
}
