// The secure app's HTTP contract (API.md) against a real PostgreSQL: every endpoint, every
// error code, authentication (bearer, cookie + CSRF, expiry, logout, rate limiting), the
// backoffice, and that refused input changes nothing in the database. Holds concurrency,
// split rules, expiry and order details are in market_pgtest.cc.
#include <algorithm>
#include <cctype>
#include <regex>

#include "secure/secure_fixture.h"

namespace taquilla::secure {
namespace {

namespace json = boost::json;
using taquilla::testing::HttpReply;
using Headers = std::map<std::string, std::string>;

constexpr const char* kGoodCard = "4242424242424242";

// status, error code, and no X-Taquilla-LSN (a failed request commits nothing).
::testing::AssertionResult IsError(const HttpReply& r, int status, const std::string& code) {
  if (r.status != status || r.error_code() != code) {
    return ::testing::AssertionFailure()
           << "want " << status << " " << code << ", got " << r.status << " " << r.body;
  }
  if (!r.header("x-taquilla-lsn").empty()) {
    return ::testing::AssertionFailure() << "a failed request has X-Taquilla-LSN";
  }
  auto v = r.json();
  if (!v.is_object() || !v.at("error").as_object().contains("message") ||
      v.at("error").at("message").as_string().empty()) {
    return ::testing::AssertionFailure() << "error without a message: " << r.body;
  }
  return ::testing::AssertionSuccess();
}

// An invalid_field 422 whose message names `field`.
::testing::AssertionResult IsInvalid(const HttpReply& r, const std::string& field) {
  auto e = IsError(r, 422, "invalid_field");
  if (!e) return e;
  std::string message(r.json().at("error").at("message").as_string());
  if (message.find(field) == std::string::npos) {
    return ::testing::AssertionFailure() << "message does not name " << field << ": " << message;
  }
  return ::testing::AssertionSuccess();
}

// A successful write carries the commit LSN ("0/16B3748").
::testing::AssertionResult HasLsn(const HttpReply& r) {
  static const std::regex re("^[0-9A-F]{1,8}/[0-9A-F]{1,8}$");
  std::string lsn = r.header("x-taquilla-lsn");
  if (!std::regex_match(lsn, re)) {
    return ::testing::AssertionFailure()
           << "X-Taquilla-LSN is '" << lsn << "' (" << r.status << " " << r.body << ")";
  }
  return ::testing::AssertionSuccess();
}

class ApiTest : public SecureFixture {
 protected:
  HttpReply Send(const std::string& method, const std::string& path, const std::string& body,
                 const Headers& h = {}) {
    return client_->Send(method, path, body, h);
  }
  HttpReply Get(const std::string& path, const std::string& token) {
    return client_->Get(path, Bearer(token));
  }
  HttpReply Post(const std::string& path, const json::value& body, const std::string& token) {
    return client_->Post(path, body, token.empty() ? Headers{} : Bearer(token));
  }
  HttpReply PostRaw(const std::string& path, const std::string& body, const std::string& token) {
    return Send("POST", path, body, token.empty() ? Headers{} : Bearer(token));
  }
  HttpReply Patch(const std::string& path, const std::string& body, const std::string& token) {
    return Send("PATCH", path, body, Bearer(token));
  }
  HttpReply Put(const std::string& path, const std::string& body, const std::string& token) {
    return Send("PUT", path, body, Bearer(token));
  }
  HttpReply Delete(const std::string& path, const std::string& token) {
    return Send("DELETE", path, "", Bearer(token));
  }

  // Row counts of every table the API writes: a refused request must leave them alone.
  std::map<std::string, int64_t> Counts() {
    std::map<std::string, int64_t> out;
    for (const char* t : {"users", "sessions", "listings", "holds", "orders", "languages", "sites",
                          "site_languages", "countries", "venues", "categories",
                          "category_translations", "performers", "events", "event_translations",
                          "event_sites", "event_performers", "exchange_rates"}) {
      out[t] = SqlInt(std::string("SELECT count(*) FROM ") + t);
    }
    // Plus the mutable state of rows that already exist.
    out["active_listings"] = SqlInt("SELECT count(*) FROM listings WHERE status = 'active'");
    out["available"] = SqlInt("SELECT coalesce(sum(quantity_available), 0) FROM listings");
    out["revoked_sessions"] = SqlInt("SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL");
    out["active_holds"] = SqlInt("SELECT count(*) FROM holds WHERE status = 'active'");
    return out;
  }

  int64_t UserId(const std::string& email) {
    return SqlInt("SELECT id FROM users WHERE email = '" + email + "'");
  }

  std::string Admin() {
    if (admin_token_.empty()) admin_token_ = Login("admin@t.test");
    return admin_token_;
  }
  std::string Seller() {
    if (seller_token_.empty()) seller_token_ = Login("seller@t.test");
    return seller_token_;
  }

  int64_t HoldOf(int64_t listing, int quantity, const std::string& token) {
    auto r = Post("/api/v1/holds", {{"listing_id", listing}, {"quantity", quantity}}, token);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? r.json().at("id").as_int64() : 0;
  }
  HttpReply Pay(int64_t hold, const std::string& number, const std::string& token) {
    return Post("/api/v1/orders",
                {{"hold_id", hold}, {"payment", {{"method", "test_card"}, {"number", number}}}},
                token);
  }

  std::string admin_token_;
};

std::string Id(int64_t id) { return std::to_string(id); }

// ------------------------------------------------------------------ health

TEST_F(ApiTest, HealthAndReadiness) {
  auto r = client_->Get("/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json().at("status").as_string(), "ok");
  r = client_->Get("/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json().at("status").as_string(), "ready");
  EXPECT_EQ(r.header("content-type"), "application/json; charset=utf-8");
  r = client_->Send("HEAD", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty());
}

// ------------------------------------------------------------------ accounts

TEST_F(ApiTest, RegisterCreatesAnAccount) {
  auto r = Post("/api/v1/users",
                {{"email", "new@t.test"},
                 {"password", "0123456789"},
                 {"display_name", "Nueva"},
                 {"locale", "en"}},
                "");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(HasLsn(r));
  auto u = r.json().as_object();
  EXPECT_EQ(u.at("email").as_string(), "new@t.test");
  EXPECT_EQ(u.at("display_name").as_string(), "Nueva");
  EXPECT_EQ(u.at("locale").as_string(), "en");
  EXPECT_EQ(u.at("role").as_string(), "buyer");
  EXPECT_FALSE(u.contains("password"));
  EXPECT_FALSE(u.contains("password_hash"));
  EXPECT_EQ(u.at("id").as_int64(), UserId("new@t.test"));
  EXPECT_EQ(SqlInt("SELECT count(*) FROM users WHERE email = 'new@t.test' AND password_hash "
                   "LIKE '$argon2id$%'"),
            1);
  // The new account can log in.
  r = Post("/api/v1/sessions", {{"email", "new@t.test"}, {"password", "0123456789"}}, "");
  EXPECT_EQ(r.status, 201) << r.body;
}

TEST_F(ApiTest, RegisterRefusesATakenEmailInAnyCase) {
  auto before = Counts();
  for (const char* email : {"buyer@t.test", "BUYER@t.test", "Buyer@T.Test"}) {
    auto r = Post(
        "/api/v1/users",
        {{"email", email}, {"password", "0123456789"}, {"display_name", "Dup"}, {"locale", "es"}},
        "");
    EXPECT_TRUE(IsError(r, 409, "email_taken")) << email;
  }
  EXPECT_EQ(Counts(), before);
}

TEST_F(ApiTest, RegisterRejectsInvalidFields) {
  auto before = Counts();
  const std::string ok_rest = R"("password": "0123456789", "display_name": "X", "locale": "es")";
  struct Case {
    std::string body, field;
  } cases[] = {
      {R"({"email": "no-at-sign.test", )" + ok_rest + "}", "email"},
      {R"({"email": "a@b@c.test", )" + ok_rest + "}", "email"},
      {R"({"email": "@t.test", )" + ok_rest + "}", "email"},
      {R"({"email": "a@nodot", )" + ok_rest + "}", "email"},
      {R"({"email": "a b@t.test", )" + ok_rest + "}", "email"},
      {R"({"email": "", )" + ok_rest + "}", "email"},
      {R"({"email": 5, )" + ok_rest + "}", "email"},
      {R"({"email": "x@t.test", "password": "123456789", "display_name": "X", "locale": "es"})",
       "password"},
      {R"({"email": "x@t.test", "display_name": "X", "locale": "es"})", "password"},
      {R"({"email": "x@t.test", "password": "0123456789", "display_name": "X", "locale": "xx"})",
       "locale"},
      {R"({"email": "x@t.test", "password": "0123456789", "display_name": "X", "locale": "es",
           "role": "admin"})",
       "role"},
      {R"({"email": "x@t.test", "password": "0123456789", "display_name": "A\u0000B",
           "locale": "es"})",
       "display_name"},
      {R"({"email": "x@t.test", "password": "0123456789", "display_name": ")" +
           std::string(101, 'a') + R"(", "locale": "es"})",
       "display_name"},
      {R"({"email": "x@t.test", "password": "0123456789", "display_name": ["X"],
           "locale": "es"})",
       "display_name"},
      {R"({"email": "x@t.test", "password": "0123456789", "locale": "es"})", "display_name"},
      {R"({"email": "x@t.test", "password": "0123456789", "display_name": null,
           "locale": "es"})",
       "display_name"},
  };
  for (const auto& c : cases) {
    EXPECT_TRUE(IsInvalid(PostRaw("/api/v1/users", c.body, ""), c.field)) << c.body;
  }
  // A role cannot be chosen at registration: still nobody new, least of all an admin.
  EXPECT_EQ(Counts(), before);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM users WHERE role = 'admin'"), 1);
}

