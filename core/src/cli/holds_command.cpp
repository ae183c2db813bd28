#include "cli/holds_command.h"

#include "audit/audit_query.h"
#include "common/clock.h"
#include "common/json_text.h"

#include <CLI/CLI.hpp>

#include <iomanip>
#include <iostream>
#include <map>

namespace cb::cli {
namespace {

/// What the decide stage recorded about one held delivery.
struct HoldReason {
  std::map<std::string, std::string> details;  // agreement, flow, rule, approver, explanation, ...
  std::string at;
};

// The sharing.decided entry that held this delivery: same message, same
// destination adapter.
HoldReason reasonFor(store::Store& st, const store::DeliveryInfo& d) {
  HoldReason out;
  auto held = audit::holdDecision(st, d.message_id, d.destination);
  if (!held || !*held) return out;
  for (auto& [k, v] : (*held)->details()) out.details[k] = std::move(v);
  out.at = formatUtc((*held)->time_ms);
  return out;
}

std::string get(const HoldReason& h, const std::string& key) {
  auto it = h.details.find(key);
  return it == h.details.end() ? std::string() : it->second;
}

Result<std::vector<store::DeliveryInfo>> held(store::Store& st) {
  store::DeliveryFilter f;
  f.state = store::DeliveryState::Held;
  f.limit = 100000;
  return st.deliveries(f);
}

int list(const CliContext& ctx, bool json) {
  auto st = ctx.openStore();
  if (!st) {
    std::cerr << st.error().message << "\n";
    return 1;
  }
  auto rows = held(**st);
  if (!rows) {
    std::cerr << rows.error().message << "\n";
    return 1;
  }
  if (json) std::cout << "[";
  bool first = true;
  for (const auto& d : *rows) {
    const auto h = reasonFor(**st, d);
    if (json) {
      std::cout << (first ? "" : ",") << "{\"delivery\":" << d.seq << ",\"message_id\":" << jsonString(d.message_id)
                << ",\"destination\":" << jsonString(d.destination) << ",\"record_type\":" << jsonString(d.record_type)
                << ",\"agreement\":" << jsonString(get(h, "agreement")) << ",\"approver\":"
                << jsonString(get(h, "approver")) << ",\"explanation\":" << jsonString(get(h, "explanation"))
                << ",\"held_at\":" << jsonString(h.at) << "}";
    } else {
      std::cout << "#" << d.seq << "  " << d.record_type << " to " << d.destination << "  held " << h.at
                << "  for: " << (get(h, "approver").empty() ? "(approver not recorded)" : get(h, "approver")) << "\n"
                << "      message " << d.message_id << "\n"
                << "      " << get(h, "explanation") << "\n";
    }
    first = false;
  }
  if (json) {
    std::cout << "]\n";
  } else {
    std::cout << rows->size() << " held disclosure" << (rows->size() == 1 ? "" : "s") << "\n";
  }
  return 0;
}

int show(const CliContext& ctx, std::int64_t seq) {
  auto st = ctx.openStore();
  if (!st) {
    std::cerr << st.error().message << "\n";
    return 1;
  }
  auto d = (*st)->delivery(seq);
  if (!d) {
    std::cerr << d.error().message << "\n";
    return 1;
  }
  if (!*d) {
    std::cerr << "no delivery #" << seq << "\n";
    return 1;
  }
  const auto h = reasonFor(**st, **d);
  std::cout << "delivery      #" << (*d)->seq << " (" << store::toString((*d)->state) << ")\n"
            << "message       " << (*d)->message_id << "\n"
            << "record type   " << (*d)->record_type << "\n"
            << "destination   " << (*d)->destination << " (route " << (*d)->route << ")\n"
            << "received      " << formatUtc((*d)->received_at_ms) << "\n";
  for (const char* k : {"agreement", "flow", "purpose", "lawful_basis", "rule", "approver", "withheld", "explanation"}) {
    const std::string v = get(h, k);
    if (!v.empty()) std::cout << std::left << std::setw(14) << k << v << "\n";
  }
  return 0;
}

int settle(const CliContext& ctx, const std::vector<std::int64_t>& seqs, bool approve, const std::string& reason) {
  if (reason.find_first_not_of(" \t\r\n") == std::string::npos) {
    std::cerr << "--reason must say why (it is recorded in the audit trail)\n";
    return 2;
  }
  auto st = ctx.openStore();
  if (!st) {
    std::cerr << st.error().message << "\n";
    return 1;
  }
  auto done = (*st)->decideHoldsSync(seqs, approve, ctx.actor("approver"), reason);
  if (!done) {
    std::cerr << (approve ? "approval" : "refusal") << " failed, nothing changed: " << done.error().message << "\n";
    return 1;
  }
  for (const auto& d : *done) {
    std::cout << (approve ? "approved" : "refused") << " delivery #" << d.seq << " of message " << d.message_id
              << " to " << d.destination << "\n";
  }
  if (approve) std::cout << "a running carebridged delivers approved records within a second\n";
  return 0;
}

}  // namespace

void addHoldsCommands(CLI::App& app, CliContext& ctx) {
  auto* holds = app.add_subcommand("holds", "Disclosures held for approval: list, show, approve, refuse");
  holds->require_subcommand(1);

  auto json = std::make_shared<bool>(false);
  auto* ls = holds->add_subcommand("list", "List the disclosures waiting for approval");
  ls->add_flag("--json", *json, "JSON instead of text");
  ls->callback([&ctx, json] { throw CLI::RuntimeError(list(ctx, *json)); });

  auto seq = std::make_shared<std::int64_t>(0);
  auto* sh = holds->add_subcommand("show", "Show one held disclosure and the rule that held it");
  sh->add_option("delivery", *seq, "delivery number (from holds list)")->required();
  sh->callback([&ctx, seq] { throw CLI::RuntimeError(show(ctx, *seq)); });

  for (const bool approve : {true, false}) {
    auto seqs = std::make_shared<std::vector<std::int64_t>>();
    auto reason = std::make_shared<std::string>();
    auto* c = holds->add_subcommand(approve ? "approve" : "refuse",
                                    approve ? "Release held disclosures to delivery" : "Refuse held disclosures: never sent");
    c->add_option("delivery", *seqs, "delivery numbers (from holds list)")->required();
    c->add_option("--reason", *reason, "why (recorded in the audit trail with your name)")->required();
    c->callback([&ctx, seqs, reason, approve] { throw CLI::RuntimeError(settle(ctx, *seqs, approve, *reason)); });
  }
}

}  // namespace cb::cli
