#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <string>

#include "http/json_input.h"
#include "http/response.h"
#include "http/router.h"
#include "http/server.h"

namespace taquilla::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

// Sends raw bytes on a new connection and reads one response (status 0 if the server
// closed the connection without answering).
struct RawClient {
  asio::io_context ioc;
  tcp::socket socket{ioc};
  beast::flat_buffer buffer;
  explicit RawClient(int port) {
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  Response Send(const std::string& bytes) {
    asio::write(socket, asio::buffer(bytes));
    return Read();
  }
  Response Read() {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(10 << 20);
    boost::system::error_code ec;
    bhttp::read(socket, buffer, parser, ec);
    if (ec) return Response{};
    return parser.release();
  }
  bool ClosedByPeer() {
    char c;
    boost::system::error_code ec;
    socket.read_some(asio::buffer(&c, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add(bhttp::verb::get, "/hello/{name}",
                [](const Request&, const Peer&, const Params& p) {
                  boost::json::object o;
                  o["name"] = p.path[0];
                  o["q"] = p.Query("q");
                  return JsonResponse(bhttp::status::ok, o);
                });
    router_.Add(bhttp::verb::post, "/echo", [](const Request& req, const Peer&, const Params&) {
      auto body = ParseJsonBody(req);
      if (!body.ok()) return ErrorResponse(body.error());
      Fields f(*body);
      auto n = f.Int("n", 1, 10);
      auto s = f.Str("s", 1, 5);
      if (Status st = f.Finish(); !st.ok()) return ErrorResponse(st.error());
      boost::json::object o;
      o["n"] = n;
      o["s"] = s;
      return JsonResponse(bhttp::status::created, o);
    });
    router_.Add(bhttp::verb::get, "/throw",
                [](const Request&, const Peer&, const Params&) -> Response {
                  throw std::runtime_error("boom");
                });
    ServerOptions o;
    o.body_limit = 1024;
    o.handler_threads = 2;
    server_ = std::make_unique<Server>(
        o, [this](const Request& r, const Peer& p) { return router_.Dispatch(r, p); });
    ASSERT_TRUE(server_->Start().ok());
  }
  std::string Get(const std::string& target) {
    return "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  std::string Post(const std::string& target, const std::string& body,
                   const std::string& type = "application/json") {
    return "POST " + target + " HTTP/1.1\r\nHost: x\r\nContent-Type: " + type +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  std::string CodeOfBody(const Response& r) {
    auto v = boost::json::parse(r.body());
    return std::string(v.at("error").at("code").as_string());
  }
  Router router_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, RoutesDecodeParamsAndKeepAlive) {
  RawClient c(server_->port());
  auto r = c.Send(Get("/hello/a%20b?q=x%26y"));
  ASSERT_EQ(r.result(), bhttp::status::ok);
  auto v = boost::json::parse(r.body());
  EXPECT_EQ(v.at("name").as_string(), "a b");
  EXPECT_EQ(v.at("q").as_string(), "x&y");
  // Same connection, second request.
  auto r2 = c.Send(Get("/hello/z"));
  EXPECT_EQ(r2.result(), bhttp::status::ok);
  EXPECT_EQ(r2[bhttp::field::content_type], "application/json; charset=utf-8");
}

TEST_F(ServerTest, UnknownPathIs404AndWrongMethod405) {
  RawClient c(server_->port());
  auto r = c.Send(Get("/nope"));
  EXPECT_EQ(r.result(), bhttp::status::not_found);
  EXPECT_EQ(CodeOfBody(r), "not_found");
  auto r2 = c.Send(Post("/hello/x", "{}"));
  EXPECT_EQ(r2.result(), bhttp::status::method_not_allowed);
  EXPECT_EQ(r2[bhttp::field::allow], "GET");
}

TEST_F(ServerTest, HeadHasHeadersButNoBody) {
  RawClient c(server_->port());
  asio::write(c.socket, asio::buffer(std::string("HEAD /hello/x HTTP/1.1\r\nHost: x\r\n\r\n")));
  bhttp::response_parser<bhttp::empty_body> p;
  p.skip(true);
  bhttp::read_header(c.socket, c.buffer, p);
  EXPECT_EQ(p.get().result(), bhttp::status::ok);
  EXPECT_GT(std::stoi(std::string(p.get()[bhttp::field::content_length])), 0);
  // The connection still works, so no body bytes were sent.
  auto r = c.Send(Get("/hello/y"));
  EXPECT_EQ(r.result(), bhttp::status::ok);
}

TEST_F(ServerTest, JsonErrors) {
  RawClient c(server_->port());
  EXPECT_EQ(c.Send(Post("/echo", "{\"n\":1,")).result(), bhttp::status::bad_request);
  auto r = c.Send(Post("/echo", "{\"n\":1,\"s\":\"ab\"}", "text/plain"));
  EXPECT_EQ(r.result(), bhttp::status::unsupported_media_type);
  EXPECT_EQ(CodeOfBody(r), "unsupported_media_type");
  r = c.Send(Post("/echo", "{\"n\":\"1\",\"s\":\"ab\"}"));
  EXPECT_EQ(r.result(), bhttp::status::unprocessable_entity);
  EXPECT_NE(r.body().find("'n'"), std::string::npos) << r.body();
  r = c.Send(Post("/echo", "{\"n\":99999999999999999999999,\"s\":\"ab\"}"));
  EXPECT_EQ(r.result(), bhttp::status::unprocessable_entity);
  r = c.Send(Post("/echo", "{\"n\":1,\"s\":\"ab\",\"extra\":1}"));
  EXPECT_EQ(r.result(), bhttp::status::unprocessable_entity);
  EXPECT_NE(r.body().find("extra"), std::string::npos);
  r = c.Send(Post("/echo", "{\"n\":1}"));
  EXPECT_EQ(r.result(), bhttp::status::unprocessable_entity);
  r = c.Send(Post("/echo", "{\"n\":1,\"s\":\"a\\u0000\"}"));
  EXPECT_EQ(r.result(), bhttp::status::unprocessable_entity);
  r = c.Send(Post("/echo", std::string("{\"n\":1,\"s\":\"\xff\xfe\"}")));
  EXPECT_EQ(r.result(), bhttp::status::bad_request);
  EXPECT_EQ(CodeOfBody(r), "malformed_json");
  r = c.Send(Post("/echo", "[1]"));
  EXPECT_EQ(r.result(), bhttp::status::unprocessable_entity);
  r = c.Send(Post("/echo", "{\"n\":3,\"s\":\"ñññ\"}"));
  EXPECT_EQ(r.result(), bhttp::status::created) << r.body();
}

TEST_F(ServerTest, OversizedBodyIs413AndCloses) {
  RawClient c(server_->port());
  std::string big(2000, ' ');
  auto r = c.Send(Post("/echo", big));
  EXPECT_EQ(r.result(), bhttp::status::payload_too_large);
  EXPECT_EQ(CodeOfBody(r), "payload_too_large");
  EXPECT_TRUE(c.ClosedByPeer());
}

TEST_F(ServerTest, ConflictingLengthsAre400AndClose) {
  RawClient c(server_->port());
  auto r = c.Send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /hello/smuggled "
      "HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.result(), bhttp::status::bad_request);
  EXPECT_TRUE(c.ClosedByPeer());
  RawClient c2(server_->port());
  r = c2.Send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n12345");
  EXPECT_EQ(r.result(), bhttp::status::bad_request);
}

TEST_F(ServerTest, OversizedHeadersAre431) {
  RawClient c(server_->port());
  auto r =
      c.Send("GET /hello/x HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  EXPECT_EQ(r.result(), bhttp::status::request_header_fields_too_large);
}

TEST_F(ServerTest, ThrowingHandlerIs500AndConnectionSurvives) {
  RawClient c(server_->port());
  auto r = c.Send(Get("/throw"));
  EXPECT_EQ(r.result(), bhttp::status::internal_server_error);
  EXPECT_EQ(CodeOfBody(r), "internal");
  EXPECT_EQ(c.Send(Get("/hello/x")).result(), bhttp::status::ok);
}

TEST_F(ServerTest, BadTargetIs400) {
  RawClient c(server_->port());
  auto r = c.Send(Get("/hello/%zz"));
  EXPECT_EQ(r.result(), bhttp::status::bad_request);
}

TEST(ServerStartTest, BusyPortIsAClearError) {
  Server a({}, [](const Request&, const Peer&) { return NoContent(); });
  ASSERT_TRUE(a.Start().ok());
  ServerOptions o;
  o.port = a.port();
  Server b(o, [](const Request&, const Peer&) { return NoContent(); });
  Status s = b.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find(std::to_string(a.port())), std::string::npos);
}

}  // namespace
}  // namespace taquilla::http