TEST_F(ApiTest, MalformedBodiesAndMediaTypes) {
  std::string token = Seller();
  auto before = Counts();
  for (std::string path : {"/api/v1/users", "/api/v1/sessions", "/api/v1/listings"}) {
    const std::string& t = path == "/api/v1/listings" ? token : "";
    Headers json_auth = t.empty() ? Headers{} : Bearer(t);
    // Not JSON.
    EXPECT_TRUE(IsError(PostRaw(path, "{", t), 400, "malformed_json")) << path;
    EXPECT_TRUE(IsError(PostRaw(path, R"({"email": "a@b.c",})", t), 400, "malformed_json"));
    EXPECT_TRUE(IsError(PostRaw(path, "{} {}", t), 400, "malformed_json")) << path;
    // Invalid UTF-8 inside a string.
    EXPECT_TRUE(IsError(PostRaw(path, "{\"email\": \"a\xff\xfe@b.c\"}", t), 400, "malformed_json"))
        << path;
    EXPECT_TRUE(IsError(PostRaw(path, "{\"email\": \"\xc3\"}", t), 400, "malformed_json"));
    // Empty body.
    Headers empty = json_auth;
    empty["Content-Type"] = "application/json";
    EXPECT_TRUE(IsError(Send("POST", path, "", empty), 400, "malformed_json")) << path;
    // JSON, but not an object.
    EXPECT_TRUE(IsError(PostRaw(path, "[1, 2]", t), 422, "invalid_field")) << path;
    EXPECT_TRUE(IsError(PostRaw(path, "\"x\"", t), 422, "invalid_field")) << path;
    // Other media types.
    for (const char* type :
         {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
          "application/json; charset=latin1", "application/jsonx"}) {
      Headers h = json_auth;
      h["Content-Type"] = type;
      EXPECT_TRUE(
          IsError(Send("POST", path, R"({"email": "a@b.c"})", h), 415, "unsupported_media_type"))
          << path << " " << type;
    }
    Headers no_type = json_auth;
    no_type["Content-Type"] = "";
    EXPECT_TRUE(IsError(Send("POST", path, "{}", no_type), 415, "unsupported_media_type"));
  }
  // Nesting deeper than the parser allows is refused, not recursed into.
  std::string deep = R"({"email": )" + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_TRUE(IsError(PostRaw("/api/v1/users", deep, ""), 400, "malformed_json"));
  // The charset spelled out, in any case, is fine.
  Headers h = Bearer(token);
  h["Content-Type"] = "Application/JSON; charset=UTF-8";
  auto r = Send("POST", "/api/v1/listings",
                R"({"event_id": 1, "quantity": 1, "price_minor": 100, "currency": "EUR"})", h);
  EXPECT_EQ(r.status, 201) << r.body;
  before["listings"] += 1;
  before["active_listings"] += 1;
  before["available"] += 1;
  EXPECT_EQ(Counts(), before);
}

TEST_F(ApiTest, BodyOverOneMebibyteIs413) {
  auto before = Counts();
  std::string big = R"({"email": "x@t.test", "display_name": ")" + std::string(1 << 20, 'a') +
                    R"(", "password": "0123456789", "locale": "es"})";
  auto r = PostRaw("/api/v1/users", big, "");
  EXPECT_TRUE(IsError(r, 413, "payload_too_large"));
  // Exactly 1 MiB is still read (and refused for its content, not its size).
  std::string limit = R"({"notes": ")";
  limit += std::string((1 << 20) - limit.size() - 2, 'n') + "\"}";
  ASSERT_EQ(limit.size(), 1u << 20);
  r = PostRaw("/api/v1/users", limit, "");
  EXPECT_TRUE(IsInvalid(r, "email"));
  EXPECT_EQ(Counts(), before);
  // The server still answers afterwards.
  EXPECT_EQ(client_->Get("/healthz").status, 200);
}

// ------------------------------------------------------------------ sessions

