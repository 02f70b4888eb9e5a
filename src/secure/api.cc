#include "secure/api.h"

#include <charconv>

#include "http/json_input.h"
#include "http/response.h"

namespace taquilla::secure {

using http::Fields;
using http::Params;
using http::Peer;
using http::Request;
using http::Response;
namespace bhttp = http::bhttp;

std::string CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto semi = header.find(';');
    std::string_view part = header.substr(0, semi);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    auto eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == name) {
      return std::string(part.substr(eq + 1));
    }
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return "";
}

namespace {

bool Unsafe(bhttp::verb v) {
  return v != bhttp::verb::get && v != bhttp::verb::head && v != bhttp::verb::options;
}

// A path id: a positive integer, else the resource does not exist.
std::optional<int64_t> PathId(const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

Result<Page> PageOf(const Params& params) {
  Page page;
  for (auto [key, lo, hi, out] :
       {std::tuple{"page", 1, 10000, &page.page}, std::tuple{"per_page", 1, 100, &page.per_page}}) {
    if (!params.HasQuery(key)) continue;
    const std::string& v = params.Query(key);
    int64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size() || n < lo || n > hi) {
      return MakeReason(ErrorCode::kInvalidArgument, "invalid_parameter",
                        "Query parameter '{}' must be a whole number from {} to {}.", key, lo, hi);
    }
    *out = n;
  }
  return page;
}

Response Json(bhttp::status status, json::object body) { return http::JsonResponse(status, body); }

}  // namespace

SecureApi::SecureApi(Market& market, const Clock& clock, ApiOptions options)
    : market_(market),
      clock_(clock),
      options_(options),
      limiter_(clock, options.login_failures_per_account, options.login_failures_per_client,
               options.login_window) {
  AddRoutes();
}

std::string SecureApi::SessionCookie(const NewSession& s) const {
  return fmt::format("{}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}", kSessionCookie, s.token,
                     market_.options().session_ttl.count(),
                     options_.cookie_secure ? "; Secure" : "");
}

std::string SecureApi::ClearedSessionCookie() const {
  return fmt::format("{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}", kSessionCookie,
                     options_.cookie_secure ? "; Secure" : "");
}

Result<Caller> SecureApi::Authenticate(const Request& req, const std::string& form_csrf) {
  std::string_view auth = req[bhttp::field::authorization];
  if (!auth.empty()) {
    if (auth.size() < 8 || auth.substr(0, 7) != "Bearer ") {
      return MakeReason(ErrorCode::kUnauthenticated, "unauthenticated",
                        "Authorization must be 'Bearer <token>'.");
    }
    return market_.Authenticate(std::string(auth.substr(7)));
  }
  std::string token = CookieValue(req[bhttp::field::cookie], kSessionCookie);
  if (token.empty()) {
    return MakeReason(ErrorCode::kUnauthenticated, "unauthenticated",
                      "Log in first: send 'Authorization: Bearer <token>' or the session "
                      "cookie.");
  }
  TQ_ASSIGN_OR_RETURN(Caller caller, market_.Authenticate(token));
  if (Unsafe(req.method())) {
    std::string sent(req["X-CSRF-Token"]);
    if (sent.empty()) sent = form_csrf;
    if (sent.empty() || !SafeEquals(sent, caller.csrf_token)) {
      return MakeReason(ErrorCode::kPermissionDenied, "csrf_token_invalid",
                        "A cookie session needs its X-CSRF-Token on this request.");
    }
  }
  return caller;
}

Result<NewSession> SecureApi::LimitedLogin(const std::string& email, const std::string& password,
                                           const std::string& user_agent, const std::string& client,
                                           int* retry_after) {
  std::string account;
  for (char c : email) account += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  *retry_after = limiter_.Check(account, client);
  if (*retry_after > 0) {
    return MakeReason(ErrorCode::kUnavailable, "rate_limited",
                      "Too many failed logins; try again in {} seconds.", *retry_after);
  }
  auto s = market_.Login(email, password, user_agent, client);
  if (!s.ok()) {
    if (s.error().reason == "invalid_credentials") limiter_.Failed(account, client);
    return s.error();
  }
  limiter_.Succeeded(account);
  return s;
}

