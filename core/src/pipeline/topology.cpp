#include "pipeline/topology.h"

namespace cb::pipeline {

const std::vector<RoutePlan>* Topology::routesFrom(const std::string& source) const {
  auto it = routes_by_source.find(source);
  return it == routes_by_source.end() ? nullptr : &it->second;
}

std::shared_ptr<plugin_host::Adapter> Topology::adapter(const std::string& name) const {
  auto it = adapters.find(name);
  return it == adapters.end() ? nullptr : it->second;
}

std::string Topology::organisationOf(const std::string& name) const {
  const auto* a = config ? config->adapter(name) : nullptr;
  return a != nullptr ? a->organisation : std::string();
}

config::DeliverySettings Topology::deliverySettings(const std::string& name) const {
  const auto* a = config ? config->adapter(name) : nullptr;
  return a != nullptr ? a->delivery : config::DeliverySettings{};
}

std::shared_ptr<const Topology> buildTopology(std::shared_ptr<const config::Config> config,
                                              std::map<std::string, std::shared_ptr<plugin_host::Adapter>> adapters) {
  auto t = std::make_shared<Topology>();
  t->config = config;
  t->adapters = std::move(adapters);
  auto translator = std::make_shared<const PassthroughTranslator>();
  auto policy = std::make_shared<const PassthroughPolicy>();
  auto renderer = std::make_shared<const PassthroughRenderer>();
  for (const auto& r : config->routes) {
    RoutePlan plan;
    plan.name = r.name;
    plan.mode = r.mode;
    plan.translator = translator;
    plan.policy = policy;
    plan.renderer = renderer;
    for (const auto& d : r.to) plan.destinations.push_back(Destination{r.name, d, t->organisationOf(d)});
    t->routes_by_source[r.from].push_back(std::move(plan));
  }
  return t;
}

}  // namespace cb::pipeline