TEST_F(ApiTest, LoginLogoutAndTheSessionCookie) {
  auto r = Post("/api/v1/sessions", {{"email", "buyer@t.test"}, {"password", kPassword}}, "");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(HasLsn(r));
  auto o = r.json().as_object();
  std::string token(o.at("token").as_string());
  EXPECT_GE(token.size(), 32u);
  EXPECT_GE(o.at("csrf_token").as_string().size(), 32u);
  EXPECT_NE(o.at("csrf_token").as_string(), token);
  EXPECT_EQ(o.at("user").at("email").as_string(), "buyer@t.test");
  EXPECT_EQ(o.at("user").at("role").as_string(), "buyer");
  EXPECT_FALSE(o.at("expires_at").as_string().empty());
  std::string cookie = r.header("set-cookie");
  EXPECT_EQ(cookie.rfind("tq_session=" + token + ";", 0), 0u) << cookie;
  EXPECT_NE(cookie.find("; HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("; SameSite=Lax"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("; Path=/"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("Max-Age=2592000"), std::string::npos) << cookie;
  EXPECT_EQ(cookie.find("Secure"), std::string::npos) << cookie;  // not configured
  // The token is stored only as its hash.
  EXPECT_EQ(SqlInt("SELECT count(*) FROM sessions WHERE user_id = " + Id(UserId("buyer@t.test"))),
            1);
  EXPECT_EQ(
      SqlInt("SELECT count(*) FROM sessions WHERE token_hash = sha256('" + token + "'::bytea)"), 1);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM sessions WHERE csrf_token = '" +
                   std::string(o.at("csrf_token").as_string()) + "'"),
            1);

  r = Get("/api/v1/me", token);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("email").as_string(), "buyer@t.test");
  EXPECT_EQ(r.json().at("id").as_int64(), UserId("buyer@t.test"));

  r = Delete("/api/v1/sessions/current", token);
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_TRUE(HasLsn(r));
  cookie = r.header("set-cookie");
  EXPECT_EQ(cookie.rfind("tq_session=;", 0), 0u) << cookie;
  EXPECT_NE(cookie.find("Max-Age=0"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
  EXPECT_EQ(SqlInt("SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL"), 1);
  // The logged-out token is dead, for reads and writes, and logging out twice is a 401.
  r = Get("/api/v1/me", token);
  EXPECT_TRUE(IsError(r, 401, "unauthenticated"));
  EXPECT_EQ(r.header("www-authenticate"), "Bearer realm=\"taquilla\"");
  EXPECT_TRUE(IsError(Delete("/api/v1/sessions/current", token), 401, "unauthenticated"));
}

TEST_F(ApiTest, WrongCredentialsAre401) {
  auto before = Counts();
  auto r =
      Post("/api/v1/sessions", {{"email", "buyer@t.test"}, {"password", "wrong-password"}}, "");
  EXPECT_TRUE(IsError(r, 401, "invalid_credentials"));
  EXPECT_TRUE(r.header("set-cookie").empty());
  r = Post("/api/v1/sessions", {{"email", "nobody@t.test"}, {"password", kPassword}}, "");
  EXPECT_TRUE(IsError(r, 401, "invalid_credentials"));
  // Missing and unknown fields are 422, not a login attempt.
  EXPECT_TRUE(IsInvalid(Post("/api/v1/sessions", {{"email", "buyer@t.test"}}, ""), "password"));
  EXPECT_TRUE(IsInvalid(
      Post("/api/v1/sessions", {{"email", "buyer@t.test"}, {"password", kPassword}, {"x", 1}}, ""),
      "x"));
  EXPECT_EQ(Counts(), before);
  // The email is not case-sensitive.
  r = Post("/api/v1/sessions", {{"email", "BUYER@T.test"}, {"password", kPassword}}, "");
  EXPECT_EQ(r.status, 201) << r.body;
}

TEST_F(ApiTest, MissingOrBadCredentialsAre401) {
  std::string token = Login("buyer@t.test");
  auto before = Counts();
  const Headers bad[] = {
      {},
      {{"Authorization", "Bearer "}},
      {{"Authorization", "Bearer not-a-token"}},
      {{"Authorization", "Bearer " + std::string(300, 'a')}},
      {{"Authorization", "Basic " + token}},
      {{"Authorization", "bearer" + token}},
      {{"Authorization", "Bearer " + token + "x"}},
      {{"Cookie", "tq_session=not-a-token"}},
      {{"Cookie", "other=" + token}},
  };
  for (const auto& h : bad) {
    std::string label = h.empty() ? "none" : h.begin()->second.substr(0, 20);
    for (const char* path : {"/api/v1/me", "/api/v1/me/listings", "/api/v1/me/orders",
                             "/api/v1/me/sales", "/api/v1/me/holds", "/api/v1/listings/1",
                             "/api/v1/holds/1", "/api/v1/orders/1", "/api/v1/admin/sites"}) {
      auto r = Send("GET", path, "", h);
      EXPECT_TRUE(IsError(r, 401, "unauthenticated")) << path << " " << label;
      EXPECT_FALSE(r.header("www-authenticate").empty());
    }
    Headers json_h = h;
    auto r =
        Send("POST", "/api/v1/listings",
             R"({"event_id": 1, "quantity": 1, "price_minor": 100, "currency": "EUR"})", json_h);
    EXPECT_TRUE(IsError(r, 401, "unauthenticated")) << label;
    r = Send("POST", "/api/v1/holds", R"({"listing_id": 1, "quantity": 1})", json_h);
    EXPECT_TRUE(IsError(r, 401, "unauthenticated")) << label;
    r = Send("DELETE", "/api/v1/sessions/current", "", h);
    EXPECT_TRUE(IsError(r, 401, "unauthenticated")) << label;
  }
  EXPECT_EQ(Counts(), before);
  EXPECT_EQ(Get("/api/v1/me", token).status, 200);
}

TEST_F(ApiTest, SessionsExpireAfterTheirTtl) {
  std::string token = Login("buyer@t.test");
  ASSERT_EQ(market_->options().session_ttl, std::chrono::seconds(30 * 24 * 3600));
  clock_->Advance(std::chrono::seconds(30 * 24 * 3600 - 60));
  EXPECT_EQ(Get("/api/v1/me", token).status, 200);
  clock_->Advance(std::chrono::seconds(61));
  EXPECT_TRUE(IsError(Get("/api/v1/me", token), 401, "unauthenticated"));
  EXPECT_TRUE(IsError(Delete("/api/v1/sessions/current", token), 401, "unauthenticated"));
  // The cookie form of the same session is just as dead.
  EXPECT_TRUE(IsError(Send("GET", "/api/v1/me", "", {{"Cookie", "tq_session=" + token}}), 401,
                      "unauthenticated"));
}

TEST_F(ApiTest, CookieSessionsNeedTheCsrfTokenOnWrites) {
  auto login = Post("/api/v1/sessions", {{"email", "seller@t.test"}, {"password", kPassword}}, "");
  ASSERT_EQ(login.status, 201);
  std::string token(login.json().at("token").as_string());
  std::string csrf(login.json().at("csrf_token").as_string());
  Headers cookie = {{"Cookie", "theme=dark; tq_session=" + token + "; lang=es"}};
  // Reads need no CSRF token.
  auto r = Send("GET", "/api/v1/me", "", cookie);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("email").as_string(), "seller@t.test");
  EXPECT_EQ(Send("GET", "/api/v1/me/listings", "", cookie).status, 200);

  const std::string body =
      R"({"event_id": 1, "quantity": 2, "price_minor": 100, "currency": "EUR"})";
  auto before = Counts();
  r = Send("POST", "/api/v1/listings", body, cookie);
  EXPECT_TRUE(IsError(r, 403, "csrf_token_invalid"));
  Headers wrong = cookie;
  wrong["X-CSRF-Token"] = csrf.substr(1) + "x";
  EXPECT_TRUE(IsError(Send("POST", "/api/v1/listings", body, wrong), 403, "csrf_token_invalid"));
  wrong["X-CSRF-Token"] = token;  // the session token is not the CSRF token
  EXPECT_TRUE(IsError(Send("POST", "/api/v1/listings", body, wrong), 403, "csrf_token_invalid"));
  EXPECT_TRUE(
      IsError(Send("DELETE", "/api/v1/sessions/current", "", cookie), 403, "csrf_token_invalid"));
  EXPECT_EQ(Counts(), before);

  Headers good = cookie;
  good["X-CSRF-Token"] = csrf;
  r = Send("POST", "/api/v1/listings", body, good);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(HasLsn(r));
  int64_t listing = r.json().at("id").as_int64();
  EXPECT_TRUE(
      IsError(Send("PATCH", "/api/v1/listings/" + Id(listing), R"({"price_minor": 7})", cookie),
              403, "csrf_token_invalid"));
  EXPECT_TRUE(IsError(Send("DELETE", "/api/v1/listings/" + Id(listing), "", cookie), 403,
                      "csrf_token_invalid"));
  EXPECT_EQ(SqlInt("SELECT price_minor FROM listings WHERE id = " + Id(listing)), 100);
  r = Send("PATCH", "/api/v1/listings/" + Id(listing), R"({"price_minor": 7})", good);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(SqlInt("SELECT price_minor FROM listings WHERE id = " + Id(listing)), 7);
  // A bearer token needs no CSRF token.
  EXPECT_EQ(Patch("/api/v1/listings/" + Id(listing), R"({"price_minor": 8})", token).status, 200);

  r = Send("DELETE", "/api/v1/sessions/current", "", good);
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_NE(r.header("set-cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_TRUE(IsError(Send("GET", "/api/v1/me", "", cookie), 401, "unauthenticated"));
  EXPECT_TRUE(IsError(Get("/api/v1/me", token), 401, "unauthenticated"));
}

TEST_F(ApiTest, RepeatedFailedLoginsAreRateLimited) {
  auto login = [&](const std::string& email, const std::string& password) {
    return Post("/api/v1/sessions", {{"email", email}, {"password", password}}, "");
  };
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(
        IsError(login("buyer@t.test", "wrong-" + std::to_string(i)), 401, "invalid_credentials"))
        << i;
  }
  auto before = Counts();
  // Limited now, per account in any letter case, even with the right password.
  for (const char* email : {"buyer@t.test", "Buyer@T.TEST"}) {
    auto r = login(email, kPassword);
    EXPECT_TRUE(IsError(r, 429, "rate_limited")) << email;
    std::string retry = r.header("retry-after");
    ASSERT_FALSE(retry.empty());
    EXPECT_TRUE(std::all_of(retry.begin(), retry.end(), ::isdigit)) << retry;
    EXPECT_GE(std::stoi(retry), 1);
    EXPECT_LE(std::stoi(retry), 900);
    EXPECT_TRUE(r.header("set-cookie").empty());
  }
  EXPECT_EQ(Counts(), before);  // no session was made
  // Another account from the same client is not limited.
  EXPECT_EQ(login("buyer2@t.test", kPassword).status, 201);
  // After the window, the right password works again.
  clock_->Advance(std::chrono::seconds(901));
  EXPECT_EQ(login("buyer@t.test", kPassword).status, 201);
}

// ------------------------------------------------------------------ /me

TEST_F(ApiTest, MeListsArePagedAndOnlyTheCallers) {
  std::string seller = Seller();
  std::string buyer = Login("buyer@t.test");
  std::string buyer2 = Login("buyer2@t.test");
  std::vector<int64_t> listings;
  for (int i = 0; i < 3; ++i) listings.push_back(MakeListing(4, "any", 1000 + i));
  // buyer2 lists one too: the seller must not see it.
  auto other =
      Post("/api/v1/listings",
           {{"event_id", 1}, {"quantity", 2}, {"price_minor", 900}, {"currency", "EUR"}}, buyer2);
  ASSERT_EQ(other.status, 201) << other.body;
  int64_t other_listing = other.json().at("id").as_int64();

  auto r = Get("/api/v1/me/listings?per_page=2", seller);
  ASSERT_EQ(r.status, 200) << r.body;
  auto page = r.json().as_object();
  EXPECT_EQ(page.at("total").as_int64(), 3);
  EXPECT_EQ(page.at("page").as_int64(), 1);
  EXPECT_EQ(page.at("per_page").as_int64(), 2);
  ASSERT_EQ(page.at("items").as_array().size(), 2u);
  EXPECT_EQ(page.at("items").at(0).at("id").as_int64(), listings[2]);  // newest first
  EXPECT_EQ(page.at("items").at(1).at("id").as_int64(), listings[1]);
  r = Get("/api/v1/me/listings?per_page=2&page=2", seller);
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.json().at("items").as_array().size(), 1u);
  EXPECT_EQ(r.json().at("items").at(0).at("id").as_int64(), listings[0]);
  EXPECT_EQ(r.json().at("total").as_int64(), 3);
  r = Get("/api/v1/me/listings?per_page=2&page=3", seller);
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.json().at("items").as_array().empty());
  EXPECT_EQ(r.json().at("total").as_int64(), 3);  // past the end, the total stays true
  r = Get("/api/v1/me/listings", seller);
  EXPECT_EQ(r.json().at("per_page").as_int64(), 20);
  EXPECT_EQ(r.json().at("items").as_array().size(), 3u);
  json::value items_body = r.json();
  for (const auto& item : items_body.at("items").as_array()) {
    EXPECT_EQ(item.at("seller_id").as_int64(), UserId("seller@t.test"));
    EXPECT_NE(item.at("id").as_int64(), other_listing);
  }
  r = Get("/api/v1/me/listings", buyer2);
  ASSERT_EQ(r.json().at("items").as_array().size(), 1u);
  EXPECT_EQ(r.json().at("items").at(0).at("id").as_int64(), other_listing);
  r = Get("/api/v1/me/listings", buyer);
  EXPECT_EQ(r.json().at("total").as_int64(), 0);
  EXPECT_TRUE(r.json().at("items").as_array().empty());

  // Holds and orders: buyer holds two and pays one; buyer2 holds one.
  int64_t h1 = HoldOf(listings[0], 1, buyer);
  int64_t h2 = HoldOf(listings[1], 2, buyer);
  int64_t h3 = HoldOf(listings[2], 1, buyer2);
  auto paid = Pay(h1, kGoodCard, buyer);
  ASSERT_EQ(paid.status, 201) << paid.body;
  int64_t order = paid.json().at("id").as_int64();

  r = Get("/api/v1/me/holds", buyer);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.json().at("items").as_array().size(), 2u);
  EXPECT_EQ(r.json().at("total").as_int64(), 2);
  EXPECT_EQ(r.json().at("items").at(0).at("id").as_int64(), h2);
  EXPECT_EQ(r.json().at("items").at(0).at("status").as_string(), "active");
  EXPECT_EQ(r.json().at("items").at(1).at("id").as_int64(), h1);
  EXPECT_EQ(r.json().at("items").at(1).at("status").as_string(), "ordered");
  r = Get("/api/v1/me/holds?per_page=1&page=2", buyer);
  ASSERT_EQ(r.json().at("items").as_array().size(), 1u);
  EXPECT_EQ(r.json().at("items").at(0).at("id").as_int64(), h1);
  r = Get("/api/v1/me/holds", buyer2);
  ASSERT_EQ(r.json().at("items").as_array().size(), 1u);
  EXPECT_EQ(r.json().at("items").at(0).at("id").as_int64(), h3);
  EXPECT_EQ(Get("/api/v1/me/holds", seller).json().at("total").as_int64(), 0);

  r = Get("/api/v1/me/orders", buyer);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.json().at("items").as_array().size(), 1u);
  EXPECT_EQ(r.json().at("items").at(0).at("id").as_int64(), order);
  EXPECT_TRUE(r.json().at("items").at(0).as_object().contains("payment_ref"));
  EXPECT_EQ(Get("/api/v1/me/orders", buyer2).json().at("total").as_int64(), 0);
  EXPECT_EQ(Get("/api/v1/me/orders", seller).json().at("total").as_int64(), 0);

  // Sales are the seller's, without the buyer's payment reference.
  r = Get("/api/v1/me/sales", seller);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.json().at("items").as_array().size(), 1u);
  EXPECT_EQ(r.json().at("items").at(0).at("id").as_int64(), order);
  EXPECT_FALSE(r.json().at("items").at(0).as_object().contains("payment_ref"));
  EXPECT_EQ(Get("/api/v1/me/sales", buyer).json().at("total").as_int64(), 0);
  EXPECT_EQ(Get("/api/v1/me/sales", buyer2).json().at("total").as_int64(), 0);
}

