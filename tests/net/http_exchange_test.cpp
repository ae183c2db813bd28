// HTTP behaviour of the server and the pooled client over real TLS
// connections: limits, malformed input, keep-alive, timeouts, responders
// completed late or never, stopping.
#include "net_fixture.h"

#include <gmock/gmock.h>

#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <functional>
#include <future>
#include <thread>

namespace cb::net::test {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Kind = TransportFailure::Kind;

std::string describe(const ClientResult& r) {
  if (r.response) return "HTTP " + std::to_string(r.response->status);
  if (r.failure) return "failure: " + r.failure->message;
  return "empty result";
}

class HttpExchangeTest : public NetTest {
 protected:
  /// A raw TLS client with the carebridge certificate, handshake done.
  std::unique_ptr<RawClient> rawTls(std::uint16_t port) {
    auto raw = std::make_unique<RawClient>(port);
    EXPECT_TRUE(raw->connected()) << raw->error();
    EXPECT_TRUE(raw->handshake(DevCerts::path("carebridge.pem"), DevCerts::path("carebridge.key")))
        << raw->error();
    return raw;
  }

  /// A server whose handler parks every responder in pending_.
  HttpsServer& startParkingServer(ServerOptions options = {}) {
    if (!options.tls) options.tls = serverTls();
    return startServer(std::move(options), [this](HttpRequest&&, Responder respond) { pending_.add(respond); });
  }
};

TEST_F(HttpExchangeTest, BodyOverLimitGets413AndServerCarriesOn) {
  ServerOptions options;
  options.limits.body_limit = 1024;
  auto& server = startEchoServer(options);
  auto& client = makeClient();
  auto big = call(client, post(server.port(), std::string(4096, 'x')));
  ASSERT_TRUE(big.response) << describe(big);
  EXPECT_EQ(big.response->status, 413u);
  ASSERT_NE(big.response->header("Connection"), nullptr);
  EXPECT_EQ(*big.response->header("Connection"), "close");
  auto small = call(client, post(server.port(), std::string(1024, 'y')));
  ASSERT_TRUE(small.response) << describe(small);
  EXPECT_EQ(small.response->status, 200u);
  EXPECT_EQ(small.response->body.size(), 1024u);
}

TEST_F(HttpExchangeTest, MalformedRequestLineGets400) {
  auto& server = startEchoServer();
  auto raw = rawTls(server.port());
  ASSERT_TRUE(raw->send("GET /records HTTP/9.Z\r\nHost: localhost\r\n\r\n"));
  const std::string reply = raw->readAll();
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_FALSE(raw->timedOut()) << "connection not closed after 400";

  auto again = rawTls(server.port());
  ASSERT_TRUE(again->send("\x01\x02garbage\r\n\r\n"));
  EXPECT_THAT(again->readAll(), StartsWith("HTTP/1.1 400 "));
  EXPECT_EQ(handled(), 0u);
}

TEST_F(HttpExchangeTest, OversizeHeaderGets431) {
  ServerOptions options;
  options.limits.header_limit = 2048;
  auto& server = startEchoServer(options);
  auto raw = rawTls(server.port());
  ASSERT_TRUE(raw->send("GET /records HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + std::string(8192, 'p') +
                        "\r\n\r\n"));
  EXPECT_THAT(raw->readAll(), StartsWith("HTTP/1.1 431 "));
  EXPECT_FALSE(raw->timedOut());
  EXPECT_EQ(handled(), 0u);
}

// The server parses what one read brought before reading on; these cover the
// requests that do not arrive whole in one read.
TEST_F(HttpExchangeTest, RequestArrivingInPiecesIsAnsweredOnceComplete) {
  auto& server = startEchoServer();
  auto raw = rawTls(server.port());
  ASSERT_TRUE(raw->send("POST /records HTTP/1.1\r\nHost: local"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(raw->send("host\r\nContent-Length: 10\r\nConnection: close\r\n\r\nfirst"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(handled(), 0u) << "handled before the body was complete";
  ASSERT_TRUE(raw->send("-half"));
  const std::string reply = raw->readAll();
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(reply, HasSubstr("\r\n\r\nfirst-half"));
  EXPECT_FALSE(raw->timedOut());
  EXPECT_EQ(handled(), 1u);
}

TEST_F(HttpExchangeTest, PipelinedRequestsInOneWriteAreAnsweredInOrder) {
  auto& server = startEchoServer();
  auto raw = rawTls(server.port());
  ASSERT_TRUE(raw->send("POST /one HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc"
                        "POST /two HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\ndef"
                        "POST /three HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nConnection: close\r\n\r\nghi"));
  const std::string reply = raw->readAll();
  EXPECT_FALSE(raw->timedOut());
  const auto one = reply.find("X-Target: /one");
  const auto two = reply.find("X-Target: /two");
  const auto three = reply.find("X-Target: /three");
  ASSERT_NE(one, std::string::npos) << reply;
  ASSERT_NE(two, std::string::npos) << reply;
  ASSERT_NE(three, std::string::npos) << reply;
  EXPECT_LT(one, two);
  EXPECT_LT(two, three);
  EXPECT_THAT(reply, HasSubstr("\r\n\r\nabcHTTP/1.1 200 OK"));
  EXPECT_THAT(reply, HasSubstr("\r\n\r\ndefHTTP/1.1 200 OK"));
  EXPECT_EQ(handled(), 3u);
}

TEST_F(HttpExchangeTest, ExpectContinueGets100BeforeTheBodyIsSent) {
  auto& server = startEchoServer();
  auto raw = rawTls(server.port());
  ASSERT_TRUE(raw->send("POST /records HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
                        "Expect: 100-continue\r\nConnection: close\r\n\r\n"));
  const std::string interim = raw->readUntil("\r\n\r\n");
  ASSERT_FALSE(raw->timedOut()) << "no interim response";
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(raw->send("hello"));
  const std::string reply = raw->readAll();
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(reply, HasSubstr("\r\n\r\nhello"));
  EXPECT_EQ(handled(), 1u);
}

TEST_F(HttpExchangeTest, SilentClientAfterHandshakeIsDroppedAfterReadTimeout) {
  ServerOptions options;
  options.limits.read_timeout = std::chrono::milliseconds(300);
  auto& server = startEchoServer(options);
  auto raw = rawTls(server.port());
  raw->readAll();
  EXPECT_FALSE(raw->timedOut()) << "server kept a silent TLS connection open";
  EXPECT_EQ(handled(), 0u);
}

TEST_F(HttpExchangeTest, KeepAliveReusesOneConnectionForSequentialRequests) {
  auto& server = startEchoServer();
  auto& client = makeClient();
  for (int i = 0; i < 100; ++i) {
    auto r = call(client, post(server.port(), "message " + std::to_string(i)));
    ASSERT_TRUE(r.response) << i << ": " << describe(r);
    ASSERT_EQ(r.response->body, "message " + std::to_string(i));
  }
  EXPECT_EQ(remotes().size(), 1u);
  EXPECT_EQ(server.connectionCount(), 1u);
}

TEST_F(HttpExchangeTest, ConcurrentRequestsUseAtMostMaxConnectionsPerOrigin) {
  auto& server = startEchoServer();
  auto options = clientOptions(clientTls());
  options.max_connections_per_origin = 4;
  auto& client = makeClient(options);
  constexpr int kRequests = 200;
  std::vector<std::future<ClientResult>> results;
  for (int i = 0; i < kRequests; ++i) {
    results.push_back(send(client, post(server.port(), "n" + std::to_string(i))));
  }
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_EQ(results[static_cast<std::size_t>(i)].wait_for(std::chrono::seconds(20)), std::future_status::ready);
    auto r = results[static_cast<std::size_t>(i)].get();
    ASSERT_TRUE(r.response) << i << ": " << describe(r);
    EXPECT_EQ(r.response->body, "n" + std::to_string(i));
  }
  EXPECT_EQ(handled(), static_cast<std::size_t>(kRequests));
  EXPECT_LE(remotes().size(), 4u);
  EXPECT_GE(remotes().size(), 1u);
}

TEST_F(HttpExchangeTest, ABurstOfRequestsOpensTwoConnectionsAtATimeNotOnePerRequest) {
  // A listener whose connections never answer the TLS ClientHello: every
  // connection the client opens stays in its handshake.
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor listener(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  std::atomic<int> accepted{0};
  std::vector<boost::asio::ip::tcp::socket> held;
  std::function<void()> acceptNext = [&] {
    listener.async_accept([&](const boost::system::error_code& ec, boost::asio::ip::tcp::socket s) {
      if (ec) return;
      ++accepted;
      held.push_back(std::move(s));
      acceptNext();
    });
  };
  acceptNext();
  std::thread acceptor([&io] { io.run(); });

  auto options = clientOptions(clientTls());
  options.max_connections_per_origin = 8;
  auto& client = makeClient(options);
  constexpr int kRequests = 6;
  std::vector<std::future<ClientResult>> results;
  for (int i = 0; i < kRequests; ++i) {
    auto request = post(listener.local_endpoint().port());
    request.timeout = std::chrono::milliseconds(600);
    results.push_back(send(client, std::move(request)));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(accepted.load(), 2) << "six waiting requests, two connections opening";
  for (auto& f : results) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    auto r = f.get();
    ASSERT_TRUE(r.failure) << describe(r);
    EXPECT_EQ(r.failure->kind, Kind::Timeout) << r.failure->message;
  }
  io.stop();
  acceptor.join();
}

TEST_F(HttpExchangeTest, ClientTimesOutWhenHandlerNeverResponds) {
  auto& server = startParkingServer();
  auto request = post(server.port());
  request.timeout = std::chrono::milliseconds(300);
  auto r = call(makeClient(), request);
  ASSERT_TRUE(r.failure) << describe(r);
  EXPECT_EQ(r.failure->kind, Kind::Timeout);
  EXPECT_THAT(r.failure->message, HasSubstr("300 ms"));
}

TEST_F(HttpExchangeTest, HandlerThatNeverRespondsGets503AfterHandlerTimeout) {
  ServerOptions options;
  options.limits.handler_timeout = std::chrono::milliseconds(200);
  auto& server = startParkingServer(options);
  auto r = call(makeClient(), post(server.port()));
  ASSERT_TRUE(r.response) << describe(r);
  EXPECT_EQ(r.response->status, 503u);
  // The late answer is ignored rather than written to a finished exchange.
  ASSERT_EQ(pending_.waitFor(1), 1u);
  pending_.take()(HttpResponse{200, {}, "too late"});
}

TEST_F(HttpExchangeTest, DroppedResponderGets500) {
  auto& server = startServer(tlsServerOptions(), [](HttpRequest&&, Responder) {});
  auto r = call(makeClient(), post(server.port()));
  ASSERT_TRUE(r.response) << describe(r);
  EXPECT_EQ(r.response->status, 500u);
}

TEST_F(HttpExchangeTest, ThrowingHandlerGets500) {
  auto& server = startServer(tlsServerOptions(), [](HttpRequest&&, Responder) {
    throw std::runtime_error("mapping exploded");
  });
  auto r = call(makeClient(), post(server.port()));
  ASSERT_TRUE(r.response) << describe(r);
  EXPECT_EQ(r.response->status, 500u);
}

TEST_F(HttpExchangeTest, ResponderCalledLaterFromAnotherThread) {
  std::vector<std::thread> workers;
  std::mutex workers_mutex;
  auto& server = startServer(tlsServerOptions(), [&](HttpRequest&& req, Responder respond) {
    std::lock_guard lock(workers_mutex);
    workers.emplace_back([respond, body = std::move(req.body)] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      respond(HttpResponse{202, {{"X-Worker", "yes"}}, "accepted " + body});
      respond(HttpResponse{500, {}, "second call must be ignored"});
    });
  });
  auto& client = makeClient();
  for (int i = 0; i < 3; ++i) {
    auto r = call(client, post(server.port(), std::to_string(i)));
    ASSERT_TRUE(r.response) << describe(r);
    EXPECT_EQ(r.response->status, 202u);
    EXPECT_EQ(r.response->body, "accepted " + std::to_string(i));
  }
  for (auto& t : workers) t.join();
}

TEST_F(HttpExchangeTest, StopWhileHandlerPendingStillDeliversTheResponse) {
  auto& server = startParkingServer();
  auto& client = makeClient();
  auto future = send(client, post(server.port()));
  ASSERT_EQ(pending_.waitFor(1), 1u);
  const auto port = server.port();
  server.stop();
  server.stop();  // idempotent
  pending_.take()(HttpResponse{200, {}, "answered after stop"});
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto r = future.get();
  ASSERT_TRUE(r.response) << describe(r);
  EXPECT_EQ(r.response->body, "answered after stop");
  ASSERT_NE(r.response->header("Connection"), nullptr);
  EXPECT_EQ(*r.response->header("Connection"), "close");

  auto refused = call(client, post(port));
  ASSERT_TRUE(refused.failure) << describe(refused);
  EXPECT_EQ(refused.failure->kind, Kind::Connect);
}

TEST_F(HttpExchangeTest, StopClosesIdleKeepAliveConnections) {
  auto& server = startEchoServer();
  auto raw = rawTls(server.port());
  ASSERT_TRUE(raw->send("GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  // Wait for the response, then stop while the connection idles.
  for (int i = 0; i < 100 && handled() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  server.stop();
  const std::string all = raw->readAll();
  EXPECT_THAT(all, StartsWith("HTTP/1.1 200 OK"));
  EXPECT_FALSE(raw->timedOut()) << "idle connection left open after stop()";
}

TEST_F(HttpExchangeTest, PlainHttpIsRefusedOffLoopbackAndWorksOnLoopback) {
  ServerOptions exposed;
  exposed.listen = Endpoint{"0.0.0.0", 0};
  auto refused = HttpsServer::start(io_, exposed, [](HttpRequest&&, Responder) {});
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("0.0.0.0"));
  EXPECT_THAT(refused.error().message, HasSubstr("loopback"));

  auto& server = startServer(ServerOptions{}, [](HttpRequest&& req, Responder respond) {
    respond(HttpResponse{200, {}, (req.peer.common_name.empty() ? "anonymous from " : "?") + req.peer.remote_address});
  });
  auto& client = makeClient(clientOptions(nullptr));
  ClientRequest get;
  get.method = "GET";
  get.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/health";
  auto r = call(client, get);
  ASSERT_TRUE(r.response) << describe(r);
  EXPECT_THAT(r.response->body, StartsWith("anonymous from 127.0.0.1:"));
}

TEST_F(HttpExchangeTest, ClientRefusesPlainHttpOffLoopbackAndBadUrls) {
  auto& client = makeClient();
  ClientRequest request;
  request.url = "http://192.0.2.10/records";
  auto r = call(client, request);
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->kind, Kind::Protocol);
  EXPECT_THAT(r.failure->message, HasSubstr("192.0.2.10"));

  request.url = "https://user:secret@127.0.0.1:1/";
  r = call(client, request);
  ASSERT_TRUE(r.failure);
  EXPECT_THAT(r.failure->message, HasSubstr("user information"));

  request.url = "not a url";
  r = call(client, request);
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->kind, Kind::Protocol);
}

TEST_F(HttpExchangeTest, ClientStopCancelsQueuedAndRunningRequests) {
  auto& server = startParkingServer();
  auto options = clientOptions(clientTls());
  options.max_connections_per_origin = 1;
  auto& client = makeClient(options);
  std::vector<std::future<ClientResult>> results;
  for (int i = 0; i < 3; ++i) {
    results.push_back(send(client, post(server.port())));
  }
  ASSERT_EQ(pending_.waitFor(1), 1u);  // one in flight, two queued
  client.stop();
  for (auto& f : results) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    auto r = f.get();
    ASSERT_TRUE(r.failure) << describe(r);
    EXPECT_EQ(r.failure->kind, Kind::Cancelled);
  }
  auto after = call(client, post(server.port()));
  ASSERT_TRUE(after.failure);
  EXPECT_EQ(after.failure->kind, Kind::Cancelled);
}

TEST_F(HttpExchangeTest, QueuedRequestTimesOutWaitingForAConnection) {
  auto& server = startParkingServer();
  auto options = clientOptions(clientTls());
  options.max_connections_per_origin = 1;
  auto& client = makeClient(options);
  client.request(post(server.port()), [](ClientResult) {});
  ASSERT_EQ(pending_.waitFor(1), 1u);
  auto queued = post(server.port());
  queued.timeout = std::chrono::milliseconds(200);
  auto r = call(client, queued);
  ASSERT_TRUE(r.failure) << describe(r);
  EXPECT_EQ(r.failure->kind, Kind::Timeout);
  EXPECT_THAT(r.failure->message, HasSubstr("free connection"));
}

TEST_F(HttpExchangeTest, RequestOnConnectionClosedByServerIsRetriedOnce) {
  ServerOptions options;
  options.limits.idle_timeout = std::chrono::milliseconds(100);
  auto& server = startEchoServer(options);
  auto& client = makeClient();
  auto first = call(client, post(server.port(), "one"));
  ASSERT_TRUE(first.response) << describe(first);
  // The server closes the idle connection; the client still holds it pooled.
  for (int i = 0; i < 200 && server.connectionCount() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(server.connectionCount(), 0u);
  auto second = call(client, post(server.port(), "two"));
  ASSERT_TRUE(second.response) << describe(second);
  EXPECT_EQ(second.response->body, "two");
  EXPECT_EQ(handled(), 2u);
  EXPECT_EQ(remotes().size(), 2u);
}

TEST_F(HttpExchangeTest, ResponseOverClientLimitIsAProtocolFailure) {
  auto& server = startEchoServer();
  auto options = clientOptions(clientTls());
  options.response_body_limit = 1000;
  auto r = call(makeClient(options), post(server.port(), std::string(5000, 'z')));
  ASSERT_TRUE(r.failure) << describe(r);
  EXPECT_EQ(r.failure->kind, Kind::Protocol);
  EXPECT_THAT(r.failure->message, HasSubstr("1000"));
}

TEST_F(HttpExchangeTest, RefusedConnectionIsAConnectFailure) {
  std::uint16_t port = 0;
  {
    // A port that was free a moment ago and has no listener now.
    boost::asio::ip::tcp::acceptor probe(io_, {boost::asio::ip::address_v4::loopback(), 0});
    port = probe.local_endpoint().port();
  }
  auto r = call(makeClient(), post(port));
  ASSERT_TRUE(r.failure) << describe(r);
  EXPECT_EQ(r.failure->kind, Kind::Connect);
  EXPECT_THAT(r.failure->message, HasSubstr("127.0.0.1:" + std::to_string(port)));
}

TEST_F(HttpExchangeTest, HeadAndEmptyResponsesKeepTheConnectionUsable) {
  auto& server = startServer(tlsServerOptions(), [](HttpRequest&& req, Responder respond) {
    if (req.method == "HEAD") return respond(HttpResponse{200, {}, "twelve bytes"});
    respond(HttpResponse{204, {}, {}});
  });
  auto& client = makeClient();
  ClientRequest head;
  head.method = "HEAD";
  head.url = url(server.port(), "/");
  auto h = call(client, head);
  ASSERT_TRUE(h.response) << describe(h);
  EXPECT_EQ(h.response->status, 200u);
  EXPECT_TRUE(h.response->body.empty());
  ASSERT_NE(h.response->header("Content-Length"), nullptr);
  EXPECT_EQ(*h.response->header("Content-Length"), "12");
  auto e = call(client, post(server.port()));
  ASSERT_TRUE(e.response) << describe(e);
  EXPECT_EQ(e.response->status, 204u);
  EXPECT_EQ(server.connectionCount(), 1u);
}

/// Waits (at most 5 s) until the server has `n` open connections.
bool waitForConnections(const HttpsServer& server, std::size_t n) {
  for (int i = 0; i < 500 && server.connectionCount() != n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return server.connectionCount() == n;
}

TEST_F(HttpExchangeTest, ClientClosesPooledConnectionsAfterIdleTimeout) {
  auto& server = startEchoServer();
  auto options = clientOptions(clientTls());
  options.idle_timeout = std::chrono::milliseconds(100);
  auto& client = makeClient(options);
  auto r = call(client, post(server.port()));
  ASSERT_TRUE(r.response) << describe(r);
  EXPECT_TRUE(waitForConnections(server, 0)) << server.connectionCount() << " connections still open";
  auto again = call(client, post(server.port()));
  ASSERT_TRUE(again.response) << describe(again);
}

TEST_F(HttpExchangeTest, ClientStopClosesIdleConnections) {
  auto& server = startEchoServer();
  auto& client = makeClient();
  auto r = call(client, post(server.port()));
  ASSERT_TRUE(r.response) << describe(r);
  ASSERT_EQ(server.connectionCount(), 1u);
  client.stop();
  client.stop();  // idempotent
  EXPECT_TRUE(waitForConnections(server, 0)) << server.connectionCount() << " connections still open";
}

TEST_F(HttpExchangeTest, ConnectionsBeyondMaxConnectionsAreClosedAtOnce) {
  ServerOptions options;
  options.limits.max_connections = 1;
  auto& server = startEchoServer(options);
  auto first = rawTls(server.port());
  ASSERT_TRUE(waitForConnections(server, 1));
  RawClient second(server.port());
  ASSERT_TRUE(second.connected()) << second.error();
  EXPECT_FALSE(second.handshake(DevCerts::path("carebridge.pem"), DevCerts::path("carebridge.key")));
  // The first connection is unaffected.
  ASSERT_TRUE(first->send("GET /still-here HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
  EXPECT_THAT(first->readAll(), StartsWith("HTTP/1.1 200 OK"));
}

TEST_F(HttpExchangeTest, ReusePortLetsASecondListenerBindTheSamePort) {
  auto& first = startEchoServer();
  ServerOptions same;
  same.tls = serverTls();
  same.listen = Endpoint{"127.0.0.1", first.port()};
  auto& second = startServer(same, [](HttpRequest&&, Responder respond) { respond(HttpResponse{}); });
  EXPECT_EQ(second.port(), first.port());

  ServerOptions exclusive = same;
  exclusive.reuse_port = false;
  auto refused = HttpsServer::start(io_, exclusive, [](HttpRequest&&, Responder) {});
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("127.0.0.1:" + std::to_string(first.port())));
}

}  // namespace
}  // namespace cb::net::test
