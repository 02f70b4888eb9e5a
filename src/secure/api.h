// SecureApi: the secure app's HTTP adapter. It authenticates (bearer token, or the session
// cookie plus X-CSRF-Token on unsafe methods), rate-limits failed logins, parses and checks
// every input, calls the Market, and answers in the API's JSON and error shapes. Every
// successful write carries X-Taquilla-LSN.
//
// Thread-safety: Handle may be called concurrently once constructed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "http/router.h"
#include "http/server.h"
#include "secure/auth.h"
#include "secure/market.h"

namespace taquilla::secure {

struct ApiOptions {
  bool cookie_secure = false;
  int login_failures_per_account = 5;
  int login_failures_per_client = 50;
  std::chrono::seconds login_window{900};
};

inline constexpr std::string_view kSessionCookie = "tq_session";

class SecureApi {
 public:
  SecureApi(Market& market, const Clock& clock, ApiOptions options);
  http::Response Handle(const http::Request& req, const http::Peer& peer);
  std::vector<std::string> Routes() const { return router_.Routes(); }

  // Pieces the HTML pages share.
  // The caller of a request (cookie or bearer), checking CSRF on unsafe methods when the
  // cookie is used. `form_csrf` is the token a form posted, if any.
  Result<Caller> Authenticate(const http::Request& req, const std::string& form_csrf = "");
  // Market::Login behind the failed-login limiter, for the API and the login page alike:
  // reason "rate_limited" with *retry_after seconds while the account or client is
  // limited; a wrong password counts against both.
  Result<NewSession> LimitedLogin(const std::string& email, const std::string& password,
                                  const std::string& user_agent, const std::string& client,
                                  int* retry_after);
  Market& market() { return market_; }
  LoginLimiter& limiter() { return limiter_; }
  const ApiOptions& options() const { return options_; }
  std::string SessionCookie(const NewSession& s) const;
  std::string ClearedSessionCookie() const;
  http::Router& router() { return router_; }

 private:
  void AddRoutes();
  Market& market_;
  const Clock& clock_;
  ApiOptions options_;
  LoginLimiter limiter_;
  http::Router router_;
};

// The value of cookie `name` in a Cookie header ("" when absent).
std::string CookieValue(std::string_view header, std::string_view name);

}  // namespace taquilla::secure