TEST_F(ApiTest, InvalidPageParametersAre422) {
  std::string token = Login("buyer@t.test");
  for (const char* path :
       {"/api/v1/me/listings", "/api/v1/me/orders", "/api/v1/me/sales", "/api/v1/me/holds"}) {
    for (const char* query : {"page=0", "page=-1", "page=abc", "page=1.5", "page=", "page=10001",
                              "per_page=0", "per_page=101", "per_page=1e2", "per_page=%20",
                              "page=99999999999999999999", "page=1&per_page=x"}) {
      auto r = Get(std::string(path) + "?" + query, token);
      EXPECT_TRUE(IsError(r, 422, "invalid_parameter")) << path << "?" << query;
    }
    EXPECT_EQ(Get(std::string(path) + "?page=10000&per_page=100", token).status, 200) << path;
  }
}

// ------------------------------------------------------------------ listings

TEST_F(ApiTest, ListingLifecycle) {
  std::string buyer = Login("buyer@t.test");
  auto r = Post("/api/v1/listings",
                {{"event_id", 1},
                 {"section", "Pista"},
                 {"row", "12"},
                 {"seat_from", 7},
                 {"seat_to", 9},
                 {"quantity", 3},
                 {"price_minor", 4500},
                 {"face_value_minor", 4000},
                 {"currency", "EUR"},
                 {"split", "no_single"},
                 {"delivery", "mobile"},
                 {"notes", "Entrada lateral"}},
                Seller());
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(HasLsn(r));
  auto l = r.json().as_object();
  int64_t id = l.at("id").as_int64();
  std::string path = "/api/v1/listings/" + Id(id);
  EXPECT_EQ(l.at("event_id").as_int64(), 1);
  EXPECT_EQ(l.at("seller_id").as_int64(), UserId("seller@t.test"));
  EXPECT_EQ(l.at("section").as_string(), "Pista");
  EXPECT_EQ(l.at("row").as_string(), "12");
  EXPECT_EQ(l.at("seat_from").as_int64(), 7);
  EXPECT_EQ(l.at("seat_to").as_int64(), 9);
  EXPECT_EQ(l.at("quantity").as_int64(), 3);
  EXPECT_EQ(l.at("quantity_available").as_int64(), 3);
  EXPECT_EQ(l.at("price").at("amount_minor").as_int64(), 4500);
  EXPECT_EQ(l.at("price").at("currency").as_string(), "EUR");
  EXPECT_FALSE(l.at("price").at("formatted").as_string().empty());
  EXPECT_EQ(l.at("face_value").at("amount_minor").as_int64(), 4000);
  EXPECT_EQ(l.at("split").as_string(), "no_single");
  EXPECT_EQ(l.at("delivery").as_string(), "mobile");
  EXPECT_EQ(l.at("notes").as_string(), "Entrada lateral");
  EXPECT_EQ(l.at("status").as_string(), "active");

  // Read: the seller and admins; anyone else is refused.
  r = Get(path, Seller());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("id").as_int64(), id);
  EXPECT_EQ(Get(path, Admin()).status, 200);
  EXPECT_TRUE(IsError(Get(path, buyer), 403, "forbidden"));

  // Change: the seller only.
  auto before = Counts();
  std::string price_before =
      Sql("SELECT price_minor, notes, updated_at FROM listings WHERE id = " + Id(id))
          .GetString(0, 0);
  EXPECT_TRUE(IsError(Patch(path, R"({"price_minor": 1})", buyer), 403, "forbidden"));
  EXPECT_TRUE(IsError(Patch(path, R"({"price_minor": 1})", Admin()), 403, "forbidden"));
  EXPECT_TRUE(IsError(Delete(path, buyer), 403, "forbidden"));
  EXPECT_TRUE(IsInvalid(Patch(path, "{}", Seller()), "body"));
  EXPECT_TRUE(IsInvalid(Patch(path, R"({"seller_id": 4})", Seller()), "seller_id"));
  EXPECT_TRUE(IsInvalid(Patch(path, R"({"status": "active"})", Seller()), "status"));
  EXPECT_TRUE(IsInvalid(Patch(path, R"({"price_minor": 0})", Seller()), "price_minor"));
  EXPECT_TRUE(IsInvalid(Patch(path, R"({"price_minor": "10"})", Seller()), "price_minor"));
  EXPECT_TRUE(IsInvalid(Patch(path, R"({"split": "trio"})", Seller()), "split"));
  EXPECT_TRUE(IsInvalid(Patch(path, R"({"delivery": null, "split": 3})", Seller()), "split"));
  EXPECT_TRUE(
      IsInvalid(Patch(path, R"({"notes": ")" + std::string(2001, 'x') + "\"}", Seller()), "notes"));
  // Seat numbers fix the quantity.
  EXPECT_TRUE(IsInvalid(Patch(path, R"({"quantity": 2})", Seller()), "quantity"));
  EXPECT_EQ(Counts(), before);
  EXPECT_EQ(Sql("SELECT price_minor FROM listings WHERE id = " + Id(id)).GetString(0, 0),
            price_before);

  r = Patch(path, R"({"price_minor": 5200, "notes": "Puerta 3", "face_value_minor": null})",
            Seller());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(HasLsn(r));
  EXPECT_EQ(r.json().at("price").at("amount_minor").as_int64(), 5200);
  EXPECT_EQ(r.json().at("notes").as_string(), "Puerta 3");
  EXPECT_TRUE(r.json().at("face_value").is_null());
  EXPECT_EQ(r.json().at("section").as_string(), "Pista");  // untouched fields stay
  EXPECT_EQ(SqlInt("SELECT price_minor FROM listings WHERE id = " + Id(id)), 5200);
  EXPECT_EQ(
      SqlInt("SELECT count(*) FROM listings WHERE face_value_minor IS NULL AND id = " + Id(id)), 1);

  // Withdraw: the seller only, then it cannot change any more.
  r = Delete(path, Seller());
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_TRUE(HasLsn(r));
  EXPECT_EQ(Sql("SELECT status FROM listings WHERE id = " + Id(id)).GetString(0, 0), "withdrawn");
  EXPECT_TRUE(IsError(Patch(path, R"({"price_minor": 1})", Seller()), 409, "listing_withdrawn"));
  EXPECT_EQ(Get(path, Seller()).json().at("status").as_string(), "withdrawn");
}

TEST_F(ApiTest, ListingIdsThatDoNotExistAre404) {
  std::string token = Seller();
  int64_t listing = MakeListing(2);
  auto before = Counts();
  const std::vector<std::string> ids = {
      "999999", "abc", "0", "-1", "1e3", "1.0", "%20", "9223372036854775808", Id(listing) + "x"};
  for (const std::string& id : ids) {
    std::string path = "/api/v1/listings/" + id;
    EXPECT_TRUE(IsError(Get(path, token), 404, "not_found")) << id;
    EXPECT_TRUE(IsError(Patch(path, R"({"price_minor": 1})", token), 404, "not_found")) << id;
    EXPECT_TRUE(IsError(Delete(path, token), 404, "not_found")) << id;
  }
  EXPECT_EQ(Counts(), before);
}

TEST_F(ApiTest, PatchQuantityCannotGoBelowHeldTickets) {
  int64_t listing = MakeListing(6);
  std::string buyer = Login("buyer@t.test");
  HoldOf(listing, 4, buyer);
  std::string path = "/api/v1/listings/" + Id(listing);
  auto before = Counts();
  EXPECT_TRUE(IsError(Patch(path, R"({"quantity": 3})", Seller()), 409, "quantity_below_sold"));
  EXPECT_TRUE(IsInvalid(Patch(path, R"({"quantity": 0})", Seller()), "quantity"));
  EXPECT_TRUE(IsInvalid(Patch(path, R"({"quantity": -4})", Seller()), "quantity"));
  EXPECT_TRUE(IsInvalid(Patch(path, R"({"split": "pairs", "quantity": 5})", Seller()), "quantity"));
  EXPECT_EQ(Counts(), before);
  EXPECT_EQ(SqlInt("SELECT quantity FROM listings WHERE id = " + Id(listing)), 6);
  EXPECT_EQ(Available(listing), 2);
  // Down to exactly what is held is allowed; up again adds to what is available.
  auto r = Patch(path, R"({"quantity": 4})", Seller());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("quantity_available").as_int64(), 0);
  r = Patch(path, R"({"quantity": 10})", Seller());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Available(listing), 6);
}

