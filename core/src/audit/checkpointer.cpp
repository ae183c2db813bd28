#include "audit/checkpointer.h"

#include <fcntl.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/digest.h"
#include "common/log.h"
#include "store/store.h"

namespace cb::audit {
namespace {

namespace fs = std::filesystem;

std::shared_ptr<spdlog::logger> logger() {
  static auto l = cb::log::get("audit");
  return l;
}

// Entries are read in runs of this many when catching up with the log.
constexpr std::size_t kReadBatch = 8192;

// Writes `data` to `path` via a temporary file that is synced and renamed,
// so readers see the old file or the new one, never a part.
Status writeFileAtomically(const fs::path& path, const std::string& data) {
  const fs::path tmp = path.parent_path() / ("." + path.filename().string() + ".tmp");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail("cannot write " + tmp.string() + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return fail("cannot write " + tmp.string() + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return fail("cannot sync " + tmp.string() + ": " + std::strerror(errno));
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return fail("cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message());
  return {};
}

std::int64_t unixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

// ---- Publishers ---------------------------------------------------------------

Result<std::unique_ptr<DirectoryPublisher>> DirectoryPublisher::create(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail("checkpoint directory " + dir.string() + ": " + ec.message());
  if (!fs::is_directory(dir, ec)) return fail("checkpoint directory " + dir.string() + " is not a directory");
  return std::unique_ptr<DirectoryPublisher>(new DirectoryPublisher(dir));
}

std::string DirectoryPublisher::fileName(std::uint64_t size) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "checkpoint-%020llu.txt", static_cast<unsigned long long>(size));
  return buf;
}

Status DirectoryPublisher::publish(const SignedCheckpoint& cp) {
  if (auto s = writeFileAtomically(dir_ / fileName(cp.checkpoint.size), cp.note); !s) return s;
  return writeFileAtomically(dir_ / "latest.txt", cp.note);
}

std::string SyslogPublisher::message(const SignedCheckpoint& cp) {
  std::string m = "carebridge audit checkpoint origin=" + cp.checkpoint.origin +
                  " size=" + std::to_string(cp.checkpoint.size) + " root=" + toHex(cp.checkpoint.root);
  if (cp.checkpoint.time) m += " time=" + std::to_string(cp.checkpoint.time->time_since_epoch().count());
  m += " note=" + base64Encode(cp.note);
  return m;
}

Status SyslogPublisher::publish(const SignedCheckpoint& cp) {
  // syslog(3) reports no errors; the local daemon owns delivery from here.
  ::syslog(LOG_DAEMON | LOG_NOTICE, "%s", message(cp).c_str());
  return {};
}

// ---- Checkpointer -------------------------------------------------------------

Checkpointer::Checkpointer(Options options, std::optional<SignerKey> key,
                           std::vector<std::unique_ptr<CheckpointPublisher>> publishers, store::Store& store,
                           const Clock& clock)
    : options_(options), key_(std::move(key)), publishers_(std::move(publishers)), store_(store), clock_(clock) {}

Checkpointer::~Checkpointer() = default;

Result<std::unique_ptr<Checkpointer>> Checkpointer::create(const config::AuditSettings& settings, store::Store& store,
                                                           const Clock& clock) {
  Options options{settings.checkpoint_interval, settings.checkpoint_every};
  if (!settings.signing()) {
    return std::unique_ptr<Checkpointer>(new Checkpointer(options, std::nullopt, {}, store, clock));
  }
  const std::string where = settings.where.str() + ": audit.signing_key: ";
  auto key = loadSignerKeyFile(*settings.signing_key);
  if (!key) return fail(where + key.error().message);
  std::vector<std::unique_ptr<CheckpointPublisher>> publishers;
  if (settings.publish_dir) {
    auto dir = DirectoryPublisher::create(*settings.publish_dir);
    if (!dir) return fail(settings.where.str() + ": audit.publish_dir: " + dir.error().message);
    publishers.push_back(std::move(*dir));
  }
  if (settings.publish_syslog) publishers.push_back(std::make_unique<SyslogPublisher>());
  auto c = create(options, std::move(*key), std::move(publishers), store, clock);
  if (!c) return fail(where + c.error().message);
  return c;
}

Result<std::unique_ptr<Checkpointer>> Checkpointer::create(Options options, SignerKey key,
                                                           std::vector<std::unique_ptr<CheckpointPublisher>> publishers,
                                                           store::Store& store, const Clock& clock) {
  std::unique_ptr<Checkpointer> c(new Checkpointer(options, std::move(key), std::move(publishers), store, clock));
  if (auto s = c->resume(); !s) return s.error();
  return c;
}

Status Checkpointer::resume() {
  auto latest = store_.latestAuditCheckpoint();
  if (!latest) return latest.error();
  if (!*latest) return {};
  const auto& row = **latest;
  const VerifierKey vk = key_->verifierKey();
  auto cp = verifyCheckpoint(row.note, vk);
  if (!cp) {
    return fail("the latest stored checkpoint (tree size " + std::to_string(row.tree_size) +
                ") does not verify with this key (" + vk.text() + "): " + cp.error().message +
                ". Configure the key that signed the log's checkpoints; a new key cannot continue them");
  }
  if (cp->size != static_cast<std::uint64_t>(row.tree_size) || cp->root != row.root) {
    return fail("the latest stored checkpoint (tree size " + std::to_string(row.tree_size) +
                ") disagrees with its own signed note; run `carebridge audit verify`");
  }
  // The frontier at the checkpoint's size: from the committed state when the
  // log has not grown since (the usual case after a clean stop), else from
  // the stored leaf hashes (one pass over the log).
  MerkleFrontier frontier;
  auto state = store_.auditTreeState();
  if (!state) return state.error();
  if (state->size == row.tree_size && !state->frontier.empty()) {
    auto f = MerkleFrontier::fromBytes(state->frontier);
    if (!f) return fail("the stored audit tree state is damaged: " + f.error().message);
    frontier = std::move(*f);
  } else {
    if (state->size < row.tree_size) {
      return fail("the audit log holds " + std::to_string(state->size) + " entries but its latest checkpoint covers " +
                  std::to_string(row.tree_size) + ": it was truncated; run `carebridge audit verify`");
    }
    store::StoreLeafHashSource source(store_, cp->size);
    auto f = frontierOf(source, cp->size);
    if (!f) return fail("reading the audit log: " + f.error().message);
    frontier = std::move(*f);
  }
  if (frontier.root() != cp->root) {
    return fail("the audit log no longer reproduces its latest signed checkpoint (tree size " +
                std::to_string(cp->size) + "); it was altered. Run `carebridge audit verify` to find where");
  }
  signed_ = std::move(frontier);
  if (cp->time) last_time_ = std::chrono::system_clock::time_point(*cp->time);
  logger()->info("audit checkpoints: resuming after the checkpoint at tree size {} (key {})", cp->size, vk.text());
  return {};
}

Result<std::optional<SignedCheckpoint>> Checkpointer::tick(std::chrono::system_clock::time_point now) {
  std::lock_guard lock(mutex_);
  return signIfDue(now, false);
}

Result<std::optional<SignedCheckpoint>> Checkpointer::tick() { return tick(clock_.now()); }

Result<std::optional<SignedCheckpoint>> Checkpointer::signFinal() {
  std::lock_guard lock(mutex_);
  return signIfDue(clock_.now(), true);
}

Result<std::optional<SignedCheckpoint>> Checkpointer::signIfDue(std::chrono::system_clock::time_point now,
                                                                bool force) {
  if (!key_) return std::optional<SignedCheckpoint>();
  retryPending();
  auto state = store_.auditTreeState();
  if (!state) return state.error();
  const auto size = static_cast<std::uint64_t>(state->size);
  if (size < signed_.size()) {
    return fail("audit log: the tree state records " + std::to_string(size) + " entries but a checkpoint covers " +
                std::to_string(signed_.size()) + "; the log was truncated. Not signing; run `carebridge audit verify`");
  }
  if (size == signed_.size()) return std::optional<SignedCheckpoint>();
  const bool due = force || !last_time_ || now - *last_time_ >= options_.interval ||
                   size - signed_.size() >= options_.every;
  if (!due) return std::optional<SignedCheckpoint>();

  // Extend the checked tree with the entries appended since, rehashing each.
  MerkleFrontier next = signed_;
  while (next.size() < size) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kReadBatch, size - next.size()));
    auto rows = store_.auditLeaves(static_cast<std::int64_t>(next.size()), want);
    if (!rows) return rows.error();
    if (rows->empty()) {
      return fail("audit log: entry " + std::to_string(next.size()) + " is missing. Not signing; run "
                  "`carebridge audit verify`");
    }
    for (const auto& r : *rows) {
      if (next.size() == size) break;
      if (static_cast<std::uint64_t>(r.row.seq) != next.size()) {
        return fail("audit log: entry " + std::to_string(next.size()) + " is missing. Not signing; run "
                    "`carebridge audit verify`");
      }
      const Sha256 leaf = leafHash(r.row.entry);
      if (r.leaf_hash.size() != leaf.size() || std::memcmp(r.leaf_hash.data(), leaf.data(), leaf.size()) != 0) {
        return fail("audit log: entry " + std::to_string(r.row.seq) + " does not match its leaf hash. Not signing; "
                    "run `carebridge audit verify`");
      }
      if (auto s = next.append(leaf); !s) return s.error();
    }
  }
  auto stored = MerkleFrontier::fromBytes(state->frontier);
  if (!stored || stored->size() != size || stored->root() != next.root()) {
    return fail("audit log: the stored tree state at size " + std::to_string(size) +
                " does not match the entries. Not signing; run `carebridge audit verify`");
  }