Response SecureApi::Handle(const Request& req, const Peer& peer) {
  (void)market_.TakeLsn();  // nothing from an earlier request on this thread
  Response res = router_.Dispatch(req, peer);
  if (res.result() == bhttp::status::unauthorized) {
    res.set(bhttp::field::www_authenticate, "Bearer realm=\"taquilla\"");
  }
  // Every successful write says where its commit is in the WAL, for read-your-writes.
  if (Unsafe(req.method()) && res.result_int() < 300 && res[bhttp::field::location].empty() &&
      res["X-Taquilla-LSN"].empty()) {
    std::string lsn = market_.TakeLsn();
    if (lsn.empty()) {
      auto fetched = market_.Lsn();
      if (fetched.ok()) lsn = *fetched;
    }
    if (!lsn.empty()) res.set("X-Taquilla-LSN", lsn);
  }
  return res;
}

void SecureApi::AddRoutes() {
  using V = bhttp::verb;
  auto& r = router_;
  // Handlers that need a caller.
  auto authed = [this](auto fn) {
    return [this, fn](const Request& req, const Peer& peer, const Params& p) -> Response {
      auto caller = Authenticate(req);
      if (!caller.ok()) return http::ErrorResponse(caller.error());
      return fn(req, peer, p, *caller);
    };
  };
  auto admin = [this](auto fn) {
    return [this, fn](const Request& req, const Peer& peer, const Params& p) -> Response {
      auto caller = Authenticate(req);
      if (!caller.ok()) return http::ErrorResponse(caller.error());
      if (!caller->is_admin()) {
        return http::ErrorResponse(bhttp::status::forbidden, "forbidden",
                                   "Only administrators may do this.");
      }
      return fn(req, peer, p, *caller);
    };
  };
  // Answers a Result<json::object> with `status`, or its error.
  auto reply = [](bhttp::status status, Result<json::object> result) {
    if (!result.ok()) return http::ErrorResponse(result.error());
    return Json(status, std::move(*result));
  };
  auto with_body = [](const Request& req, auto fn) -> Response {
    auto body = http::ParseJsonBody(req);
    if (!body.ok()) return http::ErrorResponse(body.error());
    return fn(*body);
  };

  r.Add(V::get, "/healthz", [](const Request&, const Peer&, const Params&) {
    return Json(bhttp::status::ok, {{"status", "ok"}});
  });
  r.Add(V::get, "/readyz", [this](const Request&, const Peer&, const Params&) {
    if (market_.Healthy()) return Json(bhttp::status::ok, {{"status", "ready"}});
    Response res = http::ErrorResponse(bhttp::status::service_unavailable, "unavailable",
                                       "The database is unavailable.");
    res.set(bhttp::field::retry_after, "1");
    return res;
  });

  // ------------------------------------------------------------ accounts
  r.Add(V::post, "/api/v1/users", [=, this](const Request& req, const Peer&, const Params&) {
    return with_body(req, [&](const json::object& body) {
      Fields f(body);
      NewUser u;
      u.email = f.Str("email", 3, 254);
      u.password = f.Str("password", 10, 1024);
      u.display_name = f.Str("display_name", 1, 100);
      u.locale = f.Str("locale", 2, 20);
      if (Status s = f.Finish(); !s.ok()) return http::ErrorResponse(s.error());
      auto at = u.email.find('@');
      if (at == std::string::npos || at == 0 || u.email.find('.', at) == std::string::npos ||
          u.email.find_first_of(" \t\r\n") != std::string::npos ||
          u.email.find('@', at + 1) != std::string::npos || u.email.back() == '.') {
        return http::ErrorResponse(http::InvalidField("email", "is not an email address"));
      }
      auto res = reply(bhttp::status::created, market_.Register(u));
      return res;
    });
  });

  r.Add(V::post, "/api/v1/sessions",
        [=, this](const Request& req, const Peer& peer, const Params&) {
          return with_body(req, [&](const json::object& body) {
            Fields f(body);
            std::string email = f.Str("email", 1, 254);
            std::string password = f.Str("password", 1, 1024);
            if (Status s = f.Finish(); !s.ok()) return http::ErrorResponse(s.error());
            int wait = 0;
            auto s = LimitedLogin(email, password, std::string(req[bhttp::field::user_agent]),
                                  peer.address, &wait);
            if (!s.ok()) {
              Response res = http::ErrorResponse(s.error());
              if (wait > 0) res.set(bhttp::field::retry_after, std::to_string(wait));
              return res;
            }
            json::object o;
            o["token"] = s->token;
            o["csrf_token"] = s->csrf_token;
            o["expires_at"] = s->expires_at;
            o["user"] = s->user;
            Response res = Json(bhttp::status::created, std::move(o));
            res.set(bhttp::field::set_cookie, SessionCookie(*s));
            return res;
          });
        });

  r.Add(V::delete_, "/api/v1/sessions/current",
        authed([this](const Request&, const Peer&, const Params&, const Caller& c) {
          if (Status s = market_.Logout(c); !s.ok()) return http::ErrorResponse(s.error());
          Response res = http::NoContent();
          res.set(bhttp::field::set_cookie, ClearedSessionCookie());
          return res;
        }));

  r.Add(V::get, "/api/v1/me",
        authed([=, this](const Request&, const Peer&, const Params&, const Caller& c) {
          return reply(bhttp::status::ok, market_.Me(c));
        }));
  using PageFn = Result<json::object> (Market::*)(const Caller&, const Page&);
  for (auto [path, fn] :
       {std::pair<const char*, PageFn>{"/api/v1/me/listings", &Market::MyListings},
        {"/api/v1/me/orders", &Market::MyOrders},
        {"/api/v1/me/sales", &Market::MySales},
        {"/api/v1/me/holds", &Market::MyHolds}}) {
    r.Add(V::get, path,
          authed([=, this](const Request&, const Peer&, const Params& p, const Caller& c) {
            auto page = PageOf(p);
            if (!page.ok()) return http::ErrorResponse(page.error());
            return reply(bhttp::status::ok, (market_.*fn)(c, *page));
          }));
  }

  // ------------------------------------------------------------ selling
  r.Add(V::post, "/api/v1/listings",
        authed([=, this](const Request& req, const Peer&, const Params&, const Caller& c) {
          return with_body(req, [&](const json::object& body) {
            Fields f(body);
            NewListing l;
            l.event_id = f.Int("event_id", 1, INT64_MAX);
            l.section = f.OptStr("section", 0, 100).value_or("");
            l.row = f.OptStr("row", 0, 20).value_or("");
            l.seat_from = f.OptInt("seat_from", 1, 1'000'000);
            l.seat_to = f.OptInt("seat_to", 1, 1'000'000);
            l.quantity = f.Int("quantity", 1, 1000);
            l.price_minor = f.Int("price_minor", 1, 500'000'000);
            l.face_value_minor = f.OptInt("face_value_minor", 0, 500'000'000);
            l.currency = f.Str("currency", 3, 3);
            l.split = f.Enum("split", {"any", "pairs", "all", "no_single"}, "any");
            l.delivery = f.Enum("delivery", {"eticket", "mobile", "paper"}, "eticket");
            l.notes = f.OptStr("notes", 0, 2000).value_or("");
            if (Status s = f.Finish(); !s.ok()) return http::ErrorResponse(s.error());
            return reply(bhttp::status::created, market_.CreateListing(c, l));
          });
        }));
  r.Add(V::get, "/api/v1/listings/{id}",
        authed([=, this](const Request&, const Peer&, const Params& p, const Caller& c) {
          auto id = PathId(p.path[0]);
          if (!id)
            return http::ErrorResponse(bhttp::status::not_found, "not_found", "No such listing.");
          return reply(bhttp::status::ok, market_.GetListing(c, *id));
        }));
  r.Add(V::patch, "/api/v1/listings/{id}",
        authed([=, this](const Request& req, const Peer&, const Params& p, const Caller& c) {
          auto id = PathId(p.path[0]);
          if (!id)
            return http::ErrorResponse(bhttp::status::not_found, "not_found", "No such listing.");
          return with_body(req, [&](const json::object& body) {
            Fields f(body);
            ListingPatch patch;
            patch.price_minor = f.OptInt("price_minor", 1, 500'000'000);
            patch.quantity = f.OptInt("quantity", 1, 1000);
            patch.set_face_value = f.Present("face_value_minor");
            patch.face_value_minor = f.OptInt("face_value_minor", 0, 500'000'000);
            if (f.Has("split")) patch.split = f.Enum("split", {"any", "pairs", "all", "no_single"});
            if (f.Has("delivery"))
              patch.delivery = f.Enum("delivery", {"eticket", "mobile", "paper"});
            f.Allow("split");
            f.Allow("delivery");
            patch.notes = f.OptStr("notes", 0, 2000);
            patch.section = f.OptStr("section", 0, 100);
            patch.row = f.OptStr("row", 0, 20);
            if (Status s = f.Finish(); !s.ok()) return http::ErrorResponse(s.error());
            if (body.empty()) {
              return http::ErrorResponse(
                  http::InvalidField("body", "must change at least one field"));
            }
            return reply(bhttp::status::ok, market_.UpdateListing(c, *id, patch));
          });
        }));
  r.Add(V::delete_, "/api/v1/listings/{id}",
        authed([this](const Request&, const Peer&, const Params& p, const Caller& c) {
          auto id = PathId(p.path[0]);
          if (!id)
            return http::ErrorResponse(bhttp::status::not_found, "not_found", "No such listing.");
          Status s = market_.WithdrawListing(c, *id);
          return s.ok() ? http::NoContent() : http::ErrorResponse(s.error());
        }));

  // ------------------------------------------------------------ buying
  r.Add(V::post, "/api/v1/holds",
        authed([=, this](const Request& req, const Peer&, const Params&, const Caller& c) {
          return with_body(req, [&](const json::object& body) {
            Fields f(body);
            int64_t listing = f.Int("listing_id", 1, INT64_MAX);
            int64_t quantity = f.Int("quantity", 1, 1000);
            if (Status s = f.Finish(); !s.ok()) return http::ErrorResponse(s.error());
            return reply(bhttp::status::created, market_.Hold(c, listing, quantity));
          });
        }));
  r.Add(V::get, "/api/v1/holds/{id}",
        authed([=, this](const Request&, const Peer&, const Params& p, const Caller& c) {
          auto id = PathId(p.path[0]);
          if (!id)
            return http::ErrorResponse(bhttp::status::not_found, "not_found", "No such hold.");
          return reply(bhttp::status::ok, market_.GetHold(c, *id));
        }));
  r.Add(V::delete_, "/api/v1/holds/{id}",
        authed([this](const Request&, const Peer&, const Params& p, const Caller& c) {
          auto id = PathId(p.path[0]);
          if (!id)
            return http::ErrorResponse(bhttp::status::not_found, "not_found", "No such hold.");
          Status s = market_.ReleaseHold(c, *id);
          return s.ok() ? http::NoContent() : http::ErrorResponse(s.error());
        }));
  r.Add(V::post, "/api/v1/orders",
        authed([=, this](const Request& req, const Peer&, const Params&, const Caller& c) {
          return with_body(req, [&](const json::object& body) {
            Fields f(body);
            int64_t hold = f.Int("hold_id", 1, INT64_MAX);
            const json::object* pay = f.Object("payment");
            if (Status s = f.Finish(); !s.ok()) return http::ErrorResponse(s.error());
            Fields pf(*pay, "payment");
            Payment payment;
            payment.method = pf.Enum("method", {"test_card"});
            payment.number = pf.Str("number", 12, 19);
            if (Status s = pf.Finish(); !s.ok()) return http::ErrorResponse(s.error());
            return reply(bhttp::status::created, market_.Order(c, hold, payment));
          });
        }));
  r.Add(V::get, "/api/v1/orders/{id}",
        authed([=, this](const Request&, const Peer&, const Params& p, const Caller& c) {
          auto id = PathId(p.path[0]);
          if (!id)
            return http::ErrorResponse(bhttp::status::not_found, "not_found", "No such order.");
          return reply(bhttp::status::ok, market_.GetOrder(c, *id));
        }));

  // ------------------------------------------------------------ backoffice
  using BodyFn = Result<json::object> (Market::*)(const json::object&);
  for (auto [path, fn] :
       {std::pair<const char*, BodyFn>{"/api/v1/admin/languages", &Market::AdminCreateLanguage},
        {"/api/v1/admin/sites", &Market::AdminCreateSite},
        {"/api/v1/admin/venues", &Market::AdminCreateVenue},
        {"/api/v1/admin/categories", &Market::AdminCreateCategory},
        {"/api/v1/admin/performers", &Market::AdminCreatePerformer},
        {"/api/v1/admin/events", &Market::AdminCreateEvent}}) {
    r.Add(V::post, path,
          admin([=, this](const Request& req, const Peer&, const Params&, const Caller&) {
            return with_body(req, [&](const json::object& body) {
              return reply(bhttp::status::created, (market_.*fn)(body));
            });
          }));
  }
  r.Add(V::get, "/api/v1/admin/languages",
        admin([=, this](const Request&, const Peer&, const Params&, const Caller&) {
          return reply(bhttp::status::ok, market_.AdminListLanguages());
        }));
  r.Add(V::get, "/api/v1/admin/sites",
        admin([=, this](const Request&, const Peer&, const Params&, const Caller&) {
          return reply(bhttp::status::ok, market_.AdminListSites());
        }));
  r.Add(V::post, "/api/v1/admin/sites/{site}/languages",
        admin([=, this](const Request& req, const Peer&, const Params& p, const Caller&) {
          return with_body(req, [&](const json::object& body) {
            return reply(bhttp::status::created, market_.AdminAddSiteLanguage(p.path[0], body));
          });
        }));
  r.Add(V::get, "/api/v1/admin/events",
        admin([=, this](const Request&, const Peer&, const Params& p, const Caller&) {
          auto page = PageOf(p);
          if (!page.ok()) return http::ErrorResponse(page.error());
          std::string q = p.Query("q");
          if (q.size() > 200) {
            return http::ErrorResponse(bhttp::status::unprocessable_entity, "invalid_parameter",
                                       "Query parameter 'q' must be at most 200 characters.");
          }
          return reply(bhttp::status::ok, market_.AdminListEvents(q, *page));
        }));
  r.Add(V::get, "/api/v1/admin/events/{id}",
        admin([=, this](const Request&, const Peer&, const Params& p, const Caller&) {
          auto id = PathId(p.path[0]);
          if (!id)
            return http::ErrorResponse(bhttp::status::not_found, "not_found", "No such event.");
          return reply(bhttp::status::ok, market_.AdminGetEvent(*id));
        }));
  r.Add(V::patch, "/api/v1/admin/events/{id}",
        admin([=, this](const Request& req, const Peer&, const Params& p, const Caller&) {
          auto id = PathId(p.path[0]);
          if (!id)
            return http::ErrorResponse(bhttp::status::not_found, "not_found", "No such event.");
          return with_body(req, [&](const json::object& body) {
            return reply(bhttp::status::ok, market_.AdminUpdateEvent(*id, body));
          });
        }));
  r.Add(V::put, "/api/v1/admin/events/{id}/translations/{lang}",
        admin([=, this](const Request& req, const Peer&, const Params& p, const Caller&) {
          auto id = PathId(p.path[0]);
          if (!id)
            return http::ErrorResponse(bhttp::status::not_found, "not_found", "No such event.");
          return with_body(req, [&](const json::object& body) {
            return reply(bhttp::status::ok, market_.AdminPutEventTranslation(*id, p.path[1], body));
          });
        }));
  r.Add(V::get, "/api/v1/admin/exchange-rates",
        admin([=, this](const Request&, const Peer&, const Params&, const Caller&) {
          return reply(bhttp::status::ok, market_.AdminListExchangeRates());
        }));
  r.Add(V::put, "/api/v1/admin/exchange-rates/{base}/{quote}",
        admin([=, this](const Request& req, const Peer&, const Params& p, const Caller&) {
          return with_body(req, [&](const json::object& body) {
            return reply(bhttp::status::ok,
                         market_.AdminPutExchangeRate(p.path[0], p.path[1], body));
          });
        }));
  r.Add(V::patch, "/api/v1/admin/users/{id}",
        admin([=, this](const Request& req, const Peer&, const Params& p, const Caller&) {
          auto id = PathId(p.path[0]);
          if (!id)
            return http::ErrorResponse(bhttp::status::not_found, "not_found", "No such user.");
          return with_body(req, [&](const json::object& body) {
            return reply(bhttp::status::ok, market_.AdminUpdateUser(*id, body));
          });
        }));
}

}  // namespace taquilla::secure
