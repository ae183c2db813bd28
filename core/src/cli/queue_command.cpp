#include "cli/queue_command.h"

#include "common/clock.h"
#include "common/json_text.h"

#include <CLI/CLI.hpp>

#include <iomanip>
#include <iostream>

namespace cb::cli {
namespace {

struct ListOptions {
  std::string state = "dead";
  std::string destination;
  std::size_t limit = 50;
  bool json = false;
};

void printTable(const std::vector<store::DeliveryInfo>& rows) {
  std::cout << std::left << std::setw(8) << "DELIVERY" << "  " << std::setw(36) << "MESSAGE" << "  " << std::setw(10)
            << "STATE" << "  " << std::setw(20) << "DESTINATION" << "  " << std::setw(8) << "ATTEMPTS" << "  "
            << "LAST ERROR\n";
  for (const auto& d : rows) {
    std::cout << std::left << std::setw(8) << d.seq << "  " << std::setw(36) << d.message_id << "  " << std::setw(10)
              << store::toString(d.state) << "  " << std::setw(20) << d.destination << "  " << std::setw(8)
              << d.attempts << "  " << d.last_error << "\n";
  }
  std::cout << rows.size() << " deliver" << (rows.size() == 1 ? "y" : "ies") << "\n";
}

std::string toJson(const store::DeliveryInfo& d) {
  std::string o = "{";
  o += "\"delivery\":" + std::to_string(d.seq);
  o += ",\"message_id\":" + jsonString(d.message_id);
  o += ",\"state\":" + jsonString(store::toString(d.state));
  o += ",\"destination\":" + jsonString(d.destination);
  o += ",\"route\":" + jsonString(d.route);
  o += ",\"record_type\":" + jsonString(d.record_type);
  o += ",\"attempts\":" + std::to_string(d.attempts);
  o += ",\"last_error\":" + jsonString(d.last_error);
  o += ",\"received_at\":" + jsonString(formatUtc(d.received_at_ms));
  o += ",\"updated_at\":" + jsonString(formatUtc(d.updated_at_ms));
  o += "}";
  return o;
}

int list(const CliContext& ctx, const ListOptions& o) {
  auto st = ctx.openStore();
  if (!st) {
    std::cerr << st.error().message << "\n";
    return 1;
  }
  store::DeliveryFilter f;
  if (o.state != "all") {
    auto s = store::deliveryStateFrom(o.state);
    if (!s) {
      std::cerr << "--state must be queued, delivered, dead, held, refused or all\n";
      return 2;
    }
    f.state = *s;
  }
  f.destination = o.destination;
  f.limit = o.limit;
  auto rows = (*st)->deliveries(f);
  if (!rows) {
    std::cerr << rows.error().message << "\n";
    return 1;
  }
  if (o.json) {
    std::cout << "[";
    for (std::size_t i = 0; i < rows->size(); ++i) std::cout << (i ? "," : "") << toJson((*rows)[i]);
    std::cout << "]\n";
  } else {
    printTable(*rows);
  }
  return 0;
}

// Finds deliveries by delivery number or message id.
Result<std::vector<store::DeliveryInfo>> lookup(store::Store& st, const std::string& id) {
  if (!id.empty() && id.find_first_not_of("0123456789") == std::string::npos) {
    auto d = st.delivery(std::stoll(id));
    if (!d) return d.error();
    if (!*d) return fail("no delivery #" + id);
    return std::vector<store::DeliveryInfo>{**d};
  }
  store::DeliveryFilter f;
  f.message_id = id;
  f.limit = 1000;
  auto rows = st.deliveries(f);
  if (!rows) return rows.error();
  if (rows->empty()) {
    auto m = st.message(id);
    if (m && *m) return std::vector<store::DeliveryInfo>{};
    return fail("no message or delivery '" + id + "'");
  }
  return rows;
}

int show(const CliContext& ctx, const std::string& id, bool payload) {
  auto st = ctx.openStore();
  if (!st) {
    std::cerr << st.error().message << "\n";
    return 1;
  }
  auto rows = lookup(**st, id);
  if (!rows) {
    std::cerr << rows.error().message << "\n";
    return 1;
  }
  std::string message_id = rows->empty() ? id : rows->front().message_id;
  auto m = (*st)->message(message_id);
  if (m && *m) {
    const auto& mi = **m;
    std::cout << "message     " << mi.id << "\n"
              << "from        " << mi.source << (mi.sender_message_id.empty() ? "" : " (sender id " + mi.sender_message_id + ")")
              << "\n"
              << "received    " << formatUtc(mi.received_at_ms) << "\n"
              << "type        " << mi.record_type << " (" << mi.content_type << ")\n"
              << "state       " << mi.state << (mi.error.empty() ? "" : ": " + mi.error) << "\n"
              << "sha256      " << mi.payload_sha256 << "\n";
  }
  for (const auto& d : *rows) {
    std::cout << "delivery #" << d.seq << " to " << d.destination << " (route " << d.route << "): "
              << store::toString(d.state) << ", " << d.attempts << " attempt(s)"
              << (d.last_error.empty() ? "" : ", last error: " + d.last_error) << "\n";
  }
  if (payload && m && *m) {
    // Looking at a record's content is itself an audited event.
    audit::AuditEvent e;
    e.actor = ctx.actor("operator");
    e.action = audit::action::kRecordViewed;
    e.outcome = audit::outcome::kSuccess;
    e.message_id = (*m)->id;
    e.record_type = (*m)->record_type;
    e.subject_key = (*m)->subject_key;
    e.payload_sha256 = (*m)->payload_sha256;
    e.with("via", "carebridge queue show --payload");
    if (auto s = (*st)->auditSync({std::move(e)}); !s) {
      std::cerr << "refusing to show the payload: the view could not be audited: " << s.error().message << "\n";
      return 1;
    }
    auto bytes = (*st)->payload((*m)->seq);
    if (!bytes) {
      std::cerr << bytes.error().message << "\n";
      return 1;
    }
    std::cout << "--- payload ---\n" << *bytes << "\n";
  }
  return 0;
}

int replay(const CliContext& ctx, const std::vector<std::string>& ids, bool all_dead, const std::string& destination,
           const std::string& reason) {
  auto st = ctx.openStore();
  if (!st) {
    std::cerr << st.error().message << "\n";
    return 1;
  }
  std::vector<std::int64_t> seqs;
  if (all_dead) {
    store::DeliveryFilter f;
    f.state = store::DeliveryState::Dead;
    f.destination = destination;
    f.limit = 100000;
    auto rows = (*st)->deliveries(f);
    if (!rows) {
      std::cerr << rows.error().message << "\n";
      return 1;
    }
    for (const auto& d : *rows) seqs.push_back(d.seq);
  }
  for (const auto& id : ids) {
    auto rows = lookup(**st, id);
    if (!rows) {
      std::cerr << rows.error().message << "\n";
      return 1;
    }
    for (const auto& d : *rows) {
      if (d.state == store::DeliveryState::Dead) seqs.push_back(d.seq);
    }
    if (rows->empty() || std::none_of(rows->begin(), rows->end(),
                                      [](const auto& d) { return d.state == store::DeliveryState::Dead; })) {
      std::cerr << "'" << id << "' has no dead-lettered delivery to replay\n";
      return 1;
    }
  }
  if (seqs.empty()) {
    std::cout << "nothing to replay\n";
    return 0;
  }
  auto done = (*st)->replaySync(seqs, ctx.actor("operator"), reason);
  if (!done) {
    std::cerr << "replay failed, nothing changed: " << done.error().message << "\n";
    return 1;
  }
  for (const auto& d : *done) {
    std::cout << "replaying delivery #" << d.seq << " of message " << d.message_id << " to " << d.destination << "\n";
  }
  std::cout << done->size() << " deliver" << (done->size() == 1 ? "y" : "ies")
            << " queued again; a running carebridged picks them up within a second\n";
  return 0;
}

}  // namespace

void addQueueCommands(CLI::App& app, CliContext& ctx) {
  auto* queue = app.add_subcommand("queue", "Deliveries: waiting, dead-lettered, held; replay dead letters");
  queue->require_subcommand(1);

  auto lo = std::make_shared<ListOptions>();
  auto* ls = queue->add_subcommand("list", "List deliveries (default: the dead-letter queue)");
  ls->add_option("--state", lo->state, "queued, delivered, dead, held, refused or all")->capture_default_str();
  ls->add_option("--destination", lo->destination, "only this outbound adapter");
  ls->add_option("--limit", lo->limit, "at most this many")->capture_default_str();
  ls->add_flag("--json", lo->json, "JSON instead of a table");
  ls->callback([&ctx, lo] { throw CLI::RuntimeError(list(ctx, *lo)); });

  auto show_id = std::make_shared<std::string>();
  auto show_payload = std::make_shared<bool>(false);
  auto* sh = queue->add_subcommand("show", "Show a message and its deliveries");
  sh->add_option("id", *show_id, "delivery number or message id")->required();
  sh->add_flag("--payload", *show_payload, "also print the record's content (the view is audited)");
  sh->callback([&ctx, show_id, show_payload] { throw CLI::RuntimeError(show(ctx, *show_id, *show_payload)); });

  auto ids = std::make_shared<std::vector<std::string>>();
  auto all = std::make_shared<bool>(false);
  auto dest = std::make_shared<std::string>();
  auto reason = std::make_shared<std::string>();
  auto* rp = queue->add_subcommand("replay", "Put dead-lettered deliveries back in the queue");
  rp->add_option("id", *ids, "delivery numbers or message ids");
  rp->add_flag("--all-dead", *all, "every dead-lettered delivery (with --destination: to that adapter)");
  rp->add_option("--destination", *dest, "with --all-dead: only this outbound adapter");
  rp->add_option("--reason", *reason, "why (recorded in the audit trail)")->required();
  rp->callback([&ctx, ids, all, dest, reason] {
    if (ids->empty() && !*all) {
      std::cerr << "name deliveries or message ids to replay, or use --all-dead\n";
      throw CLI::RuntimeError(2);
    }
    throw CLI::RuntimeError(replay(ctx, *ids, *all, *dest, *reason));
  });
}

}  // namespace cb::cli