TEST_F(ApiTest, CreateListingRejectsInvalidFields) {
  std::string token = Seller();
  auto before = Counts();
  const std::string ok = R"("event_id": 1, "price_minor": 100, "currency": "EUR")";
  struct Case {
    std::string body, field;
  } cases[] = {
      {"{" + ok + R"(, "quantity": -1})", "quantity"},
      {"{" + ok + R"(, "quantity": 0})", "quantity"},
      {"{" + ok + R"(, "quantity": 1001})", "quantity"},
      {"{" + ok + R"(, "quantity": 1e30})", "quantity"},
      {"{" + ok + R"(, "quantity": 99999999999999999999})", "quantity"},
      {"{" + ok + R"(, "quantity": 18446744073709551615})", "quantity"},
      {"{" + ok + R"(, "quantity": 2.5})", "quantity"},
      {"{" + ok + R"(, "quantity": "2"})", "quantity"},
      {"{" + ok + R"(, "quantity": true})", "quantity"},
      {"{" + ok + R"(, "quantity": null})", "quantity"},
      {"{" + ok + "}", "quantity"},
      {R"({"event_id": 1, "quantity": 1, "price_minor": 0, "currency": "EUR"})", "price_minor"},
      {R"({"event_id": 1, "quantity": 1, "price_minor": 1e30, "currency": "EUR"})", "price_minor"},
      {R"({"event_id": 1, "quantity": 1, "price_minor": 500000001, "currency": "EUR"})",
       "price_minor"},
      {R"({"event_id": 1, "quantity": 1, "price_minor": 100})", "currency"},
      {R"({"event_id": 1, "quantity": 1, "price_minor": 100, "currency": "ZZZ"})", "currency"},
      {R"({"event_id": 1, "quantity": 1, "price_minor": 100, "currency": "eur"})", "currency"},
      {R"({"event_id": 1, "quantity": 1, "price_minor": 100, "currency": "EURO"})", "currency"},
      {R"({"event_id": 1, "quantity": 1, "price_minor": 100, "currency": "E'R"})", "currency"},
      {R"({"quantity": 1, "price_minor": 100, "currency": "EUR"})", "event_id"},
      {R"({"event_id": 0, "quantity": 1, "price_minor": 100, "currency": "EUR"})", "event_id"},
      {R"({"event_id": 999999, "quantity": 1, "price_minor": 100, "currency": "EUR"})", "event_id"},
      {R"({"event_id": "1", "quantity": 1, "price_minor": 100, "currency": "EUR"})", "event_id"},
      {"{" + ok + R"(, "quantity": 1, "face_value_minor": -5})", "face_value_minor"},
      {"{" + ok + R"(, "quantity": 3, "split": "pairs"})", "quantity"},
      {"{" + ok + R"(, "quantity": 1, "split": "pairs"})", "quantity"},
      {"{" + ok + R"(, "quantity": 1, "split": "trio"})", "split"},
      {"{" + ok + R"(, "quantity": 1, "delivery": "pigeon"})", "delivery"},
      {"{" + ok + R"(, "quantity": 3, "seat_from": 1, "seat_to": 4})", "quantity"},
      {"{" + ok + R"(, "quantity": 3, "seat_from": 5, "seat_to": 3})", "seat_to"},
      {"{" + ok + R"(, "quantity": 3, "seat_from": 5})", "seat_to"},
      {"{" + ok + R"(, "quantity": 3, "seat_to": 5})", "seat_from"},
      {"{" + ok + R"(, "quantity": 1, "seat_from": 0, "seat_to": 0})", "seat_from"},
      {"{" + ok + R"(, "quantity": 1, "notes": "a\u0000b"})", "notes"},
      {"{" + ok + R"(, "quantity": 1, "notes": ")" + std::string(2001, 'n') + "\"}", "notes"},
      {"{" + ok + R"(, "quantity": 1, "section": ")" + std::string(101, 's') + "\"}", "section"},
      {"{" + ok + R"(, "quantity": 1, "row": ")" + std::string(21, 'r') + "\"}", "row"},
      {"{" + ok + R"(, "quantity": 1, "row": 12})", "row"},
      {"{" + ok + R"(, "quantity": 1, "seller_id": 4})", "seller_id"},
      {"{" + ok + R"(, "quantity": 1, "status": "withdrawn"})", "status"},
  };
  for (const auto& c : cases) {
    EXPECT_TRUE(IsInvalid(PostRaw("/api/v1/listings", c.body, token), c.field)) << c.body;
  }
  EXPECT_EQ(Counts(), before);
  // 2,000 characters of any script are fine (the limit counts characters, not bytes).
  std::string notes;
  for (int i = 0; i < 2000; ++i) notes += "ñ";
  auto r = Post("/api/v1/listings",
                {{"event_id", 1},
                 {"quantity", 2},
                 {"price_minor", 100},
                 {"currency", "EUR"},
                 {"split", "pairs"},
                 {"notes", notes}},
                token);
  EXPECT_EQ(r.status, 201) << r.body.substr(0, 300);
}

TEST_F(ApiTest, SqlMetacharactersAreStoredVerbatim) {
  const std::string name = "Robert'); DROP TABLE users;--";
  auto r = Post("/api/v1/users",
                {{"email", "o'brien+test@t.test"},
                 {"password", "p'\"\\; --%_0123"},
                 {"display_name", name},
                 {"locale", "es"}},
                "");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json().at("display_name").as_string(), name);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM users"), 5);
  EXPECT_EQ(
      Sql("SELECT display_name FROM users WHERE email = 'o''brien+test@t.test'").GetString(0, 0),
      name);
  auto login = Post("/api/v1/sessions",
                    {{"email", "o'brien+test@t.test"}, {"password", "p'\"\\; --%_0123"}}, "");
  ASSERT_EQ(login.status, 201) << login.body;
  std::string token(login.json().at("token").as_string());
  EXPECT_EQ(Get("/api/v1/me", token).json().at("display_name").as_string(), name);

  auto before = Counts();
  const std::string notes = R"(back\slash \\ 'single' "double" `tick` %_ $1 \x00 ;-- /* */ E'\n')";
  const std::string section = "A'; UPDATE listings SET price_minor = 1;--";
  r = Post("/api/v1/listings",
           {{"event_id", 1},
            {"quantity", 1},
            {"price_minor", 700},
            {"currency", "EUR"},
            {"section", section},
            {"row", "\\'\""},
            {"notes", notes}},
           token);
  ASSERT_EQ(r.status, 201) << r.body;
  int64_t id = r.json().at("id").as_int64();
  EXPECT_EQ(r.json().at("notes").as_string(), notes);
  auto row = Sql("SELECT notes, section, \"row\", price_minor FROM listings WHERE id = " + Id(id));
  EXPECT_EQ(row.GetString(0, 0), notes);
  EXPECT_EQ(row.GetString(0, 1), section);
  EXPECT_EQ(row.GetString(0, 2), "\\'\"");
  EXPECT_EQ(row.GetInt(0, 3), 700);
  EXPECT_EQ(Get("/api/v1/listings/" + Id(id), token).json().at("notes").as_string(), notes);
  before["listings"] += 1;
  before["active_listings"] += 1;
  before["available"] += 1;
  EXPECT_EQ(Counts(), before);

  // A search pattern's metacharacters match literally.
  for (const char* q : {"%25", "_", "%27", "%5C", "Robert%27)%3B%20DROP"}) {
    auto s = Get(std::string("/api/v1/admin/events?q=") + q, Admin());
    ASSERT_EQ(s.status, 200) << q << " " << s.body;
    EXPECT_EQ(s.json().at("total").as_int64(), 0) << q;
  }
  auto s = Get("/api/v1/admin/events?q=ONCIER", Admin());
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(s.json().at("total").as_int64(), 1);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM users"), 5);
}

// ------------------------------------------------------------------ holds and orders

TEST_F(ApiTest, HoldsAndOrdersAreTheirOwnersOnly) {
  int64_t listing = MakeListing(4);
  std::string buyer = Login("buyer@t.test");
  std::string buyer2 = Login("buyer2@t.test");
  auto r = Post("/api/v1/holds", {{"listing_id", listing}, {"quantity", 2}}, buyer);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(HasLsn(r));
  int64_t hold = r.json().at("id").as_int64();
  EXPECT_EQ(r.json().at("listing_id").as_int64(), listing);
  EXPECT_EQ(r.json().at("quantity").as_int64(), 2);
  EXPECT_FALSE(r.json().at("expires_at").as_string().empty());

  r = Get("/api/v1/holds/" + Id(hold), buyer);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("status").as_string(), "active");
  EXPECT_EQ(r.json().at("unit_price").at("amount_minor").as_int64(), 5000);
  for (const std::string& t : {buyer2, Seller(), Admin()}) {
    EXPECT_TRUE(IsError(Get("/api/v1/holds/" + Id(hold), t), 404, "not_found"));
  }
  auto before = Counts();
  // Someone else's hold cannot be paid or released.
  EXPECT_TRUE(IsError(Pay(hold, kGoodCard, buyer2), 404, "not_found"));
  EXPECT_TRUE(IsError(Delete("/api/v1/holds/" + Id(hold), buyer2), 404, "not_found"));
  for (const char* id : {"abc", "0", "-2", "999999"}) {
    EXPECT_TRUE(IsError(Get(std::string("/api/v1/holds/") + id, buyer), 404, "not_found")) << id;
    EXPECT_TRUE(IsError(Delete(std::string("/api/v1/holds/") + id, buyer), 404, "not_found"));
    EXPECT_TRUE(IsError(Get(std::string("/api/v1/orders/") + id, buyer), 404, "not_found"));
  }
  // Bad hold requests.
  EXPECT_TRUE(IsInvalid(Post("/api/v1/holds", {{"listing_id", listing}, {"quantity", 0}}, buyer),
                        "quantity"));
  EXPECT_TRUE(
      IsInvalid(PostRaw("/api/v1/holds",
                        R"({"listing_id": )" + Id(listing) + R"(, "quantity": 1e30})", buyer),
                "quantity"));
  EXPECT_TRUE(IsInvalid(Post("/api/v1/holds", {{"listing_id", listing}}, buyer), "quantity"));
  EXPECT_TRUE(IsError(Post("/api/v1/holds", {{"listing_id", listing}, {"quantity", 3}}, buyer2),
                      409, "not_enough_tickets"));
  // Bad payments.
  EXPECT_TRUE(IsInvalid(Post("/api/v1/orders", {{"hold_id", hold}}, buyer), "payment"));
  EXPECT_TRUE(IsInvalid(Post("/api/v1/orders", {{"hold_id", hold}, {"payment", "card"}}, buyer),
                        "payment"));
  EXPECT_TRUE(IsInvalid(
      Post("/api/v1/orders",
           {{"hold_id", hold}, {"payment", {{"method", "cash"}, {"number", kGoodCard}}}}, buyer),
      "payment.method"));
  EXPECT_TRUE(
      IsInvalid(Post("/api/v1/orders",
                     {{"hold_id", hold},
                      {"payment", {{"method", "test_card"}, {"number", kGoodCard}, {"cvv", "1"}}}},
                     buyer),
                "payment.cvv"));
  EXPECT_TRUE(IsInvalid(Pay(hold, "1234", buyer), "payment.number"));
  EXPECT_TRUE(IsInvalid(Pay(hold, "4111111111111111", buyer), "payment.number"));
  EXPECT_TRUE(IsError(Pay(hold, "4000000000000002", buyer), 402, "payment_declined"));
  EXPECT_EQ(Counts(), before);

  r = Pay(hold, kGoodCard, buyer);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(HasLsn(r));
  int64_t order = r.json().at("id").as_int64();
  std::string path = "/api/v1/orders/" + Id(order);
  r = Get(path, buyer);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("status").as_string(), "paid");
  EXPECT_FALSE(r.json().at("payment_ref").as_string().empty());
  // The seller sees the sale without the payment reference; admins see everything.
  r = Get(path, Seller());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.json().as_object().contains("payment_ref"));
  r = Get(path, Admin());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json().as_object().contains("payment_ref"));
  EXPECT_TRUE(IsError(Get(path, buyer2), 404, "not_found"));
}

