#include "pipeline/topology.h"

#include <algorithm>

namespace cb::pipeline {

bool RoutePlan::carries(const std::string& type) const {
  return record_types.empty() || std::find(record_types.begin(), record_types.end(), type) != record_types.end();
}

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
                                              std::map<std::string, std::shared_ptr<plugin_host::Adapter>> adapters,
                                              const StageResources& resources, const SubjectKeyer* keyer) {
  auto t = std::make_shared<Topology>();
  t->config = config;
  t->adapters = std::move(adapters);
  t->resources = resources;
  const auto systemOf = [&](const std::string& adapter) -> std::shared_ptr<const mapping::SystemMappings> {
    const auto* a = config->adapter(adapter);
    if (a == nullptr) return nullptr;
    auto it = resources.systems.find(a->system);
    return it == resources.systems.end() ? nullptr : it->second;
  };
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
    plan.record_types = r.record_types;
    if (r.mode == config::RouteSettings::Mode::Mapped) {
      // loadStageResources checked everything for this config; should any
      // piece be missing all the same, the route refuses (fail closed).
      auto source = systemOf(r.from);
      std::map<std::string, std::shared_ptr<const mapping::SystemMappings>> destinations;
      for (const auto& d : r.to) destinations[d] = systemOf(d);
      if (source && keyer != nullptr) {
        plan.translator = std::make_shared<const MappedTranslator>(source, *keyer);
      } else {
        plan.translator = std::make_shared<const RefusingTranslator>("route '" + r.name + "' has no mappings loaded");
      }
      plan.policy = std::make_shared<const AgreementPolicy>(resources.agreements, t->organisationOf(r.from), r.purpose);
      plan.renderer = std::make_shared<const MappedRenderer>(std::move(destinations));
    }
    for (const auto& d : r.to) plan.destinations.push_back(Destination{r.name, d, t->organisationOf(d)});
    t->routes_by_source[r.from].push_back(std::move(plan));
  }
  return t;
}

}  // namespace cb::pipeline
