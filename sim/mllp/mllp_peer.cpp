#include "mllp_peer.h"

#include "codec/hl7v2/ack.h"
#include "codec/hl7v2/er7.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <array>
#include <future>

namespace cb::sim {

namespace asio = boost::asio;
namespace hl7 = codec::hl7v2;
using tcp = asio::ip::tcp;

namespace {

std::string valueOr(const hl7::Message& m, std::string_view path) {
  auto v = m.value(path);
  return v ? *v : std::string();
}

}  // namespace

AckSummary summariseAck(const std::string& er7) {
  AckSummary s;
  s.raw = er7;
  auto m = hl7::parse(er7);
  if (!m) return s;
  s.code = valueOr(*m, "MSA-1");
  s.control_id = valueOr(*m, "MSA-2");
  for (const char* path : {"ERR-8", "ERR-3.2", "MSA-3", "ERR-1.4.2"}) {
    s.text = valueOr(*m, path);
    if (!s.text.empty()) break;
  }
  return s;
}

std::string controlIdOf(const std::string& er7) {
  auto m = hl7::parse(er7);
  return m ? m->controlId() : std::string();
}

// ---- MllpSender

MllpSender::MllpSender(std::string endpoint, mllp::TlsFiles tls, std::string server_name)
    : endpoint_(std::move(endpoint)), server_name_(std::move(server_name)) {
  std::tie(host_, port_) = mllp::splitEndpoint(endpoint_);
  if (server_name_.empty()) server_name_ = host_;
  if (tls.enabled()) tls_ = mllp::makeTlsContext(false, tls);
}

MllpSender::~MllpSender() { close(); }

bool MllpSender::runUntil(const bool& finished, std::chrono::steady_clock::time_point deadline) {
  io_.restart();
  while (!finished) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    io_.run_one_for(deadline - now);
  }
  if (finished) return true;
  // Timed out: abort the operation and let its handler run.
  if (link_) link_->close();
  io_.restart();
  while (!finished && io_.run_one() > 0) {
  }
  return false;
}

bool MllpSender::ensureConnected(std::chrono::milliseconds timeout) {
  if (link_) return true;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  link_ = std::make_unique<mllp::Link>(io_.get_executor(), tls_, plain_);
  link_->expectServerName(server_name_);
  reader_ = mllp::FrameReader(64u << 20);
  boost::system::error_code ec;
  tcp::resolver resolver(io_);
  auto results = resolver.resolve(host_, port_, ec);
  if (!ec) {
    bool done = false;
    asio::async_connect(link_->socket(), results, [&](boost::system::error_code e, const tcp::endpoint&) {
      ec = e;
      done = true;
    });
    if (!runUntil(done, deadline)) ec = asio::error::timed_out;
  }
  if (!ec && link_->tls()) {
    bool done = false;
    link_->asyncHandshake(asio::ssl::stream_base::client, [&](boost::system::error_code e) {
      ec = e;
      done = true;
    });
    if (!runUntil(done, deadline)) ec = asio::error::timed_out;
  }
  if (ec) {
    error_ = "cannot connect to " + endpoint_ + ": " + ec.message();
    close();
    return false;
  }
  return true;
}