TEST_F(ApiTest, ExpiredHoldIs410WithoutAnLsn) {
  int64_t listing = MakeListing(2);
  std::string buyer = Login("buyer@t.test");
  int64_t hold = HoldOf(listing, 1, buyer);
  clock_->Advance(std::chrono::seconds(601));
  auto r = Get("/api/v1/holds/" + Id(hold), buyer);
  EXPECT_EQ(r.json().at("status").as_string(), "expired");
  EXPECT_TRUE(IsError(Pay(hold, kGoodCard, buyer), 410, "hold_expired"));
  EXPECT_EQ(SqlInt("SELECT count(*) FROM orders"), 0);
}

// ------------------------------------------------------------------ routing

TEST_F(ApiTest, UnknownPathsAre404AndWrongMethods405) {
  std::string token = Login("buyer@t.test");
  for (const char* path :
       {"/", "/nope", "/api/v1", "/api/v1/", "/api/v2/me", "/api/v1/me/", "/api/v1/me/everything",
        "/api/v1/listings/1/extra", "/api/v1/admin/nope", "/healthz/x"}) {
    EXPECT_TRUE(IsError(Get(path, token), 404, "not_found")) << path;
  }
  struct Case {
    std::string method, path, allow;
  } cases[] = {
      {"GET", "/api/v1/users", "POST"},
      {"GET", "/api/v1/sessions", "POST"},
      {"POST", "/api/v1/sessions/current", "DELETE"},
      {"POST", "/api/v1/me", "GET"},
      {"DELETE", "/api/v1/me/listings", "GET"},
      {"GET", "/api/v1/listings", "POST"},
      {"PUT", "/api/v1/listings/1", "GET, PATCH, DELETE"},
      {"POST", "/api/v1/holds/1", "GET, DELETE"},
      {"PATCH", "/api/v1/orders/1", "GET"},
      {"DELETE", "/api/v1/admin/languages", "POST, GET"},
      {"DELETE", "/api/v1/admin/events/1", "GET, PATCH"},
      {"GET", "/api/v1/admin/exchange-rates/EUR/USD", "PUT"},
      {"POST", "/healthz", "GET"},
  };
  auto before = Counts();
  for (const auto& c : cases) {
    auto r = Send(c.method, c.path, c.method == "GET" || c.method == "DELETE" ? "" : "{}",
                  Bearer(token));
    EXPECT_TRUE(IsError(r, 405, "method_not_allowed")) << c.method << " " << c.path;
    EXPECT_EQ(r.header("allow"), c.allow) << c.method << " " << c.path;
  }
  EXPECT_EQ(Counts(), before);
}

// ------------------------------------------------------------------ backoffice

TEST_F(ApiTest, EveryAdminRouteIsForAdminsOnly) {
  std::string buyer = Login("buyer@t.test");
  std::string seller = Seller();
  auto before = Counts();
  int routes = 0;
  for (const std::string& route : api_->Routes()) {
    auto space = route.find(' ');
    std::string method = route.substr(0, space);
    std::string path = route.substr(space + 1);
    if (path.rfind("/api/v1/admin/", 0) != 0) continue;
    ++routes;
    path = std::regex_replace(path, std::regex(R"(\{id\})"), "1");
    path = std::regex_replace(path, std::regex(R"(\{site\})"), "es");
    path = std::regex_replace(path, std::regex(R"(\{lang\})"), "de");
    path = std::regex_replace(path, std::regex(R"(\{base\})"), "EUR");
    path = std::regex_replace(path, std::regex(R"(\{quote\})"), "USD");
    ASSERT_EQ(path.find('{'), std::string::npos) << path;
    std::string body = method == "GET" ? "" : R"({"code": "de", "role": "admin"})";
    for (const std::string& t : {buyer, seller}) {
      EXPECT_TRUE(IsError(Send(method, path, body, Bearer(t)), 403, "forbidden"))
          << method << " " << path;
    }
    EXPECT_TRUE(IsError(Send(method, path, body), 401, "unauthenticated")) << method << " " << path;
  }
  EXPECT_EQ(routes, 16);
  EXPECT_EQ(Counts(), before);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM users WHERE role = 'admin'"), 1);
}

TEST_F(ApiTest, AdminLanguages) {
  std::string admin = Admin();
  auto r = Post("/api/v1/admin/languages", {{"code", "fr"}, {"name", "Français"}}, admin);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(HasLsn(r));
  EXPECT_EQ(r.json().at("code").as_string(), "fr");
  EXPECT_EQ(r.json().at("direction").as_string(), "ltr");
  r = Post("/api/v1/admin/languages", {{"code", "he"}, {"name", "עברית"}, {"direction", "rtl"}},
           admin);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Sql("SELECT direction FROM languages WHERE code = 'he'").GetString(0, 0), "rtl");
  r = Post("/api/v1/admin/languages", {{"code", "pt-BR"}, {"name", "Português"}}, admin);
  EXPECT_EQ(r.status, 201) << r.body;

  auto before = Counts();
  EXPECT_TRUE(IsError(Post("/api/v1/admin/languages", {{"code", "fr"}, {"name", "Again"}}, admin),
                      409, "already_exists"));
  EXPECT_TRUE(IsError(Post("/api/v1/admin/languages", {{"code", "es"}, {"name", "Again"}}, admin),
                      409, "already_exists"));
  for (const char* code : {"FR", "f", "french", "fr_FR", "fr-fr", "12", "fr'--"}) {
    EXPECT_TRUE(
        IsInvalid(Post("/api/v1/admin/languages", {{"code", code}, {"name", "X"}}, admin), "code"))
        << code;
  }
  EXPECT_TRUE(IsInvalid(Post("/api/v1/admin/languages", {{"code", "it"}}, admin), "name"));
  EXPECT_TRUE(IsInvalid(
      Post("/api/v1/admin/languages", {{"code", "it"}, {"name", "I"}, {"direction", "up"}}, admin),
      "direction"));
  EXPECT_TRUE(IsInvalid(
      Post("/api/v1/admin/languages", {{"code", "it"}, {"name", "I"}, {"extra", 1}}, admin),
      "extra"));
  EXPECT_EQ(Counts(), before);

  r = Get("/api/v1/admin/languages", admin);
  ASSERT_EQ(r.status, 200) << r.body;
  std::vector<std::string> codes;
  json::value languages_body = r.json();
  for (const auto& l : languages_body.at("languages").as_array()) {
    codes.emplace_back(l.at("code").as_string());
  }
  EXPECT_EQ(codes, (std::vector<std::string>{"ar", "de", "en", "es", "fr", "he", "pt-BR"}));
}

TEST_F(ApiTest, AdminSitesAndTheOneClickLanguage) {
  std::string admin = Admin();
  // One click: the es site now offers German too, after its existing languages.
  auto r = Post("/api/v1/admin/sites/es/languages", {{"code", "de"}}, admin);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(HasLsn(r));
  EXPECT_EQ(json::serialize(r.json().at("languages")), R"(["es","en","de"])");
  EXPECT_EQ(SqlInt("SELECT position FROM site_languages WHERE site_code = 'es' AND "
                   "language_code = 'de'"),
            2);
  auto before = Counts();
  EXPECT_TRUE(IsError(Post("/api/v1/admin/sites/es/languages", {{"code", "de"}}, admin), 409,
                      "already_exists"));
  EXPECT_TRUE(
      IsError(Post("/api/v1/admin/sites/zz/languages", {{"code", "de"}}, admin), 404, "not_found"));
  EXPECT_TRUE(IsError(Post("/api/v1/admin/sites/es'--/languages", {{"code", "de"}}, admin), 404,
                      "not_found"));
  EXPECT_TRUE(IsInvalid(Post("/api/v1/admin/sites/es/languages", {{"code", "fr"}}, admin), "code"));
  EXPECT_TRUE(IsInvalid(Post("/api/v1/admin/sites/es/languages", json::object{}, admin), "code"));
  EXPECT_TRUE(
      IsInvalid(Post("/api/v1/admin/sites/es/languages", {{"code", "ar"}, {"position", 0}}, admin),
                "position"));
  EXPECT_EQ(Counts(), before);

  // A new site.
  json::object site{{"code", "fr"},
                    {"name", "Taquilla France"},
                    {"country", "FR"},
                    {"currency", "EUR"},
                    {"timezone", "Europe/Paris"},
                    {"default_language", "en"},
                    {"languages", json::array{"en", "es"}}};
  r = Post("/api/v1/admin/sites", site, admin);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(HasLsn(r));
  EXPECT_EQ(r.json().at("code").as_string(), "fr");
  EXPECT_EQ(json::serialize(r.json().at("languages")), R"(["en","es"])");
  EXPECT_EQ(SqlInt("SELECT count(*) FROM countries WHERE code = 'FR'"), 1);
  before = Counts();
  EXPECT_TRUE(IsError(Post("/api/v1/admin/sites", site, admin), 409, "already_exists"));
  struct Case {
    const char* key;
    json::value value;
    const char* field;
  } cases[] = {
      {"code", "FR", "code"},
      {"code", "pt", "code"},  // not the country
      {"country", "France", "country"},
      {"currency", "ZZZ", "currency"},
      {"currency", "eur", "currency"},
      {"timezone", "Mars/Olympus", "timezone"},
      {"timezone", "Europe/Paris'; DROP TABLE sites;--", "timezone"},
      {"default_language", "de", "default_language"},
      {"languages", json::array{}, "languages"},
      {"languages", json::array{"en", "xx"}, "languages"},
      {"languages", json::array{"en", 5}, "languages"},
      {"languages", "en", "languages"},
      {"name", "", "name"},
      {"extra", true, "extra"},
  };
  for (const auto& c : cases) {
    json::object bad = site;
    bad["code"] = "it";
    bad["country"] = "IT";
    bad[c.key] = c.value;
    EXPECT_TRUE(IsInvalid(Post("/api/v1/admin/sites", bad, admin), c.field))
        << c.key << " " << json::serialize(c.value);
  }
  EXPECT_EQ(Counts(), before);

  r = Get("/api/v1/admin/sites", admin);
  ASSERT_EQ(r.status, 200) << r.body;
  std::map<std::string, std::string> langs;
  json::value sites_body = r.json();
  for (const auto& s : sites_body.at("sites").as_array()) {
    langs[std::string(s.at("code").as_string())] = json::serialize(s.at("languages"));
  }
  EXPECT_EQ(langs,
            (std::map<std::string, std::string>{
                {"de", R"(["de"])"}, {"es", R"(["es","en","de"])"}, {"fr", R"(["en","es"])"}}));
}