  SignedCheckpoint out;
  out.checkpoint.origin = key_->name();
  out.checkpoint.size = size;
  out.checkpoint.root = next.root();
  out.checkpoint.time = std::chrono::sys_seconds(std::chrono::seconds(unixSeconds(now)));
  auto note = signCheckpoint(out.checkpoint, *key_);
  if (!note) return note.error();
  out.note = std::move(*note);
  store::AuditCheckpointRow row;
  row.tree_size = static_cast<std::int64_t>(size);
  row.root = out.checkpoint.root;
  row.time_s = unixSeconds(now);
  row.note = out.note;
  if (auto s = store_.appendAuditCheckpointSync(std::move(row)); !s) {
    return fail("storing the audit checkpoint at tree size " + std::to_string(size) + ": " + s.error().message);
  }
  signed_ = std::move(next);
  last_time_ = now;
  logger()->info("audit checkpoint signed: tree size {}, root {}", size, toHex(out.checkpoint.root));
  publish(out);
  return std::optional<SignedCheckpoint>(std::move(out));
}

void Checkpointer::publish(const SignedCheckpoint& cp) {
  for (auto& p : publishers_) {
    if (auto s = p->publish(cp); !s) {
      logger()->warn("audit checkpoint at tree size {} not published to {} (will retry): {}", cp.checkpoint.size,
                     p->describe(), s.error().message);
      pending_.push_back(Pending{p.get(), cp});
    }
  }
}

