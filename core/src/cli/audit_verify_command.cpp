#include "cli/audit_verify_command.h"

#include <unistd.h>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <sstream>

#include "audit/checkpoint.h"
#include "audit/checkpointer.h"
#include "audit/log_verifier.h"
#include "audit/merkle.h"
#include "audit/proof.h"
#include "common/clock.h"

namespace cb::cli {
namespace {

namespace fs = std::filesystem;

// Reads at most `limit` bytes of `path` ("-" = standard input).
Result<std::string> readText(const fs::path& path, std::size_t limit) {
  std::string data;
  auto take = [&](std::istream& in) -> Status {
    std::string buf(64 * 1024, '\0');
    while (in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      data.append(buf.data(), static_cast<std::size_t>(in.gcount()));
      if (data.size() > limit) return fail(path.string() + ": larger than " + std::to_string(limit) + " bytes");
    }
    return {};
  };
  if (path == "-") {
    if (auto s = take(std::cin); !s) return s.error();
    return data;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(path.string() + ": cannot open for reading");
  if (auto s = take(in); !s) return s.error();
  return data;
}

// --key as a key string, else as a file holding one.
Result<audit::VerifierKey> keyFromArgument(const std::string& arg) {
  if (auto k = audit::VerifierKey::parse(arg)) return k;
  std::error_code ec;
  if (!fs::exists(arg, ec)) return fail("--key " + arg + ": neither a verifier key string nor an existing file");
  return audit::loadVerifierKeyFile(arg);
}

// --key, else [audit] verifier_key, else the public half of [audit] signing_key.
Result<audit::VerifierKey> resolveKey(const std::string& arg, const config::Config& c) {
  if (!arg.empty()) return keyFromArgument(arg);
  auto configured = audit::configuredVerifierKey(c.audit);
  if (!configured) return configured.error();
  if (*configured) return std::move(**configured);
  return fail(c.file.string() + ": no verifier key: pass --key PUB (the key you were given), or set [audit] "
              "verifier_key");
}

// Reading the log is itself audited, before anything is shown (fail closed).
Status recordView(store::Store& st, const CliContext& ctx, const std::string& via,
                  std::vector<std::pair<std::string, std::string>> details) {
  audit::AuditEvent e;
  e.actor = ctx.actor("auditor");
  e.action = audit::action::kViewed;
  e.outcome = audit::outcome::kSuccess;
  e.with("via", via);
  for (auto& [k, v] : details) e.with(std::move(k), std::move(v));
  if (auto s = st.auditSync({std::move(e)}); !s) {
    return fail("refusing to read the audit trail: the view could not be audited: " + s.error().message);
  }
  return {};
}

std::string utcSeconds(std::int64_t s) { return formatUtc(s * 1000); }

}  // namespace

int auditKeygen(const fs::path& out_file, const std::string& name, std::ostream& out, std::ostream& err) {
  std::string keyName = name;
  if (keyName.empty()) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "localhost");
    keyName = std::string(host) + "/carebridge-audit";
  }
  auto key = audit::SignerKey::generate(keyName);
  if (!key) {
    err << "cannot create a key named '" << keyName << "': " << key.error().message << "\n";
    return kAuditCannotCheck;
  }
  if (auto s = audit::writeSignerKeyFile(out_file, *key); !s) {
    err << s.error().message << "\n";
    return kAuditCannotCheck;
  }
  const std::string pub = key->verifierKey().text();
  const fs::path pubFile = fs::path(out_file.string() + ".pub");
  std::ofstream p(pubFile, std::ios::binary | std::ios::trunc);
  p << pub << "\n";
  if (!p.flush()) {
    err << pubFile.string() << ": cannot write the verifier key (the signing key was written)\n";
    return kAuditCannotCheck;
  }
  err << "signing key written to " << out_file.string() << " (mode 0600): set [audit] signing_key to it\n"
      << "verifier key written to " << pubFile.string() << ": give it to auditors and partners\n";
  out << pub << "\n";
  return kAuditVerified;
}