TEST_F(ApiTest, AdminVenuesCategoriesAndPerformers) {
  std::string admin = Admin();
  auto r = Post("/api/v1/admin/venues",
                {{"name", "Palacio Vistalegre"},
                 {"city_id", 1},
                 {"address", "Calle de Utebo, 1"},
                 {"latitude", 40.38},
                 {"longitude", -3.73},
                 {"timezone", "Europe/Madrid"},
                 {"capacity", 15000}},
                admin);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(HasLsn(r));
  int64_t venue = r.json().at("id").as_int64();
  EXPECT_EQ(r.json().at("slug").as_string(), "palacio-vistalegre");
  EXPECT_EQ(SqlInt("SELECT capacity FROM venues WHERE id = " + Id(venue)), 15000);

  // Categories: a parent and children make a tree.
  r = Post("/api/v1/admin/categories",
           {{"translations", {{"en", {{"name", "Rock"}}}, {"es", {{"name", "Rock español"}}}}},
            {"parent_id", 1}},
           admin);
  ASSERT_EQ(r.status, 201) << r.body;
  int64_t rock = r.json().at("id").as_int64();
  EXPECT_EQ(r.json().at("slug").as_string(), "rock");
  EXPECT_EQ(r.json().at("parent_id").as_int64(), 1);
  r = Post("/api/v1/admin/categories",
           {{"translations", {{"es", {{"name", "Indie"}}}}}, {"parent_id", rock}, {"position", 2}},
           admin);
  ASSERT_EQ(r.status, 201) << r.body;
  int64_t indie = r.json().at("id").as_int64();
  EXPECT_EQ(SqlInt("WITH RECURSIVE up AS (SELECT id, parent_id, 0 AS depth FROM categories WHERE "
                   "id = " +
                   Id(indie) +
                   " UNION ALL SELECT c.id, c.parent_id, up.depth + 1 FROM categories c JOIN up "
                   "ON c.id = up.parent_id) SELECT max(depth) FROM up"),
            2);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM category_translations WHERE category_id = " + Id(rock)),
            2);

  auto before = Counts();
  EXPECT_TRUE(IsError(
      Post("/api/v1/admin/categories", {{"translations", {{"en", {{"name", "Rock"}}}}}}, admin),
      409, "already_exists"));
  EXPECT_TRUE(
      IsInvalid(Post("/api/v1/admin/categories",
                     {{"translations", {{"en", {{"name", "Jazz"}}}}}, {"parent_id", 999}}, admin),
                "parent_id"));
  EXPECT_TRUE(IsInvalid(Post("/api/v1/admin/categories", {{"translations", json::object{}}}, admin),
                        "translations"));
  EXPECT_TRUE(IsInvalid(Post("/api/v1/admin/categories", json::object{}, admin), "translations"));
  EXPECT_TRUE(IsInvalid(
      Post("/api/v1/admin/categories", {{"translations", {{"EN", {{"name", "Jazz"}}}}}}, admin),
      "translations.EN"));
  EXPECT_TRUE(
      IsInvalid(Post("/api/v1/admin/categories", {{"translations", {{"en", "Jazz"}}}}, admin),
                "translations.en"));
  EXPECT_TRUE(IsInvalid(
      Post("/api/v1/admin/categories", {{"translations", {{"en", {{"title", "Jazz"}}}}}}, admin),
      "translations.en.name"));
  EXPECT_TRUE(IsInvalid(
      Post("/api/v1/admin/categories",
           {{"translations", {{"en", {{"name", "Jazz"}}}}}, {"slug", "Not A Slug"}}, admin),
      "slug"));
  // A well-formed language code Taquilla does not offer is refused by the database.
  EXPECT_TRUE(IsError(
      Post("/api/v1/admin/categories", {{"translations", {{"fr", {{"name", "Jazz"}}}}}}, admin),
      422, "invalid_field"));
  EXPECT_TRUE(IsInvalid(Post("/api/v1/admin/venues",
                             {{"name", "X"},
                              {"city_id", 999},
                              {"latitude", 1},
                              {"longitude", 1},
                              {"timezone", "Europe/Madrid"}},
                             admin),
                        "city_id"));
  EXPECT_TRUE(IsInvalid(Post("/api/v1/admin/venues",
                             {{"name", "X"},
                              {"city_id", 1},
                              {"latitude", 91},
                              {"longitude", 1},
                              {"timezone", "Europe/Madrid"}},
                             admin),
                        "latitude"));
  EXPECT_TRUE(IsInvalid(Post("/api/v1/admin/venues",
                             {{"name", "X"},
                              {"city_id", 1},
                              {"latitude", 1},
                              {"longitude", "1"},
                              {"timezone", "Europe/Madrid"}},
                             admin),
                        "longitude"));
  EXPECT_TRUE(IsInvalid(
      Post("/api/v1/admin/venues",
           {{"name", "X"}, {"city_id", 1}, {"latitude", 1}, {"longitude", 1}, {"timezone", "Nope"}},
           admin),
      "timezone"));
  EXPECT_TRUE(
      IsInvalid(Post("/api/v1/admin/performers", {{"name", "X"}, {"category_id", 999}}, admin),
                "category_id"));
  EXPECT_TRUE(IsInvalid(Post("/api/v1/admin/performers", {{"name", ""}}, admin), "name"));
  EXPECT_EQ(Counts(), before);

  r = Post("/api/v1/admin/performers", {{"name", "Los Planetas"}, {"category_id", indie}}, admin);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(HasLsn(r));
  EXPECT_EQ(r.json().at("slug").as_string(), "los-planetas");
  EXPECT_EQ(
      SqlInt("SELECT category_id FROM performers WHERE id = " + Id(r.json().at("id").as_int64())),
      indie);
}

