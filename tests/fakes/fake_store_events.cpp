#include "fakes/fake_store_events.h"

namespace cb::test {

std::string FakeStoreEvents::messageId(std::size_t n) {
  return "0190f3a0-0000-7000-8000-" + std::to_string(100000000000ULL + n);
}

void FakeStoreEvents::submit(const plugin_host::Adapter&, plugin_host::InboundSubmission record, Reply reply) {
  std::unique_lock lock(mutex_);
  received_.push_back(record);
  if (mode_ == Mode::Hold) {
    held_.emplace_back(std::move(record), std::move(reply));
    lock.unlock();
    cv_.notify_all();
    return;
  }
  auto answer = answerLocked(record, mode_);
  lock.unlock();
  cv_.notify_all();
  reply(std::move(answer));
}

void FakeStoreEvents::tlsRefused(const plugin_host::Adapter&, const net::TlsRefusal&) {
  std::lock_guard lock(mutex_);
  ++tls_refusals_;
}

void FakeStoreEvents::setMode(Mode mode, std::string reason) {
  std::lock_guard lock(mutex_);
  mode_ = mode;
  reason_ = std::move(reason);
}

void FakeStoreEvents::releaseAll() {
  std::vector<std::pair<plugin_host::InboundSubmission, Reply>> held;
  std::vector<plugin_host::SubmitReply> answers;
  {
    std::lock_guard lock(mutex_);
    mode_ = Mode::Store;
    held.swap(held_);
    for (const auto& [r, reply] : held) answers.push_back(answerLocked(r, Mode::Store));
  }
  cv_.notify_all();
  for (std::size_t i = 0; i < held.size(); ++i) held[i].second(std::move(answers[i]));
}

std::vector<plugin_host::InboundSubmission> FakeStoreEvents::received() const {
  std::lock_guard lock(mutex_);
  return received_;
}

std::size_t FakeStoreEvents::receivedCount() const {
  std::lock_guard lock(mutex_);
  return received_.size();
}

std::size_t FakeStoreEvents::heldCount() const {
  std::lock_guard lock(mutex_);
  return held_.size();
}

std::size_t FakeStoreEvents::stored() const {
  std::lock_guard lock(mutex_);
  return stored_;
}

std::size_t FakeStoreEvents::tlsRefusals() const {
  std::lock_guard lock(mutex_);
  return tls_refusals_;
}

bool FakeStoreEvents::waitReceived(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return received_.size() >= n; });
}

bool FakeStoreEvents::waitHeld(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return held_.size() >= n; });
}

plugin_host::SubmitReply FakeStoreEvents::answerLocked(const plugin_host::InboundSubmission& r, Mode mode) {
  switch (mode) {
    case Mode::Refuse: return {CB_SUBMIT_REFUSED, {}, reason_.empty() ? "refused by the fake store" : reason_};
    case Mode::Unavailable: return {CB_SUBMIT_UNAVAILABLE, {}, reason_.empty() ? "store is failing" : reason_};
    case Mode::Store:
    case Mode::Hold: break;
  }
  if (!r.sender_message_id.empty()) {
    auto it = by_sender_.find(r.sender_message_id);
    if (it != by_sender_.end()) return {CB_SUBMIT_DUPLICATE, it->second, {}};
  }
  std::string id = messageId(++stored_);
  if (!r.sender_message_id.empty()) by_sender_[r.sender_message_id] = id;
  return {CB_SUBMIT_STORED, std::move(id), {}};
}

}  // namespace cb::test