int auditVerify(const CliContext& ctx, const std::string& keyArg, const fs::path& published_dir, std::ostream& out,
                std::ostream& err) {
  auto cfg = ctx.config();
  if (!cfg) {
    err << cfg.error().message << "\n";
    return kAuditCannotCheck;
  }
  auto key = resolveKey(keyArg, **cfg);
  if (!key) {
    err << key.error().message << "\n";
    return kAuditCannotCheck;
  }
  audit::LogVerifyOptions options;
  if (!published_dir.empty()) {
    std::error_code ec;
    for (const auto& f : fs::directory_iterator(published_dir, ec)) {
      const auto name = f.path().filename().string();
      if (!f.is_regular_file() || name.size() < 4 || name.compare(name.size() - 4, 4, ".txt") != 0) continue;
      auto note = readText(f.path(), audit::kMaxNoteBytes);
      if (!note) {
        err << note.error().message << "\n";
        return kAuditCannotCheck;
      }
      options.external_notes.emplace_back(f.path().string(), std::move(*note));
    }
    if (ec) {
      err << published_dir.string() << ": " << ec.message() << "\n";
      return kAuditCannotCheck;
    }
  }
  auto st = ctx.openStore();
  if (!st) {
    err << st.error().message << "\n";
    return kAuditCannotCheck;
  }
  auto last = std::chrono::steady_clock::now();
  options.progress = [&err, &last](std::uint64_t done, std::uint64_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (done < total && now - last < std::chrono::seconds(1)) return;
    last = now;
    if (total >= 100000) err << "verified " << done << " of " << total << " entries\n" << std::flush;
  };
  auto r = audit::verifyAuditLog(**st, *key, options);
  if (!r) {
    err << r.error().message << "\n";
    return kAuditCannotCheck;
  }
  // Recorded after the check, so the log verified is the log as found, and
  // before anything is shown (fail closed, as for every view of the trail).
  const std::string result = r->intact ? "verified" : "does not verify";
  const std::string first = r->first_bad_entry ? std::to_string(*r->first_bad_entry) : "";
  if (auto s = recordView(**st, ctx, "carebridge audit verify",
                          {{"key", key->text()}, {"entries", std::to_string(r->entries)}, {"result", result},
                           {"first_bad_entry", first}});
      !s) {
    err << s.error().message << "\n";
    return kAuditCannotCheck;
  }
  if (!r->intact) {
    out << "AUDIT LOG DOES NOT VERIFY: " << r->problem << "\n";
    if (r->first_bad_entry) out << "first entry that does not match: " << *r->first_bad_entry << "\n";
    if (r->bad_checkpoint) out << "checkpoint that does not match: tree size " << *r->bad_checkpoint << "\n";
    out << "checked before stopping: " << r->entries << " entries, " << r->checkpoints << " checkpoints\n";
    return kAuditMismatch;
  }
  out << "audit log verified: " << r->entries << " entries, " << r->checkpoints << " checkpoints signed by "
      << key->text() << "\n";
  if (r->covered == 0) {
    out << "warning: no signed checkpoint covers the log yet; the entries were checked only against the store's "
           "own tree state\n";
  } else {
    out << "entries 0.." << r->covered - 1 << " are pinned by a signed checkpoint";
    if (r->latest_checkpoint_time) out << " (newest signed " << utcSeconds(*r->latest_checkpoint_time) << ")";
    out << "\n";
    if (r->covered < r->entries) {
      out << "entries " << r->covered << ".." << r->entries - 1
          << " are not yet covered by a signed checkpoint (the next one covers them)\n";
    }
  }
  return kAuditVerified;
}

int auditProve(const CliContext& ctx, std::uint64_t entry, std::optional<std::uint64_t> checkpoint, std::ostream& out,
               std::ostream& err) {
  auto st = ctx.openStore();
  if (!st) {
    err << st.error().message << "\n";
    return kAuditCannotCheck;
  }
  auto cp = checkpoint ? (*st)->auditCheckpoint(static_cast<std::int64_t>(*checkpoint)) : (*st)->latestAuditCheckpoint();
  if (!cp) {
    err << cp.error().message << "\n";
    return kAuditCannotCheck;
  }
  if (!*cp) {
    err << (checkpoint ? "no checkpoint at tree size " + std::to_string(*checkpoint) +
                             " (see `carebridge audit checkpoints`)"
                       : std::string("no signed checkpoint yet: is [audit] signing_key set?"))
        << "\n";
    return kAuditCannotCheck;
  }
  const auto size = static_cast<std::uint64_t>((*cp)->tree_size);
  if (entry >= size) {
    err << "entry " << entry << " is not covered by the checkpoint at tree size " << size
        << (checkpoint ? "" : " (the newest); the next checkpoint will cover it") << "\n";
    return kAuditCannotCheck;
  }
  if (auto s = recordView(**st, ctx, "carebridge audit prove",
                          {{"entry", std::to_string(entry)}, {"checkpoint", std::to_string(size)}});
      !s) {
    err << s.error().message << "\n";
    return kAuditCannotCheck;
  }
  store::StoreLeafHashSource source(**st, size);
  auto proof = audit::buildInclusionProof(source, entry, (*cp)->note);
  if (!proof) {
    err << "no proof issued: " << proof.error().message << "; run `carebridge audit verify`\n";
    return kAuditMismatch;
  }
  out << audit::formatInclusionProof(*proof);
  return kAuditVerified;
}