TEST_F(ApiTest, AdminEvents) {
  std::string admin = Admin();
  auto p = Post("/api/v1/admin/performers", {{"name", "Rosalía"}}, admin);
  ASSERT_EQ(p.status, 201) << p.body;
  int64_t performer = p.json().at("id").as_int64();
  json::object event{{"venue_id", 1},
                     {"category_id", 1},
                     {"performer_ids", json::array{performer}},
                     {"starts_at", "2031-05-01T21:00:00+02:00"},
                     {"sites", json::array{"es", "de"}},
                     {"translations",
                      {{"es", {{"title", "Motomami Tour"}, {"description", "Gira mundial"}}},
                       {"en", {{"title", "Motomami World Tour"}}}}}};
  auto r = Post("/api/v1/admin/events", event, admin);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(HasLsn(r));
  int64_t id = r.json().at("id").as_int64();
  std::string path = "/api/v1/admin/events/" + Id(id);
  EXPECT_EQ(r.json().at("starts_at").as_string(), "2031-05-01T19:00:00Z");
  EXPECT_EQ(r.json().at("status").as_string(), "scheduled");
  EXPECT_EQ(json::serialize(r.json().at("sites")), R"(["de","es"])");
  EXPECT_EQ(json::serialize(r.json().at("performer_ids")), "[" + Id(performer) + "]");
  EXPECT_EQ(r.json().at("translations").at("es").at("slug").as_string(), "motomami-tour");

  r = Get(path, admin);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("translations").at("en").at("title").as_string(), "Motomami World Tour");

  // List and search.
  r = Get("/api/v1/admin/events", admin);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("total").as_int64(), 3);
  EXPECT_EQ(r.json().at("items").at(0).at("id").as_int64(), id);  // latest first
  EXPECT_EQ(r.json().at("items").at(0).at("title").as_string(), "Motomami World Tour");
  r = Get("/api/v1/admin/events?q=motomami", admin);
  ASSERT_EQ(r.json().at("items").as_array().size(), 1u);
  EXPECT_EQ(r.json().at("items").at(0).at("id").as_int64(), id);
  r = Get("/api/v1/admin/events?q=Gira", admin);  // titles only
  EXPECT_EQ(r.json().at("total").as_int64(), 0);
  r = Get("/api/v1/admin/events?per_page=1&page=2", admin);
  ASSERT_EQ(r.json().at("items").as_array().size(), 1u);
  EXPECT_EQ(r.json().at("total").as_int64(), 3);
  r = Get("/api/v1/admin/events?per_page=1&page=4", admin);
  EXPECT_TRUE(r.json().at("items").as_array().empty());
  EXPECT_EQ(r.json().at("total").as_int64(), 3);
  r = Get("/api/v1/admin/events?q=motomami&page=2", admin);
  EXPECT_EQ(r.json().at("total").as_int64(), 1);
  EXPECT_TRUE(IsError(Get("/api/v1/admin/events?q=" + std::string(201, 'q'), admin), 422,
                      "invalid_parameter"));
  EXPECT_TRUE(IsError(Get("/api/v1/admin/events?page=0", admin), 422, "invalid_parameter"));
  EXPECT_EQ(Get("/api/v1/admin/events?q=" + std::string(200, 'q'), admin).status, 200);

  // Refused creations and changes change nothing.
  auto before = Counts();
  struct Case {
    const char* key;
    json::value value;
    const char* field;
  } cases[] = {
      {"starts_at", "2031-05-01 21:00", "starts_at"},
      {"starts_at", "2031-05-01T21:00:00", "starts_at"},  // no offset
      {"starts_at", "2031-13-01T21:00:00Z", "starts_at"},
      {"venue_id", 999, "venue"},
      {"venue_id", -1, "venue_id"},
      {"category_id", "1", "category_id"},
      {"sites", json::array{}, "sites"},
      {"sites", json::array{"xx"}, "site"},
      {"performer_ids", json::array{"a"}, "performer_ids"},
      {"performer_ids", json::array{999}, "performer"},
      {"translations", json::object{}, "translations"},
      {"status", "sold_out", "status"},
      {"bogus", 1, "bogus"},
  };
  for (const auto& c : cases) {
    json::object bad = event;
    bad[c.key] = c.value;
    EXPECT_TRUE(IsInvalid(Post("/api/v1/admin/events", bad, admin), c.field))
        << c.key << " " << json::serialize(c.value);
  }
  EXPECT_TRUE(IsInvalid(Patch(path, R"({"status": "gone"})", admin), "status"));
  EXPECT_TRUE(IsInvalid(Patch(path, R"({"starts_at": "tomorrow"})", admin), "starts_at"));
  EXPECT_TRUE(IsInvalid(Patch(path, R"({"ends_at": "2030-01-01T00:00:00Z"})", admin), "ends"));
  EXPECT_TRUE(IsInvalid(Patch(path, R"({"title": "x"})", admin), "title"));
  EXPECT_TRUE(IsError(Patch("/api/v1/admin/events/999999", R"({"status": "cancelled"})", admin),
                      404, "not_found"));
  EXPECT_TRUE(IsError(Get("/api/v1/admin/events/999999", admin), 404, "not_found"));
  EXPECT_TRUE(IsError(Get("/api/v1/admin/events/abc", admin), 404, "not_found"));
  EXPECT_TRUE(
      IsError(Put(path + "/translations/xx", R"({"title": "X"})", admin), 404, "not_found"));
  EXPECT_TRUE(
      IsError(Put("/api/v1/admin/events/999999/translations/en", R"({"title": "X"})", admin), 404,
              "not_found"));
  EXPECT_TRUE(IsInvalid(Put(path + "/translations/de", R"({"title": ""})", admin), "title"));
  EXPECT_TRUE(IsInvalid(Put(path + "/translations/de", R"({"name": "X"})", admin), "title"));
  EXPECT_EQ(Counts(), before);
  EXPECT_EQ(Get(path, admin).json().at("status").as_string(), "scheduled");

  // Translate.
  r = Put(path + "/translations/de", R"({"title": "Motomami Tournee", "description": "Welt"})",
          admin);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(HasLsn(r));
  EXPECT_EQ(r.json().at("translations").at("de").at("title").as_string(), "Motomami Tournee");
  r = Put(path + "/translations/es", R"({"title": "Motomami"})", admin);  // replaces
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Sql("SELECT title FROM event_translations WHERE language_code = 'es' AND event_id "
                "= " +
                Id(id))
                .GetString(0, 0),
            "Motomami");
  EXPECT_EQ(SqlInt("SELECT count(*) FROM event_translations WHERE event_id = " + Id(id)), 3);

  // Change, then cancel: a cancelled event takes no new listings.
  r = Patch(path, R"({"starts_at": "2031-06-01T20:00:00Z", "sites": ["es"]})", admin);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(HasLsn(r));
  EXPECT_EQ(r.json().at("starts_at").as_string(), "2031-06-01T20:00:00Z");
  EXPECT_EQ(json::serialize(r.json().at("sites")), R"(["es"])");
  EXPECT_EQ(json::serialize(r.json().at("performer_ids")), "[" + Id(performer) + "]");
  auto listing = Post(
      "/api/v1/listings",
      {{"event_id", id}, {"quantity", 1}, {"price_minor", 100}, {"currency", "EUR"}}, Seller());
  ASSERT_EQ(listing.status, 201) << listing.body;
  std::string buyer = Login("buyer@t.test");
  r = Patch(path, R"({"status": "cancelled"})", admin);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("status").as_string(), "cancelled");
  EXPECT_EQ(Sql("SELECT status FROM events WHERE id = " + Id(id)).GetString(0, 0), "cancelled");
  before = Counts();
  EXPECT_TRUE(
      IsError(Post("/api/v1/listings",
                   {{"event_id", id}, {"quantity", 1}, {"price_minor", 100}, {"currency", "EUR"}},
                   Seller()),
              409, "event_not_on_sale"));
  EXPECT_TRUE(
      IsError(Post("/api/v1/holds",
                   {{"listing_id", listing.json().at("id").as_int64()}, {"quantity", 1}}, buyer),
              409, "listing_unavailable"));
  EXPECT_EQ(Counts(), before);
}

TEST_F(ApiTest, AdminExchangeRates) {
  std::string admin = Admin();
  auto r = Get("/api/v1/admin/exchange-rates", admin);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json().at("rates").as_array().empty());
  r = Put("/api/v1/admin/exchange-rates/EUR/USD", R"({"rate": "1.0823"})", admin);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(HasLsn(r));
  EXPECT_EQ(r.json().at("base").as_string(), "EUR");
  EXPECT_EQ(r.json().at("quote").as_string(), "USD");
  EXPECT_EQ(r.json().at("rate").as_string(), "1.082300000000");
  r = Put("/api/v1/admin/exchange-rates/EUR/USD", R"({"rate": "1.1"})", admin);  // replaces
  ASSERT_EQ(r.status, 200) << r.body;
  r = Put("/api/v1/admin/exchange-rates/EUR/JPY", R"({"rate": "161.123456789012"})", admin);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(
      Sql("SELECT rate::text FROM exchange_rates WHERE quote_currency = 'JPY'").GetString(0, 0),
      "161.123456789012");  // exact, no float rounding

  auto before = Counts();
  for (const char* body :
       {R"({"rate": 1.08})", R"({"rate": "abc"})", R"({"rate": "0"})", R"({"rate": "0.000"})",
        R"({"rate": "-1.2"})", R"({"rate": "1e3"})", R"({"rate": "1,08"})", R"({"rate": ".5"})",
        R"({"rate": "1.0000000000001"})", R"({"rate": "1234567890123"})", R"({"rate": ""})",
        R"({})", R"({"rate": "1.2", "extra": 1})"}) {
    auto bad = Put("/api/v1/admin/exchange-rates/EUR/GBP", body, admin);
    EXPECT_EQ(bad.status, 422) << body << " " << bad.body;
    EXPECT_EQ(bad.error_code(), "invalid_field") << body;
  }
  EXPECT_TRUE(
      IsInvalid(Put("/api/v1/admin/exchange-rates/EUR/EUR", R"({"rate": "1"})", admin), "quote"));
  for (const char* pair : {"EUR/ZZZ", "ZZZ/EUR", "eur/usd", "EUR/US"}) {
    EXPECT_TRUE(IsError(
        Put(std::string("/api/v1/admin/exchange-rates/") + pair, R"({"rate": "1.2"})", admin), 404,
        "not_found"))
        << pair;
  }
  EXPECT_EQ(Counts(), before);
  EXPECT_EQ(
      Sql("SELECT rate::text FROM exchange_rates WHERE quote_currency = 'USD'").GetString(0, 0),
      "1.100000000000");

  r = Get("/api/v1/admin/exchange-rates", admin);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.json().at("rates").as_array().size(), 2u);
  EXPECT_EQ(r.json().at("rates").at(0).at("quote").as_string(), "JPY");
  EXPECT_EQ(r.json().at("rates").at(1).at("rate").as_string(), "1.100000000000");
}

TEST_F(ApiTest, AdminUpdatesUsersAndDisablingRevokesSessions) {
  std::string admin = Admin();
  std::string buyer = Login("buyer@t.test");
  std::string buyer_again = Login("buyer@t.test");
  int64_t id = UserId("buyer@t.test");
  std::string path = "/api/v1/admin/users/" + Id(id);

  auto r = Patch(path, R"({"role": "seller"})", admin);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(HasLsn(r));
  EXPECT_EQ(r.json().at("role").as_string(), "seller");
  EXPECT_FALSE(r.json().at("disabled").as_bool());
  EXPECT_EQ(Sql("SELECT role FROM users WHERE id = " + Id(id)).GetString(0, 0), "seller");
  EXPECT_EQ(Get("/api/v1/me", buyer).json().at("role").as_string(), "seller");

  auto before = Counts();
  EXPECT_TRUE(IsInvalid(Patch(path, R"({"role": "root"})", admin), "role"));
  EXPECT_TRUE(IsInvalid(Patch(path, R"({"disabled": "yes"})", admin), "disabled"));
  EXPECT_TRUE(IsInvalid(Patch(path, R"({"email": "x@t.test"})", admin), "email"));
  EXPECT_TRUE(IsError(Patch("/api/v1/admin/users/999999", R"({"role": "admin"})", admin), 404,
                      "not_found"));
  EXPECT_TRUE(
      IsError(Patch("/api/v1/admin/users/abc", R"({"role": "admin"})", admin), 404, "not_found"));
  EXPECT_EQ(Counts(), before);
  EXPECT_EQ(Sql("SELECT role FROM users WHERE id = " + Id(id)).GetString(0, 0), "seller");

  // Disabling logs the user out everywhere and refuses new logins.
  r = Patch(path, R"({"disabled": true})", admin);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json().at("disabled").as_bool());
  EXPECT_EQ(
      SqlInt("SELECT count(*) FROM sessions WHERE user_id = " + Id(id) + " AND revoked_at IS NULL"),
      0);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM sessions WHERE user_id = " + Id(id)), 2);
  EXPECT_TRUE(IsError(Get("/api/v1/me", buyer), 401, "unauthenticated"));
  EXPECT_TRUE(IsError(Get("/api/v1/me", buyer_again), 401, "unauthenticated"));
  auto login = Post("/api/v1/sessions", {{"email", "buyer@t.test"}, {"password", kPassword}}, "");
  EXPECT_TRUE(IsError(login, 403, "account_disabled"));
  // Other users' sessions are untouched.
  EXPECT_EQ(Get("/api/v1/me", admin).status, 200);

  // Promote another user to admin: their existing session gains the backoffice.
  std::string buyer2 = Login("buyer2@t.test");
  EXPECT_TRUE(IsError(Get("/api/v1/admin/sites", buyer2), 403, "forbidden"));
  r = Patch("/api/v1/admin/users/" + Id(UserId("buyer2@t.test")), R"({"role": "admin"})", admin);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Get("/api/v1/admin/sites", buyer2).status, 200);
}

}  // namespace
}  // namespace taquilla::secure
