// Server: an HTTP/1.1 server on Boost.Beast and Asio C++20 coroutines, shared by the
// secure app and the read servers.
//
// One coroutine per connection reads requests with a bounded header (431) and body
// (413), a bounded time per request (slow clients are dropped), keep-alive, and Beast's
// strict parser: a request with both Content-Length and Transfer-Encoding, or two
// different Content-Lengths, is a 400 and the connection is closed (no request
// smuggling). HEAD gets the headers GET would. Each I/O thread runs its own io_context
// (accepted connections are dealt to them in turn), so threads share no reactor lock.
// Handlers either run on the I/O threads (they must not block) or, when handler_threads
// > 0, on a pool of that many threads where they may block (on PostgreSQL, Redis) without
// stalling other connections. A `fast_handler`, when set, is tried first on the I/O
// thread (an answer from memory, say); only when it declines does the request go to the
// handler. A handler that throws answers 500 and is logged; the connection survives.
//
// Thread-safety: Start and Stop are called from one owning thread; the handler is
// called concurrently from several threads.
#pragma once

#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"

namespace taquilla::http {

namespace bhttp = boost::beast::http;
using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;

// Who sent a request: the TCP peer address.
struct Peer {
  std::string address;
};

using Handler = std::function<Response(const Request&, const Peer&)>;
// Answers from the I/O thread without blocking, or declines (nullopt).
using FastHandler = std::function<std::optional<Response>(const Request&, const Peer&)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port, see Server::port()
  int io_threads = 1;
  int handler_threads = 0;  // > 0: run handlers on a blocking pool of this size
  size_t header_limit = 16 * 1024;
  size_t body_limit = 1024 * 1024;
  std::chrono::milliseconds request_timeout{30'000};  // idle keep-alive wait included
  std::string server_name = "taquilla";
  FastHandler fast_handler;  // optional
};

class Server {
 public:
  Server(ServerOptions options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens, then serves on background threads.
  Status Start();
  // The bound port (after Start).
  int port() const;
  // Stops accepting, closes connections and joins every thread. Idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace taquilla::http
