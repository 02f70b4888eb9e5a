#include "testing/http_client.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

namespace taquilla::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

boost::json::value HttpReply::json() const {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  return ec ? boost::json::value(nullptr) : v;
}

std::string HttpReply::error_code() const {
  auto v = json();
  if (!v.is_object()) return "";
  auto* e = v.as_object().if_contains("error");
  if (!e || !e->is_object()) return "";
  auto* c = e->as_object().if_contains("code");
  return c && c->is_string() ? std::string(c->as_string()) : "";
}

std::string HttpReply::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

struct HttpClient::Impl {
  std::string host;
  int port;
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  bool Connect() {
    stream.emplace(ioc);
    boost::system::error_code ec;
    stream->socket().connect(tcp::endpoint(asio::ip::make_address(host), port), ec);
    buffer.clear();
    if (ec) stream.reset();
    return !ec;
  }
};

HttpClient::HttpClient(std::string host, int port) : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
}

HttpClient::~HttpClient() = default;

HttpReply HttpClient::Send(const std::string& method, const std::string& target,
                           const std::string& body,
                           const std::map<std::string, std::string>& headers) {
  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(bhttp::field::host, impl_->host);
  bool has_type = false;
  for (const auto& [k, v] : headers) {
    req.set(k, v);
    std::string lower;
    for (char c : k) lower += static_cast<char>(std::tolower(c));
    has_type |= lower == "content-type";
  }
  if (!body.empty() && !has_type) req.set(bhttp::field::content_type, "application/json");
  req.body() = body;
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req.prepare_payload();
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!impl_->stream && !impl_->Connect()) return {};
    boost::system::error_code ec;
    bhttp::write(*impl_->stream, req, ec);
    if (!ec) {
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(64 << 20);
      if (method == "HEAD") parser.skip(true);
      bhttp::read(*impl_->stream, impl_->buffer, parser, ec);
      if (!ec) {
        auto& res = parser.get();
        HttpReply out;
        out.status = res.result_int();
        for (const auto& f : res) {
          std::string name(f.name_string());
          for (auto& c : name) c = static_cast<char>(std::tolower(c));
          out.headers[name] = std::string(f.value());
        }
        out.body = res.body();
        if (!res.keep_alive()) impl_->stream.reset();
        return out;
      }
    }
    impl_->stream.reset();  // stale keep-alive connection: reconnect once
  }
  return {};
}

}  // namespace taquilla::testing