void Checkpointer::retryPending() {
  std::vector<Pending> still;
  for (auto& p : pending_) {
    if (auto s = p.publisher->publish(p.checkpoint); !s) {
      still.push_back(std::move(p));
    } else {
      logger()->info("audit checkpoint at tree size {} published to {} after a retry", p.checkpoint.checkpoint.size,
                     p.publisher->describe());
    }
  }
  pending_ = std::move(still);
}

std::optional<VerifierKey> Checkpointer::verifierKey() const {
  if (!key_) return std::nullopt;
  return key_->verifierKey();
}

std::uint64_t Checkpointer::checkpointedSize() const {
  std::lock_guard lock(mutex_);
  return signed_.size();
}

std::size_t Checkpointer::pendingPublications() const {
  std::lock_guard lock(mutex_);
  return pending_.size();
}

Result<std::optional<VerifierKey>> configuredVerifierKey(const config::AuditSettings& settings) {
  std::optional<VerifierKey> key;
  if (settings.verifier_key) {
    auto k = loadVerifierKeyFile(*settings.verifier_key);
    if (!k) return k.error();
    key = std::move(*k);
  } else if (settings.signing_key) {
    auto signer = loadSignerKeyFile(*settings.signing_key);
    if (!signer) return signer.error();
    key = signer->verifierKey();
  }
  return key;
}

}  // namespace cb::audit