bool MllpSender::sendRaw(const std::string& bytes, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (!ensureConnected(timeout)) return false;
  bool done = false;
  boost::system::error_code ec;
  link_->asyncWrite(asio::buffer(bytes), [&](boost::system::error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  if (!runUntil(done, deadline) || ec) {
    error_ = "cannot send to " + endpoint_ + ": " + (ec ? ec.message() : "timed out");
    close();
    return false;
  }
  return true;
}

std::optional<std::string> MllpSender::receive(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::array<char, 16384> buf{};
  for (;;) {
    std::string body;
    if (reader_.next(body) != mllp::FrameReader::Event::NeedMore) return body;
    if (!link_) {
      error_ = "not connected";
      return std::nullopt;
    }
    bool done = false;
    boost::system::error_code ec;
    std::size_t n = 0;
    link_->asyncReadSome(asio::buffer(buf), [&](boost::system::error_code e, std::size_t got) {
      ec = e;
      n = got;
      done = true;
    });
    if (!runUntil(done, deadline)) {
      error_ = "no ACK within " + std::to_string(timeout.count()) + " ms";
      close();
      return std::nullopt;
    }
    if (ec) {
      error_ = ec == asio::error::eof ? "connection closed by " + endpoint_ : ec.message();
      close();
      return std::nullopt;
    }
    reader_.feed(std::string_view(buf.data(), n));
  }
}

std::optional<std::string> MllpSender::send(const std::string& message, std::chrono::milliseconds timeout) {
  if (!sendRaw(mllp::frame(message), timeout)) return std::nullopt;
  return receive(timeout);
}

bool MllpSender::closedByPeer(std::chrono::milliseconds wait) {
  if (!link_) return true;
  auto r = receive(wait);
  return !r && error_.find("closed") != std::string::npos;
}

void MllpSender::close() {
  if (!link_) return;
  link_->close();
  io_.restart();
  io_.poll();
  link_.reset();
}

// ---- MllpReceiver

class MllpReceiver::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(MllpReceiver& owner)
      : owner_(owner), link_(owner.io_.get_executor(), owner.tls_, owner.plain_), reader_(64u << 20) {}
  mllp::Link& link() { return link_; }

  void start() {
    if (!link_.tls()) {
      read();
      return;
    }
    link_.asyncHandshake(asio::ssl::stream_base::server, [self = shared_from_this()](boost::system::error_code ec) {
      if (ec) {
        ++self->owner_.tls_refused_;
        self->link_.close();
        return;
      }
      self->peer_cn_ = self->link_.peerCommonName();
      self->read();
    });
  }
  void close() { link_.close(); }

 private:
  void read() {
    std::string body;
    if (reader_.next(body) != mllp::FrameReader::Event::NeedMore) {
      handle(body);
      return;
    }
    link_.asyncReadSome(asio::buffer(buf_), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
      if (ec) {
        self->link_.close();
        return;
      }
      self->reader_.feed(std::string_view(self->buf_.data(), n));
      self->read();
    });
  }

  void handle(const std::string& body) {
    Received r{controlIdOf(body), body, peer_cn_};
    const Answer answer = owner_.decider_ ? owner_.decider_(r) : owner_.answer_.load();
    std::string code;
    std::string ack;
    auto msg = hl7::parse(body);
    if (answer != Answer::Silent) {
      hl7::AckRequest req;
      static std::atomic<int> counter{0};
      req.control_id = "SIM" + std::to_string(++counter);
      switch (answer) {
        case Answer::AA: req.code = hl7::AckCode::ApplicationAccept; break;
        case Answer::AE: req.code = hl7::AckCode::ApplicationError; break;
        case Answer::AR: req.code = hl7::AckCode::ApplicationReject; break;
        case Answer::CA: req.code = hl7::AckCode::CommitAccept; break;
        case Answer::Silent: break;
      }
      if (answer == Answer::AE || answer == Answer::AR) {
        req.errors.push_back({hl7::ErrorCondition::ApplicationInternalError, hl7::Severity::Error, std::nullopt,
                              "refused by the simulator as told"});
      }
      if (msg) {
        auto built = hl7::buildAck(*msg, req);
        if (built) ack = hl7::write(*built);
      }
      if (ack.empty()) ack = "MSH|^~\\&|||||||ACK|SIMX|P|2.5\rMSA|AE|\r";
      code = std::string(hl7::ackCodeText(msg ? req.code : hl7::AckCode::ApplicationError));
    }
    {
      std::lock_guard lock(owner_.mutex_);
      if (!r.control_id.empty() && !owner_.ids_.insert(r.control_id).second) ++owner_.repeats_;
      owner_.received_.push_back(r);
    }
    owner_.cv_.notify_all();
    if (owner_.observer_) owner_.observer_(r, answer == Answer::Silent ? "none" : code);
    if (answer == Answer::Silent) {
      read();
      return;
    }
    out_ = mllp::frame(ack);
    link_.asyncWrite(asio::buffer(out_), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      if (ec) {
        self->link_.close();
        return;
      }
      self->read();
    });
  }

  MllpReceiver& owner_;
  mllp::Link link_;
  mllp::FrameReader reader_;
  std::array<char, 16384> buf_{};
  std::string out_;
  std::string peer_cn_;
};

MllpReceiver::MllpReceiver(const std::string& endpoint, mllp::TlsFiles tls, Observer observer, Decider decider)
    : acceptor_(io_), observer_(std::move(observer)), decider_(std::move(decider)) {
  if (tls.enabled()) tls_ = mllp::makeTlsContext(true, tls);
  const auto [host, port] = mllp::splitEndpoint(endpoint);
  tcp::resolver resolver(io_);
  const tcp::endpoint ep = *resolver.resolve(host, port, tcp::resolver::passive).begin();
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
  accept();
  thread_ = std::thread([this] { io_.run(); });
}

MllpReceiver::~MllpReceiver() { stop(); }

void MllpReceiver::accept() {
  auto session = std::make_shared<Session>(*this);
  acceptor_.async_accept(session->link().socket(), [this, session](boost::system::error_code ec) {
    if (ec) return;  // closed
    ++connections_;
    {
      std::lock_guard lock(mutex_);
      sessions_.push_back(session);
    }
    session->start();
    accept();
  });
}

void MllpReceiver::dropConnections() {
  std::promise<void> done;
  asio::post(io_, [this, &done] {
    std::lock_guard lock(mutex_);
    for (auto& w : sessions_) {
      if (auto s = w.lock()) s->close();
    }
    sessions_.clear();
    done.set_value();
  });
  done.get_future().wait();
}

void MllpReceiver::stop() {
  if (!thread_.joinable()) return;
  asio::post(io_, [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
    std::lock_guard lock(mutex_);
    for (auto& w : sessions_) {
      if (auto s = w.lock()) s->close();
    }
    sessions_.clear();
  });
  thread_.join();
}

std::vector<MllpReceiver::Received> MllpReceiver::received() const {
  std::lock_guard lock(mutex_);
  return received_;
}

std::size_t MllpReceiver::distinct() const {
  std::lock_guard lock(mutex_);
  return ids_.size();
}

std::size_t MllpReceiver::repeats() const {
  std::lock_guard lock(mutex_);
  return repeats_;
}

bool MllpReceiver::waitFor(std::size_t distinct, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return ids_.size() >= distinct; });
}

}  // namespace cb::sim