int auditConsistency(const CliContext& ctx, std::uint64_t from, std::uint64_t to, const std::string& keyArg,
                     std::ostream& out, std::ostream& err) {
  if (from == 0 || from > to) {
    err << "--from must be at least 1 and at most --to (tree sizes of two checkpoints)\n";
    return kAuditCannotCheck;
  }
  auto cfg = ctx.config();
  if (!cfg) {
    err << cfg.error().message << "\n";
    return kAuditCannotCheck;
  }
  auto key = resolveKey(keyArg, **cfg);
  auto st = ctx.openStore();
  if (!st) {
    err << st.error().message << "\n";
    return kAuditCannotCheck;
  }
  auto older = (*st)->auditCheckpoint(static_cast<std::int64_t>(from));
  auto newer = (*st)->auditCheckpoint(static_cast<std::int64_t>(to));
  if (!older || !newer) {
    err << (!older ? older.error().message : newer.error().message) << "\n";
    return kAuditCannotCheck;
  }
  for (auto [size, row] : {std::pair{from, &*older}, std::pair{to, &*newer}}) {
    if (!*row) {
      err << "no checkpoint at tree size " << size << " (see `carebridge audit checkpoints`)\n";
      return kAuditCannotCheck;
    }
  }
  if (auto s = recordView(**st, ctx, "carebridge audit consistency",
                          {{"from", std::to_string(from)}, {"to", std::to_string(to)}});
      !s) {
    err << s.error().message << "\n";
    return kAuditCannotCheck;
  }
  store::StoreLeafHashSource source(**st, to);
  auto proof = audit::buildConsistencyProof(source, (*older)->note, (*newer)->note);
  if (!proof) {
    err << "no proof issued: " << proof.error().message << "; run `carebridge audit verify`\n";
    return kAuditMismatch;
  }
  const std::string text = audit::formatConsistencyProof(*proof);
  if (key) {
    auto v = audit::verifyConsistencyProofText(text, *key);
    if (!v) {
      err << "the consistency proof does not verify with " << key->text() << ": " << v.error().message << "\n";
      return kAuditMismatch;
    }
    err << "checked: the log at tree size " << to << " extends the log at tree size " << from
        << " (both checkpoints signed by " << key->text() << ")\n";
  } else {
    err << "checked against the stored entries; signatures not checked: " << key.error().message << "\n";
  }
  out << text;
  return kAuditVerified;
}

int auditVerifyProof(const std::string& keyArg, const fs::path& proof_file, const fs::path& entry_file,
                     std::ostream& out, std::ostream& err) {
  auto key = keyFromArgument(keyArg);
  if (!key) {
    err << key.error().message << "\n";
    return kAuditCannotCheck;
  }
  auto text = readText(proof_file, audit::kMaxProofTextBytes);
  if (!text) {
    err << text.error().message << "\n";
    return kAuditCannotCheck;
  }
  const std::string_view firstLine = std::string_view(*text).substr(0, text->find('\n'));
  if (firstLine == audit::kInclusionProofHeader) {
    auto v = audit::verifyInclusionProofText(*text, *key);
    if (!v) {
      out << "PROOF DOES NOT VERIFY: " << v.error().message << "\n";
      return kAuditMismatch;
    }
    if (!entry_file.empty()) {
      auto entry = readText(entry_file, audit::kMaxProofTextBytes);
      if (!entry) {
        err << entry.error().message << "\n";
        return kAuditCannotCheck;
      }
      if (audit::leafHash(*entry) != v->leafHash) {
        out << "PROOF DOES NOT VERIFY: " << entry_file.string() << " is not the entry the proof is about (its leaf "
            << "hash is " << toHex(audit::leafHash(*entry)) << ")\n";
        return kAuditMismatch;
      }
    }
    out << "verified: entry " << v->index << " (leaf hash " << toHex(v->leafHash) << ") is in the log "
        << v->checkpoint.origin << " at tree size " << v->checkpoint.size << ", root " << toHex(v->checkpoint.root);
    if (v->checkpoint.time) out << ", signed " << utcSeconds(v->checkpoint.time->time_since_epoch().count());
    out << "\n";
    return kAuditVerified;
  }
  if (firstLine == audit::kConsistencyProofHeader) {
    auto v = audit::verifyConsistencyProofText(*text, *key);
    if (!v) {
      out << "PROOF DOES NOT VERIFY: " << v.error().message << "\n";
      return kAuditMismatch;
    }
    out << "verified: the log " << v->newer.origin << " at tree size " << v->newer.size << " (root "
        << toHex(v->newer.root) << ") is an append-only extension of tree size " << v->older.size << " (root "
        << toHex(v->older.root) << ")\n";
    return kAuditVerified;
  }
  out << "PROOF DOES NOT VERIFY: " << proof_file.string() << " does not start with \"" << audit::kInclusionProofHeader
      << "\" or \"" << audit::kConsistencyProofHeader << "\"\n";
  return kAuditMismatch;
}

