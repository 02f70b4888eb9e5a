#include "http/server.h"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <thread>
#include <vector>

#include "common/log.h"
#include "http/response.h"

namespace taquilla::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

struct Server::Impl {
  ServerOptions options;
  Handler handler;
  // One io_context per I/O thread, each kept running by a work guard (an idle context
  // would otherwise return from run() at once); the acceptor lives on the first.
  std::vector<std::unique_ptr<asio::io_context>> iocs;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  size_t next_ioc = 0;
  std::unique_ptr<asio::thread_pool> pool;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  int port = 0;
  bool running = false;
  std::shared_ptr<spdlog::logger> log = Logger("http");

  Response Call(const Request& req, const Peer& peer) {
    try {
      return handler(req, peer);
    } catch (const std::exception& e) {
      log->error("handler failed on {} {}: {}", std::string(req.method_string()),
                 std::string(req.target()), e.what());
    } catch (...) {
      log->error("handler failed on {} {}", std::string(req.method_string()),
                 std::string(req.target()));
    }
    return ErrorResponse(bhttp::status::internal_server_error, "internal",
                         "The server failed to answer this request.");
  }

  // The fast handler's answer, or nullopt (declined, or it threw: the handler retries).
  std::optional<Response> CallFast(const Request& req, const Peer& peer) {
    try {
      return options.fast_handler(req, peer);
    } catch (const std::exception& e) {
      log->warn("fast handler failed on {}: {}", std::string(req.target()), e.what());
    } catch (...) {
      log->warn("fast handler failed on {}", std::string(req.target()));
    }
    return std::nullopt;
  }

  awaitable<Response> CallOnPool(const Request& req, const Peer& peer) {
    co_return co_await asio::co_spawn(
        pool->get_executor(), [&]() -> awaitable<Response> { co_return Call(req, peer); },
        use_awaitable);
  }

  awaitable<void> Session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    Peer peer;
    {
      boost::system::error_code ec;
      auto ep = stream.socket().remote_endpoint(ec);
      if (!ec) peer.address = ep.address().to_string();
    }
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<uint32_t>(options.header_limit));
      parser.body_limit(options.body_limit);
      stream.expires_after(options.request_timeout);
      auto [ec, n] =
          co_await bhttp::async_read(stream, buffer, parser, asio::as_tuple(use_awaitable));
      (void)n;
      if (ec) {
        if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
            ec == asio::error::connection_reset || ec == beast::error::timeout ||
            ec == asio::error::operation_aborted) {
          break;
        }
        Response res;
        if (ec == bhttp::error::body_limit) {
          res =
              ErrorResponse(bhttp::status::payload_too_large, "payload_too_large",
                            fmt::format("The request body is over {} bytes.", options.body_limit));
        } else if (ec == bhttp::error::header_limit) {
          res = ErrorResponse(
              bhttp::status::request_header_fields_too_large, "headers_too_large",
              fmt::format("The request headers are over {} bytes.", options.header_limit));
        } else {
          res = ErrorResponse(bhttp::status::bad_request, "bad_request",
                              fmt::format("Malformed HTTP request: {}.", ec.message()));
        }
        res.keep_alive(false);
        res.set(bhttp::field::server, options.server_name);
        res.prepare_payload();
        stream.expires_after(std::chrono::seconds(5));
        co_await bhttp::async_write(stream, res, asio::as_tuple(use_awaitable));
        break;
      }
      stream.expires_never();
      Request req = parser.release();
      // (GCC 12 miscompiles co_await inside ?:, so this is an if.)
      Response res;
      std::optional<Response> fast;
      if (options.fast_handler) fast = CallFast(req, peer);
      if (fast) {
        res = std::move(*fast);
      } else if (pool) {
        res = co_await CallOnPool(req, peer);
      } else {
        res = Call(req, peer);
      }
      res.version(req.version());
      res.keep_alive(req.keep_alive() && res.keep_alive());
      res.set(bhttp::field::server, options.server_name);
      res.prepare_payload();
      stream.expires_after(options.request_timeout);
      boost::system::error_code wec;
      if (req.method() == bhttp::verb::head) {
        bhttp::response<bhttp::empty_body> head{res.base()};
        head.content_length(res.body().size());
        bhttp::response_serializer<bhttp::empty_body> sr{head};
        std::tie(wec, std::ignore) =
            co_await bhttp::async_write_header(stream, sr, asio::as_tuple(use_awaitable));
      } else {
        std::tie(wec, std::ignore) =
            co_await bhttp::async_write(stream, res, asio::as_tuple(use_awaitable));
      }
      if (wec || !res.keep_alive()) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  awaitable<void> Accept() {
    for (;;) {
      asio::io_context& target = *iocs[next_ioc++ % iocs.size()];
      auto [ec, socket] = co_await acceptor->async_accept(target, asio::as_tuple(use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
        log->warn("accept failed: {}", ec.message());
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      auto executor = socket.get_executor();
      asio::co_spawn(executor, Session(std::move(socket)), asio::detached);
    }
  }
};

Server::Server(ServerOptions options, Handler handler) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
}

Server::~Server() { Stop(); }

int Server::port() const { return impl_->port; }

Status Server::Start() {
  Impl& s = *impl_;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(s.options.host, ec);
  if (ec) {
    return MakeError(ErrorCode::kInvalidArgument, "'{}' is not an IP address", s.options.host);
  }
  tcp::endpoint ep(addr, static_cast<uint16_t>(s.options.port));
  for (int i = 0; i < std::max(1, s.options.io_threads); ++i) {
    s.iocs.push_back(std::make_unique<asio::io_context>(1));
    s.guards.push_back(asio::make_work_guard(*s.iocs.back()));
  }
  s.acceptor = std::make_unique<tcp::acceptor>(*s.iocs[0]);
  s.acceptor->open(ep.protocol(), ec);
  if (!ec) s.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor->bind(ep, ec);
  if (!ec) s.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return MakeError(ErrorCode::kUnavailable, "cannot listen on {}:{}: {}", s.options.host,
                     s.options.port, ec.message());
  }
  s.port = s.acceptor->local_endpoint().port();
  if (s.options.handler_threads > 0) {
    s.pool = std::make_unique<asio::thread_pool>(s.options.handler_threads);
  }
  asio::co_spawn(*s.iocs[0], s.Accept(), asio::detached);
  s.running = true;
  for (auto& ioc : s.iocs) {
    s.threads.emplace_back([io = ioc.get()] { io->run(); });
  }
  return Ok();
}

void Server::Stop() {
  Impl& s = *impl_;
  if (!s.running) return;
  s.running = false;
  boost::system::error_code ec;
  asio::post(*s.iocs[0], [&s] {
    boost::system::error_code ignored;
    s.acceptor->close(ignored);
  });
  s.guards.clear();
  for (auto& ioc : s.iocs) ioc->stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
  if (s.pool) s.pool->join();
}

}  // namespace taquilla::http
