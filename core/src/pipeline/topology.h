#pragma once
// The routing snapshot the pipeline works from: the configuration, the
// running adapter instances, and for each inbound adapter the routes and
// stage implementations its records go through. Immutable; a reload builds
// a new one and swaps it in whole (TopologyHolder), so a record is always
// routed entirely under one configuration.

#include "config/config.h"
#include "pipeline/mapped_stages.h"
#include "pipeline/stages.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace cb::plugin_host {
class Adapter;
}

namespace cb::pipeline {

struct RoutePlan {
  std::string name;
  config::RouteSettings::Mode mode = config::RouteSettings::Mode::Passthrough;
  std::shared_ptr<const Translator> translator;
  std::shared_ptr<const SharingPolicy> policy;
  std::shared_ptr<const Renderer> renderer;
  std::vector<Destination> destinations;
  /// Canonical record types the route carries (mapped routes); empty = all.
  std::vector<std::string> record_types;

  /// Whether a record of canonical type `type` travels on this route.
  bool carries(const std::string& type) const;
};

struct Topology {
  std::shared_ptr<const config::Config> config;
  std::map<std::string, std::shared_ptr<plugin_host::Adapter>> adapters;
  std::map<std::string, std::vector<RoutePlan>> routes_by_source;
  StageResources resources;  ///< keeps mapped routes' mappings and agreements alive

  /// The routes for records from `source`, or nullptr if it has none.
  const std::vector<RoutePlan>* routesFrom(const std::string& source) const;
  std::shared_ptr<plugin_host::Adapter> adapter(const std::string& name) const;
  std::string organisationOf(const std::string& adapter) const;
  /// Delivery settings of an outbound adapter (defaults if unknown).
  config::DeliverySettings deliverySettings(const std::string& adapter) const;
};

/// Builds the route plans for a config and its adapters: passthrough routes
/// get the passthrough stages, mapped routes the mapping and agreement
/// stages over `resources` (loaded for the same config by
/// loadStageResources). `keyer` must outlive the topology.
std::shared_ptr<const Topology> buildTopology(std::shared_ptr<const config::Config> config,
                                              std::map<std::string, std::shared_ptr<plugin_host::Adapter>> adapters,
                                              const StageResources& resources = {}, const SubjectKeyer* keyer = nullptr);

/// Holds the current topology; readers take a reference that stays valid
/// even if a reload swaps in a new one meanwhile.
class TopologyHolder {
 public:
  std::shared_ptr<const Topology> get() const {
    std::lock_guard lock(mutex_);
    return current_;
  }
  void set(std::shared_ptr<const Topology> t) {
    std::lock_guard lock(mutex_);
    current_ = std::move(t);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Topology> current_;
};

}  // namespace cb::pipeline