namespace {

int listCheckpoints(const CliContext& ctx, std::size_t limit, std::ostream& out, std::ostream& err) {
  auto st = ctx.openStore();
  if (!st) {
    err << st.error().message << "\n";
    return kAuditCannotCheck;
  }
  auto all = (*st)->auditCheckpoints(0, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()));
  if (!all) {
    err << all.error().message << "\n";
    return kAuditCannotCheck;
  }
  const std::size_t skip = all->size() > limit ? all->size() - limit : 0;
  for (std::size_t i = skip; i < all->size(); ++i) {
    const auto& c = (*all)[i];
    out << c.tree_size << "  " << utcSeconds(c.time_s) << "  " << toHex(c.root) << "\n";
  }
  out << all->size() << " checkpoints\n";
  return kAuditVerified;
}

}  // namespace

void addAuditVerifyCommands(CLI::App& audit, CliContext& ctx) {
  struct Args {
    std::string out_file;
    std::string name;
    std::string key;
    std::string published;
    std::uint64_t entry = 0;
    std::optional<std::uint64_t> checkpoint;
    std::uint64_t from = 0;
    std::uint64_t to = 0;
    std::string proof;
    std::string entry_file;
    std::size_t limit = 20;
  };
  auto a = std::make_shared<Args>();

  auto* keygen = audit.add_subcommand("keygen", "Create a checkpoint signing key (FILE) and its verifier key (FILE.pub)");
  keygen->add_option("--out", a->out_file, "the private key file to create (mode 0600)")->required();
  keygen->add_option("--name", a->name, "the key name, by convention the log's origin (default: <host>/carebridge-audit)");
  keygen->callback([a] { throw CLI::RuntimeError(auditKeygen(a->out_file, a->name, std::cout, std::cerr)); });

  auto* verify = audit.add_subcommand("verify", "Recompute the audit log's Merkle tree and check every checkpoint");
  verify->add_option("--key", a->key, "verifier key string or file (default: from [audit])");
  verify->add_option("--published", a->published, "a folder of published checkpoints to check as well");
  verify->callback([&ctx, a] { throw CLI::RuntimeError(auditVerify(ctx, a->key, a->published, std::cout, std::cerr)); });

  auto* list = audit.add_subcommand("checkpoints", "List the signed checkpoints (tree size, time, root)");
  list->add_option("-n,--limit", a->limit, "how many of the newest")->capture_default_str();
  list->callback([&ctx, a] { throw CLI::RuntimeError(listCheckpoints(ctx, a->limit, std::cout, std::cerr)); });

  auto* prove = audit.add_subcommand("prove", "Print the inclusion proof of one entry");
  prove->add_option("--entry", a->entry, "the entry (leaf index)")->required();
  prove->add_option("--checkpoint", a->checkpoint, "tree size of the checkpoint to prove against (default: newest)");
  prove->callback([&ctx, a] { throw CLI::RuntimeError(auditProve(ctx, a->entry, a->checkpoint, std::cout, std::cerr)); });

  auto* cons = audit.add_subcommand("consistency", "Print and check the consistency proof between two checkpoints");
  cons->add_option("--from", a->from, "tree size of the older checkpoint")->required();
  cons->add_option("--to", a->to, "tree size of the newer checkpoint")->required();
  cons->add_option("--key", a->key, "verifier key string or file (default: from [audit])");
  cons->callback(
      [&ctx, a] { throw CLI::RuntimeError(auditConsistency(ctx, a->from, a->to, a->key, std::cout, std::cerr)); });

  auto* vp = audit.add_subcommand("verify-proof", "Check a proof with only the verifier key (no config, no store)");
  vp->add_option("--key", a->key, "verifier key string or file")->required();
  vp->add_option("--proof", a->proof, "the proof text file ('-' for standard input)")->required();
  vp->add_option("--entry-file", a->entry_file, "the entry's canonical bytes, to check they are the proven leaf");
  vp->callback([a] {
    throw CLI::RuntimeError(auditVerifyProof(a->key, a->proof, a->entry_file, std::cout, std::cerr));
  });
}

}  // namespace cb::cli
