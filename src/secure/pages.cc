#include "secure/pages.h"

#include <sodium.h>

#include <boost/url.hpp>
#include <charconv>
#include <cmath>
#include <memory>
#include <regex>
#include <set>
#include <sstream>

#include "common/log.h"
#include "http/json_input.h"
#include "http/response.h"
#include "i18n/messages.h"
#include "i18n/money.h"
#include "secure/rules.h"
#include "web/render.h"

namespace taquilla::secure {

namespace {

using http::Params;
using http::Peer;
using http::Request;
using http::Response;
namespace bhttp = http::bhttp;
using Status_ = bhttp::status;

using web::kCssPath;

// ---------------------------------------------------------------- small pure helpers

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// Valid UTF-8 without control characters other than tab, CR and LF.
bool ValidText(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f) return false;
      ++i;
      continue;
    }
    int n = c >= 0xc2 && c <= 0xdf   ? 1
            : c >= 0xe0 && c <= 0xef ? 2
            : c >= 0xf0 && c <= 0xf4 ? 3
                                     : 0;
    if (n == 0 || i + n >= s.size()) return false;
    uint32_t cp = c & (0x3f >> n);
    for (int k = 1; k <= n; ++k) {
      unsigned char cc = s[i + k];
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

std::optional<int64_t> ToInt(std::string_view s, int64_t lo = 1, int64_t hi = INT64_MAX) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) {
    return std::nullopt;
  }
  return v;
}

// "45", "45.5", "45,50" → minor units of `currency`; nullopt when it is not an amount.
std::optional<int64_t> ParseAmount(std::string_view text, std::string_view currency) {
  std::string s = Trim(text);
  if (s.empty() || s.size() > 15) return std::nullopt;
  int digits = i18n::MinorUnits(currency);
  auto sep = s.find_first_of(".,");
  std::string whole = s.substr(0, sep);
  std::string frac = sep == std::string::npos ? "" : s.substr(sep + 1);
  if (whole.empty() || whole.find_first_not_of("0123456789") != std::string::npos ||
      frac.find_first_not_of("0123456789") != std::string::npos ||
      frac.size() > static_cast<size_t>(digits) || (sep != std::string::npos && frac.empty())) {
    return std::nullopt;
  }
  frac.append(digits - frac.size(), '0');
  auto v = ToInt(whole + frac, 0, 500'000'000'000);
  return v;
}

// A local path to go to after logging in, or "" when `next` is not one (no other hosts,
// no scheme-relative "//evil", no backslashes or control characters).
std::string SafeNext(std::string_view next) {
  if (next.empty() || next.size() > 2000 || next[0] != '/') return "";
  if (next.size() > 1 && (next[1] == '/' || next[1] == '\\')) return "";
  for (unsigned char c : next) {
    if (c < 0x21 || c >= 0x7f || c == '\\') return "";
  }
  if (!boost::urls::parse_origin_form(next)) return "";
  return std::string(next);
}

std::string LoginUrl(std::string_view next) {
  std::string safe = SafeNext(next);
  if (safe.empty()) return "/login";
  return "/login?next=" + boost::urls::encode(safe, boost::urls::unreserved_chars);
}

bool IsEmail(const std::string& e) {
  auto at = e.find('@');
  return e.size() >= 3 && e.size() <= 254 && at != std::string::npos && at != 0 &&
         e.find('.', at) != std::string::npos &&
         e.find_first_of(" \t\r\n<>") == std::string::npos &&
         e.find('@', at + 1) == std::string::npos && e.back() != '.';
}

// "2026-05-01T18:00:00Z" → "2026-05-01 18:00 UTC".
std::string TimeText(std::string_view iso) {
  if (iso.size() < 16 || iso[10] != 'T') return std::string(iso);
  std::string out = std::string(iso.substr(0, 10)) + " " + std::string(iso.substr(11, 5));
  if (iso.back() == 'Z') out += " UTC";
  return out;
}

// Adds "<key>_text" next to every "<…>_at" time string, for display.
void AddTimeTexts(boost::json::value& v) {
  if (v.is_array()) {
    for (auto& e : v.as_array()) AddTimeTexts(e);
  } else if (v.is_object()) {
    auto& o = v.as_object();
    std::vector<std::pair<std::string, std::string>> add;
    for (auto& kv : o) {
      std::string_view k = kv.key();
      if (k.size() > 3 && k.substr(k.size() - 3) == "_at" && kv.value().is_string()) {
        add.emplace_back(std::string(k) + "_text", TimeText(kv.value().as_string()));
      } else {
        AddTimeTexts(kv.value());
      }
    }
    for (auto& [k, t] : add) o[k] = t;
  }
}

// Options of a <select>: [{value, label, selected}].
boost::json::array Options(const std::vector<std::pair<std::string, std::string>>& values,
                           std::string_view selected) {
  boost::json::array out;
  for (const auto& [value, label] : values) {
    out.push_back(
        boost::json::object{{"value", value}, {"label", label}, {"selected", value == selected}});
  }
  return out;
}

// ---------------------------------------------------------------- forms

// An application/x-www-form-urlencoded body, decoded ('+' is a space). Repeated keys
// (checkboxes) keep every value in order.
class Form {
 public:
  static Result<Form> Parse(const Request& req) {
    std::string type = Lower(req[bhttp::field::content_type]);
    type = Trim(type.substr(0, type.find(';')));
    if (type != "application/x-www-form-urlencoded") {
      return MakeReason(ErrorCode::kInvalidArgument, "unsupported_media_type",
                        "Forms must be sent as application/x-www-form-urlencoded.");
    }
    Form f;
    if (req.body().empty()) return f;
    auto q = boost::urls::parse_query(req.body());
    if (!q) {
      return MakeReason(ErrorCode::kInvalidArgument, "bad_request", "The form is malformed.");
    }
    boost::urls::encoding_opts opt;
    opt.space_as_plus = true;
    for (auto p : *q) {
      std::string key = p.key.decode(opt);
      std::string value = p.has_value ? p.value.decode(opt) : "";
      if (key.empty() && value.empty()) continue;
      if (!ValidText(key) || !ValidText(value)) {
        return MakeReason(ErrorCode::kInvalidArgument, "bad_request",
                          "The form holds text that is not valid UTF-8.");
      }
      f.fields_.emplace_back(std::move(key), std::move(value));
    }
    return f;
  }

  // The first value of `key`, trimmed ("" when absent).
  std::string Get(std::string_view key) const {
    for (const auto& [k, v] : fields_) {
      if (k == key) return Trim(v);
    }
    return "";
  }
  // The first value as sent (passwords keep their spaces).
  std::string Raw(std::string_view key) const {
    for (const auto& [k, v] : fields_) {
      if (k == key) return v;
    }
    return "";
  }
  std::vector<std::string> All(std::string_view key) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : fields_) {
      if (k == key && !Trim(v).empty()) out.push_back(Trim(v));
    }
    return out;
  }
  // First values, to fill a form in again (never passwords, card numbers or tokens).
  boost::json::object Values() const {
    boost::json::object o;
    for (const auto& [k, v] : fields_) {
      if (k == "password" || k == "card_number" || k == "csrf_token" || o.contains(k)) continue;
      o[k] = v;
    }
    return o;
  }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

// A form value as a JSON number when it is one, else the text (so the Market's field
// checks name the field); absent when empty.
void PutInt(boost::json::object& body, const std::string& name, const std::string& text) {
  if (text.empty()) return;
  if (auto v = ToInt(text, INT64_MIN, INT64_MAX)) {
    body[name] = *v;
  } else {
    body[name] = text;
  }
}

void PutDouble(boost::json::object& body, const std::string& name, const std::string& text) {
  if (text.empty()) return;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end && *end == '\0' && std::isfinite(v)) {
    body[name] = v;
  } else {
    body[name] = text;
  }
}

void PutStr(boost::json::object& body, const std::string& name, const std::string& text) {
  if (!text.empty()) body[name] = text;
}

// ---------------------------------------------------------------- the pages

// Who a page is for and in which language.
struct View {
  std::string lang = "en";
  std::optional<Caller> caller;
  // A notice named in the query (?notice=saved) that the page shows.
  std::string notice;
  // The locale money is formatted in.
  std::string locale() const { return caller ? caller->locale : lang; }
};

class Pages : public std::enable_shared_from_this<Pages> {
 public:
  explicit Pages(SecureApi& api)
      : api_(api), market_(api.market()), msgs_(i18n::Messages::Default()), log_(Logger("pages")) {
    std::string_view css = web::Embedded(kCssPath);
    unsigned char hash[16];
    crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(css.data()),
                       css.size(), nullptr, 0);
    char hex[sizeof hash * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
    css_etag_ = fmt::format("\"{}\"", hex);
  }

  void Register();

 private:
  using Fn = http::Router::Fn;
  using UserFn = std::function<Response(const Request&, const Params&, View&)>;
  using FormFn = std::function<Response(const Request&, const Params&, View&, const Form&)>;

  // ------------------------------------------------------------ rendering
  std::string T(const View& v, std::string_view key) const { return msgs_.Get(v.lang, key); }

  std::string Language(const Request& req, const Params& p, const Caller* caller) const {
    if (caller) {
      std::string l = msgs_.Match(caller->locale);
      return l.empty() ? std::string(i18n::kFallbackLanguage) : l;
    }
    if (p.HasQuery("lang")) {
      std::string l = msgs_.Match(p.Query("lang"));
      if (!l.empty()) return l;
    }
    return msgs_.Negotiate(req[bhttp::field::accept_language]);
  }

  // A page: templates/secure/<page>.mustache inside templates/layout.mustache. `ctx` holds
  // the page's data; "title", "error" and "notice" in it are shown by the layout.
  Response Render(Status_ status, const View& v, const std::string& page,
                  boost::json::object ctx) const {
    if (!ctx.contains("title")) ctx["title"] = T(v, page + ".title");
    if (!ctx.contains("notice") && !v.notice.empty()) ctx["notice"] = v.notice;
    ctx["lang"] = v.lang;
    ctx["dir"] = i18n::IsRightToLeft(v.lang) ? "rtl" : "ltr";
    ctx["t"] = web::NestedCatalog(msgs_.All(v.lang));
    if (v.caller) {
      ctx["user"] = boost::json::object{{"display_name", v.caller->display_name},
                                        {"email", v.caller->email},
                                        {"is_admin", v.caller->is_admin()}};
      ctx["csrf_token"] = v.caller->csrf_token;
    }
    boost::json::value value(std::move(ctx));
    AddTimeTexts(value);
    auto html = web::RenderPage("secure/" + page, value);
    if (!html.ok()) {
      log_->error("{}", html.error().message);
      return Plain(Status_::internal_server_error, "Internal error.");
    }
    Response res{status, 11};
    SetHtmlHeaders(res, v.lang);
    res.body() = std::move(*html);
    return res;
  }

  static void SetHtmlHeaders(Response& res, const std::string& lang) {
    web::SetHtmlHeaders(res, lang, web::kSecureCsp);
    res.set(bhttp::field::cache_control, "no-store");
  }

  static Response Plain(Status_ status, std::string_view text) {
    Response res{status, 11};
    res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
    res.set(bhttp::field::cache_control, "no-store");
    res.body() = std::string(text) + "\n";
    return res;
  }

  // The message of an Market error for a page; internal errors are logged, not shown.
  std::string MessageOf(const View& v, const Error& e) const {
    if (e.code == ErrorCode::kInternal) {
      log_->error("page error: {}", e.message);
      return T(v, "error.internal");
    }
    if (e.reason == "payment_declined") return T(v, "checkout.declined");
    if (e.reason == "hold_expired") return T(v, "checkout.expired");
    if (e.reason == "csrf_token_invalid") return T(v, "error.csrf");
    return e.message;
  }

  Response ErrorPage(Status_ status, const View& v, const std::string& message) const {
    return Render(
        status, v, "error",
        {{"title", T(v, fmt::format("error.{}", static_cast<int>(status) == 403   ? "403"
                                                : static_cast<int>(status) == 404 ? "404"
                                                                                  : "other"))},
         {"error", message}});
  }
  Response ErrorPage(const View& v, const Error& e) const {
    Response res = ErrorPage(http::StatusOf(e), v, MessageOf(v, e));
    if (res.result() == Status_::service_unavailable) res.set(bhttp::field::retry_after, "1");
    return res;
  }

  // A notice named in the query (?notice=listed) from a fixed list.
  std::string NoticeOf(const View& v, const Params& p) const {
    static const std::set<std::string> kKnown = {
        "listed", "listing_saved", "listing_withdrawn", "hold_released", "saved", "registered"};
    const std::string& n = p.Query("notice");
    return kKnown.count(n) ? T(v, "notice." + n) : "";
  }

  // ------------------------------------------------------------ authentication
  // The caller of a request when there is one (GET pages that also serve visitors).
  std::optional<Caller> SoftCaller(const Request& req) {
    std::string token = CookieValue(req[bhttp::field::cookie], kSessionCookie);
    if (token.empty()) return std::nullopt;
    auto c = market_.Authenticate(token);
    if (!c.ok()) return std::nullopt;
    return *c;
  }

  View Anonymous(const Request& req, const Params& p) {
    View v;
    v.caller = SoftCaller(req);
    v.lang = Language(req, p, v.caller ? &*v.caller : nullptr);
    return v;
  }

  // GET pages that need a login (and admin rights when `admin`).
  Fn UserPage(UserFn fn, bool admin = false) {
    auto self = shared_from_this();
    return [self, fn, admin](const Request& req, const Peer&, const Params& p) -> Response {
      auto caller = self->api_.Authenticate(req);
      if (!caller.ok()) {
        if (caller.error().code == ErrorCode::kUnauthenticated) {
          return http::Redirect(LoginUrl(req.target()));
        }
        View v = self->Anonymous(req, p);
        return self->ErrorPage(v, caller.error());
      }
      View v;
      v.caller = *caller;
      v.lang = self->Language(req, p, &*caller);
      if (admin && !caller->is_admin()) {
        return self->ErrorPage(Status_::forbidden, v, self->T(v, "error.admin_only"));
      }
      v.notice = self->NoticeOf(v, p);
      return fn(req, p, v);
    };
  }

  // POST forms that need a login: the form's csrf_token must be the session's. `back` is
  // where to return after logging in (default: the same path).
  Fn UserForm(FormFn fn, bool admin = false,
              std::function<std::string(const Request&, const Params&, const Form&)> back = {}) {
    auto self = shared_from_this();
    return [self, fn, admin, back](const Request& req, const Peer&, const Params& p) -> Response {
      auto form = Form::Parse(req);
      if (!form.ok()) return self->ErrorPage(self->Anonymous(req, p), form.error());
      auto caller = self->api_.Authenticate(req, form->Raw("csrf_token"));
      if (!caller.ok()) {
        if (caller.error().code == ErrorCode::kUnauthenticated) {
          return http::Redirect(LoginUrl(back ? back(req, p, *form) : std::string(req.target())));
        }
        View v = self->Anonymous(req, p);
        return self->ErrorPage(v, caller.error());
      }
      View v;
      v.caller = *caller;
      v.lang = self->Language(req, p, &*caller);
      if (admin && !caller->is_admin()) {
        return self->ErrorPage(Status_::forbidden, v, self->T(v, "error.admin_only"));
      }
      return fn(req, p, v, *form);
    };
  }

  // The double-submit token of the forms before a session: the cookie's when it is one
  // of ours, else a new one.
  static std::string PreToken(const Request& req) {
    std::string t = CookieValue(req[bhttp::field::cookie], kPreSessionCsrfCookie);
    if (t.size() == 43 && t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                              "0123456789-_") == std::string::npos) {
      return t;
    }
    return NewToken();
  }
  std::string PreCookie(const std::string& token) const {
    return fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=7200{}",
                       kPreSessionCsrfCookie, token,
                       api_.options().cookie_secure ? "; Secure" : "");
  }
  std::string ClearedPreCookie() const {
    return fmt::format("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}", kPreSessionCsrfCookie,
                       api_.options().cookie_secure ? "; Secure" : "");
  }
  static bool PreTokenOk(const Request& req, const Form& form) {
    std::string cookie = CookieValue(req[bhttp::field::cookie], kPreSessionCsrfCookie);
    std::string sent = form.Raw("csrf_token");
    return cookie.size() == 43 && SafeEquals(cookie, sent);
  }

  // ------------------------------------------------------------ handlers
  Response LoginPage(const Request& req, Status_ status, View& v, const std::string& next,
                     const std::string& email, const std::string& error);
  Response Login(const Request& req, const Peer& peer, const Params& p);
  Response RegisterPage(const Request& req, Status_ status, View& v,
                        const boost::json::object& form, const std::string& error);
  Response Register(const Request& req, const Peer& peer, const Params& p);
  Response Account(const Params& p, View& v);
  Response SellPage(Status_ status, View& v, const boost::json::object& form,
                    const std::string& error);
  Response Sell(View& v, const Form& f);
  Response EditPage(Status_ status, View& v, int64_t id, const std::string& error);
  Response Edit(View& v, int64_t id, const Form& f);
  Response HoldPage(Status_ status, View& v, const std::string& listing,
                    const std::string& quantity, const std::string& error);
  Response Checkout(Status_ status, View& v, int64_t hold, const std::string& error);
  Response Pay(View& v, int64_t hold, const Form& f);
  Response OrderPage(View& v, int64_t id);

  // Backoffice lists with their create forms; `form` refills the form after an error.
  struct AdminCtx {
    Status_ status = Status_::ok;
    boost::json::object form;
    std::string error;
  };
  Response AdminEvents(View& v, const Params& p, AdminCtx a);
  Response AdminEvent(View& v, int64_t id, AdminCtx a);
  Response AdminSites(View& v, AdminCtx a);
  Response AdminLanguages(View& v, AdminCtx a);
  Response AdminVenues(View& v, const Params& p, AdminCtx a);
  Response AdminCategories(View& v, AdminCtx a);
  Response AdminPerformers(View& v, const Params& p, AdminCtx a);
  Response AdminRates(View& v, AdminCtx a);

  Response Css(const Request& req) const {
    if (req[bhttp::field::if_none_match] == css_etag_) {
      Response res{Status_::not_modified, 11};
      res.set(bhttp::field::etag, css_etag_);
      res.set(bhttp::field::cache_control, "public, max-age=86400");
      return res;
    }
    Response res{Status_::ok, 11};
    res.set(bhttp::field::content_type, "text/css; charset=utf-8");
    res.set(bhttp::field::cache_control, "public, max-age=86400");
    res.set(bhttp::field::etag, css_etag_);
    res.set("X-Content-Type-Options", "nosniff");
    res.body() = std::string(web::Embedded(kCssPath));
    return res;
  }

  SecureApi& api_;
  Market& market_;
  const i18n::Messages& msgs_;
  std::shared_ptr<spdlog::logger> log_;
  std::string css_etag_;
};

// A page number from ?page= (1 when absent or wrong).
Page PageParam(const Params& p, int64_t per_page) {
  Page page;
  page.per_page = per_page;
  page.page = ToInt(p.Query("page"), 1, 10000).value_or(1);
  return page;
}

// Previous and next page links of a list.
void AddPaging(boost::json::object& ctx, const boost::json::object& list, const std::string& base) {
  int64_t page = list.at("page").as_int64(), per = list.at("per_page").as_int64();
  int64_t total = list.at("total").as_int64();
  std::string sep = base.find('?') == std::string::npos ? "?" : "&";
  if (page > 1) ctx["prev_url"] = fmt::format("{}{}page={}", base, sep, page - 1);
  if (page * per < total) ctx["next_url"] = fmt::format("{}{}page={}", base, sep, page + 1);
  ctx["total"] = total;
}

// ------------------------------------------------------------------ accounts

Response Pages::LoginPage(const Request& req, Status_ status, View& v, const std::string& next,
                          const std::string& email, const std::string& error) {
  std::string token = PreToken(req);
  boost::json::object ctx{{"next", next}, {"email", email}, {"csrf_token", token}};
  if (!error.empty()) ctx["error"] = error;
  Response res = Render(status, v, "login", std::move(ctx));
  res.set(bhttp::field::set_cookie, PreCookie(token));
  return res;
}

Response Pages::Login(const Request& req, const Peer& peer, const Params& p) {
  View v = Anonymous(req, p);
  v.caller.reset();
  auto form = Form::Parse(req);
  if (!form.ok()) return ErrorPage(v, form.error());
  std::string next = SafeNext(form->Get("next"));
  std::string email = form->Get("email");
  if (!PreTokenOk(req, *form)) {
    return LoginPage(req, Status_::forbidden, v, next, email, T(v, "error.csrf"));
  }
  std::string password = form->Raw("password");
  if (email.empty() || email.size() > 254 || password.empty() || password.size() > 1024) {
    return LoginPage(req, Status_::unprocessable_entity, v, next, email, T(v, "login.missing"));
  }
  int wait = 0;
  auto s = api_.LimitedLogin(email, password, std::string(req[bhttp::field::user_agent]),
                             peer.address, &wait);
  if (!s.ok()) {
    if (wait > 0) {
      Response res = LoginPage(req, Status_::too_many_requests, v, next, email,
                               fmt::format(fmt::runtime(T(v, "login.rate_limited")), wait));
      res.set(bhttp::field::retry_after, std::to_string(wait));
      return res;
    }
    if (s.error().reason == "invalid_credentials") {
      return LoginPage(req, Status_::unauthorized, v, next, email, T(v, "login.wrong"));
    }
    return LoginPage(req, http::StatusOf(s.error()), v, next, email, MessageOf(v, s.error()));
  }
  Response res = http::Redirect(next.empty() ? "/account" : next);
  res.insert(bhttp::field::set_cookie, ClearedPreCookie());
  res.insert(bhttp::field::set_cookie, api_.SessionCookie(*s));
  return res;
}

Response Pages::RegisterPage(const Request& req, Status_ status, View& v,
                             const boost::json::object& form, const std::string& error) {
  std::string token = PreToken(req);
  std::vector<std::pair<std::string, std::string>> langs;
  if (auto l = market_.AdminListLanguages(); l.ok()) {
    for (const auto& e : l->at("languages").as_array()) {
      langs.emplace_back(std::string(e.at("code").as_string()),
                         std::string(e.at("name").as_string()));
    }
  }
  auto chosen = form.if_contains("locale");
  std::string locale = chosen && chosen->is_string() ? std::string(chosen->as_string()) : v.lang;
  boost::json::object ctx{{"form", form},
                          {"languages", Options(langs, locale)},
                          {"csrf_token", token},
                          {"next", form.contains("next") ? form.at("next") : ""}};
  if (!error.empty()) ctx["error"] = error;
  Response res = Render(status, v, "register", std::move(ctx));
  res.set(bhttp::field::set_cookie, PreCookie(token));
  return res;
}

Response Pages::Register(const Request& req, const Peer& peer, const Params& p) {
  View v = Anonymous(req, p);
  v.caller.reset();
  auto form = Form::Parse(req);
  if (!form.ok()) return ErrorPage(v, form.error());
  boost::json::object values = form->Values();
  std::string next = SafeNext(form->Get("next"));
  values["next"] = next;
  auto fail = [&](Status_ s, const std::string& message) {
    return RegisterPage(req, s, v, values, message);
  };
  if (!PreTokenOk(req, *form)) return fail(Status_::forbidden, T(v, "error.csrf"));
  NewUser u;
  u.email = form->Get("email");
  u.password = form->Raw("password");
  u.display_name = form->Get("display_name");
  u.locale = form->Get("locale");
  if (!IsEmail(u.email)) return fail(Status_::unprocessable_entity, T(v, "register.bad_email"));
  if (u.password.size() < 10 || u.password.size() > 1024) {
    return fail(Status_::unprocessable_entity, T(v, "register.short_password"));
  }
  if (u.display_name.empty() || u.display_name.size() > 100) {
    return fail(Status_::unprocessable_entity, T(v, "register.bad_name"));
  }
  if (u.locale.empty()) u.locale = v.lang;
  auto r = market_.Register(u);
  if (!r.ok()) return fail(http::StatusOf(r.error()), MessageOf(v, r.error()));
  auto s =
      market_.Login(u.email, u.password, std::string(req[bhttp::field::user_agent]), peer.address);
  if (!s.ok()) return http::Redirect("/login");
  Response res = http::Redirect(next.empty() ? "/account?notice=registered" : next);
  res.insert(bhttp::field::set_cookie, ClearedPreCookie());
  res.insert(bhttp::field::set_cookie, api_.SessionCookie(*s));
  return res;
}

Response Pages::Account(const Params&, View& v) {
  const Caller& c = *v.caller;
  Page page;
  page.per_page = 20;
  auto me = market_.Me(c);
  auto orders = market_.MyOrders(c, page);
  auto holds = market_.MyHolds(c, page);
  auto listings = market_.MyListings(c, page);
  auto sales = market_.MySales(c, page);
  for (const Error* e :
       {me.ok() ? nullptr : &me.error(), orders.ok() ? nullptr : &orders.error(),
        holds.ok() ? nullptr : &holds.error(), listings.ok() ? nullptr : &listings.error(),
        sales.ok() ? nullptr : &sales.error()}) {
    if (e) return ErrorPage(v, *e);
  }
  boost::json::array active;
  for (auto& h : holds->at("items").as_array()) {
    if (h.at("status") == "active") active.push_back(h);
  }
  for (auto& l : listings->at("items").as_array()) {
    auto& o = l.as_object();
    o["active"] = o.at("status") == "active";
  }
  bool has_holds = !active.empty();
  return Render(Status_::ok, v, "account",
                {{"me", *me},
                 {"has_holds", has_holds},
                 {"has_orders", !orders->at("items").as_array().empty()},
                 {"has_listings", !listings->at("items").as_array().empty()},
                 {"has_sales", !sales->at("items").as_array().empty()},
                 {"orders", orders->at("items")},
                 {"holds", std::move(active)},
                 {"listings", listings->at("items")},
                 {"sales", sales->at("items")}});
}

// ------------------------------------------------------------------ selling

const std::vector<std::string> kSplits = {"any", "pairs", "all", "no_single"};
const std::vector<std::string> kDeliveries = {"eticket", "mobile", "paper"};

Response Pages::SellPage(Status_ status, View& v, const boost::json::object& form,
                         const std::string& error) {
  auto str = [&](std::string_view k, std::string fallback = "") {
    auto* x = form.if_contains(k);
    return x && x->is_string() ? std::string(x->as_string()) : fallback;
  };
  auto events = market_.UpcomingEvents(v.lang, 30);
  if (!events.ok()) return ErrorPage(v, events.error());
  std::vector<std::pair<std::string, std::string>> ev{{"", T(v, "sell.choose_event")}};
  for (const auto& e : events->at("items").as_array()) {
    ev.emplace_back(std::to_string(e.at("id").as_int64()),
                    fmt::format("{} — {} — {}", std::string_view(e.at("title").as_string()),
                                TimeText(e.at("starts_at").as_string()),
                                std::string_view(e.at("venue").as_string())));
  }
  std::vector<std::pair<std::string, std::string>> splits, deliveries;
  for (const auto& s : kSplits) splits.emplace_back(s, T(v, "split." + s));
  for (const auto& d : kDeliveries) deliveries.emplace_back(d, T(v, "delivery." + d));
  boost::json::object values = form;
  if (!values.contains("currency")) values["currency"] = "EUR";
  if (!values.contains("quantity")) values["quantity"] = "1";
  boost::json::object ctx{{"form", values},
                          {"events", Options(ev, str("event"))},
                          {"splits", Options(splits, str("split", "any"))},
                          {"deliveries", Options(deliveries, str("delivery", "eticket"))}};
  if (!error.empty()) ctx["error"] = error;
  return Render(status, v, "sell", std::move(ctx));
}

Response Pages::Sell(View& v, const Form& f) {
  boost::json::object values = f.Values();
  auto fail = [&](Status_ s, const std::string& m) { return SellPage(s, v, values, m); };
  auto invalid = [&](std::string_view key) {
    return fail(Status_::unprocessable_entity,
                fmt::format(fmt::runtime(T(v, "form.invalid")), T(v, key)));
  };
  NewListing l;
  std::string event = f.Get("event_id").empty() ? f.Get("event") : f.Get("event_id");
  auto event_id = ToInt(event);
  if (!event_id) return fail(Status_::unprocessable_entity, T(v, "sell.need_event"));
  l.event_id = *event_id;
  l.currency = f.Get("currency");
  for (auto& ch : l.currency) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (l.currency.size() != 3) return invalid("sell.currency");
  auto quantity = ToInt(f.Get("quantity"), 1, 1000);
  if (!quantity) return invalid("sell.quantity");
  l.quantity = *quantity;
  auto price = ParseAmount(f.Get("price"), l.currency);
  if (!price || *price < 1 || *price > 500'000'000) return invalid("sell.price");
  l.price_minor = *price;
  if (!f.Get("face_value").empty()) {
    auto face = ParseAmount(f.Get("face_value"), l.currency);
    if (!face || *face > 500'000'000) return invalid("sell.face_value");
    l.face_value_minor = face;
  }
  l.section = f.Get("section");
  l.row = f.Get("row");
  if (l.section.size() > 100) return invalid("sell.section");
  if (l.row.size() > 20) return invalid("sell.row");
  for (auto [key, out] : {std::pair{"seat_from", &l.seat_from}, {"seat_to", &l.seat_to}}) {
    if (f.Get(key).empty()) continue;
    auto seat = ToInt(f.Get(key), 1, 1'000'000);
    if (!seat) return invalid(std::string("sell.") + key);
    *out = seat;
  }
  l.split = f.Get("split").empty() ? "any" : f.Get("split");
  l.delivery = f.Get("delivery").empty() ? "eticket" : f.Get("delivery");
  if (std::find(kSplits.begin(), kSplits.end(), l.split) == kSplits.end()) {
    return invalid("sell.split");
  }
  if (std::find(kDeliveries.begin(), kDeliveries.end(), l.delivery) == kDeliveries.end()) {
    return invalid("sell.delivery");
  }
  l.notes = f.Get("notes");
  if (l.notes.size() > 2000) return invalid("sell.notes");
  auto r = market_.CreateListing(*v.caller, l);
  if (!r.ok()) return fail(http::StatusOf(r.error()), MessageOf(v, r.error()));
  return http::Redirect("/account?notice=listed");
}

Response Pages::EditPage(Status_ status, View& v, int64_t id, const std::string& error) {
  auto l = market_.GetListing(*v.caller, id);
  if (!l.ok()) return ErrorPage(v, l.error());
  auto summary = market_.ListingSummary(id, v.lang);
  if (!summary.ok()) return ErrorPage(v, summary.error());
  const auto& price = l->at("price").as_object();
  boost::json::object ctx{
      {"listing", *l},
      {"event", *summary},
      {"price_decimal", i18n::DecimalAmount(price.at("amount_minor").as_int64(),
                                            std::string(price.at("currency").as_string()))},
      {"active", l->at("status") == "active"}};
  if (!error.empty()) ctx["error"] = error;
  return Render(status, v, "listing_edit", std::move(ctx));
}

Response Pages::Edit(View& v, int64_t id, const Form& f) {
  if (f.Get("action") == "withdraw") {
    Status s = market_.WithdrawListing(*v.caller, id);
    if (!s.ok()) return EditPage(http::StatusOf(s.error()), v, id, MessageOf(v, s.error()));
    return http::Redirect("/account?notice=listing_withdrawn");
  }
  auto l = market_.GetListing(*v.caller, id);
  if (!l.ok()) return ErrorPage(v, l.error());
  std::string currency(l->at("currency").as_string());
  ListingPatch patch;
  auto price = ParseAmount(f.Get("price"), currency);
  if (!price || *price < 1 || *price > 500'000'000) {
    return EditPage(Status_::unprocessable_entity, v, id,
                    fmt::format(fmt::runtime(T(v, "form.invalid")), T(v, "sell.price")));
  }
  patch.price_minor = price;
  auto quantity = ToInt(f.Get("quantity"), 1, 1000);
  if (!quantity) {
    return EditPage(Status_::unprocessable_entity, v, id,
                    fmt::format(fmt::runtime(T(v, "form.invalid")), T(v, "sell.quantity")));
  }
  patch.quantity = quantity;
  auto r = market_.UpdateListing(*v.caller, id, patch);
  if (!r.ok()) return EditPage(http::StatusOf(r.error()), v, id, MessageOf(v, r.error()));
  return http::Redirect("/account?notice=listing_saved");
}

// ------------------------------------------------------------------ buying

Response Pages::HoldPage(Status_ status, View& v, const std::string& listing,
                         const std::string& quantity, const std::string& error) {
  auto id = ToInt(listing);
  if (!id) return ErrorPage(Status_::not_found, v, T(v, "error.no_listing"));
  auto summary = market_.ListingSummary(*id, v.lang);
  if (!summary.ok()) return ErrorPage(v, summary.error());
  boost::json::object ctx{{"listing", *summary},
                          {"quantity", ToInt(quantity, 1, 1000) ? quantity : "1"}};
  if (!error.empty()) ctx["error"] = error;
  return Render(status, v, "hold", std::move(ctx));
}

Response Pages::Checkout(Status_ status, View& v, int64_t id, const std::string& error) {
  auto hold = market_.GetHold(*v.caller, id);
  if (!hold.ok()) return ErrorPage(v, hold.error());
  auto summary = market_.ListingSummary(hold->at("listing_id").as_int64(), v.lang);
  if (!summary.ok()) return ErrorPage(v, summary.error());
  const auto& unit = hold->at("unit_price").as_object();
  std::string currency(unit.at("currency").as_string());
  int64_t subtotal = unit.at("amount_minor").as_int64() * hold->at("quantity").as_int64();
  int64_t fee = FeeMinor(subtotal, market_.options().fee_bp);
  std::string hold_status(hold->at("status").as_string());
  boost::json::object ctx{{"hold", *hold},
                          {"listing", *summary},
                          {"subtotal", i18n::FormatMoney(subtotal, currency, v.locale())},
                          {"fee", i18n::FormatMoney(fee, currency, v.locale())},
                          {"total", i18n::FormatMoney(subtotal + fee, currency, v.locale())},
                          {"active", hold_status == "active"},
                          {"expired", hold_status == "expired"},
                          {"status_text", T(v, "hold_status." + hold_status)}};
  if (!error.empty()) ctx["error"] = error;
  return Render(status, v, "checkout", std::move(ctx));
}

Response Pages::Pay(View& v, int64_t hold, const Form& f) {
  std::string number;
  for (char c : f.Get("card_number")) {
    if (c == ' ' || c == '-') continue;
    number += c;
  }
  if (number.size() < 12 || number.size() > 19 ||
      number.find_first_not_of("0123456789") != std::string::npos) {
    return Checkout(Status_::unprocessable_entity, v, hold, T(v, "checkout.bad_card"));
  }
  auto order = market_.Order(*v.caller, hold, Payment{"test_card", number});
  if (!order.ok()) {
    return Checkout(http::StatusOf(order.error()), v, hold, MessageOf(v, order.error()));
  }
  return http::Redirect(fmt::format("/account/orders/{}", order->at("id").as_int64()));
}

Response Pages::OrderPage(View& v, int64_t id) {
  auto order = market_.GetOrder(*v.caller, id);
  if (!order.ok()) return ErrorPage(v, order.error());
  auto summary = market_.ListingSummary(order->at("listing_id").as_int64(), v.lang);
  if (!summary.ok()) return ErrorPage(v, summary.error());
  std::string status(order->at("status").as_string());
  return Render(Status_::ok, v, "order",
                {{"title", fmt::format(fmt::runtime(T(v, "order.title")), id)},
                 {"order", *order},
                 {"listing", *summary},
                 {"status_text", T(v, "order_status." + status)}});
}

// ------------------------------------------------------------------ backoffice

std::vector<std::pair<std::string, std::string>> LanguageOptions(Market& m) {
  std::vector<std::pair<std::string, std::string>> out;
  if (auto l = m.AdminListLanguages(); l.ok()) {
    for (const auto& e : l->at("languages").as_array()) {
      std::string code(e.at("code").as_string());
      out.emplace_back(code,
                       fmt::format("{} ({})", std::string_view(e.at("name").as_string()), code));
    }
  }
  return out;
}

std::string FormStr(const boost::json::object& form, std::string_view key,
                    std::string fallback = "") {
  auto* x = form.if_contains(key);
  return x && x->is_string() ? std::string(x->as_string()) : fallback;
}

Response Pages::AdminEvents(View& v, const Params& p, AdminCtx a) {
  std::string q = p.Query("q").substr(0, 200);
  auto list = market_.AdminListEvents(q, PageParam(p, 50));
  if (!list.ok()) return ErrorPage(v, list.error());
  auto sites = market_.AdminListSites();
  if (!sites.ok()) return ErrorPage(v, sites.error());
  boost::json::array site_boxes;
  std::set<std::string> chosen;
  if (auto* s = a.form.if_contains("sites"); s && s->is_array()) {
    for (const auto& x : s->as_array()) chosen.insert(std::string(x.as_string()));
  }
  for (const auto& s : sites->at("sites").as_array()) {
    std::string code(s.at("code").as_string());
    site_boxes.push_back(boost::json::object{
        {"code", code}, {"name", s.at("name")}, {"checked", chosen.count(code) > 0}});
  }
  boost::json::object ctx{
      {"events", list->at("items")},
      {"q", q},
      {"form", a.form},
      {"sites", std::move(site_boxes)},
      {"languages", Options(LanguageOptions(market_), FormStr(a.form, "lang", "en"))}};
  AddPaging(ctx, *list, "/admin/events?q=" + boost::urls::encode(q, boost::urls::unreserved_chars));
  if (!a.error.empty()) ctx["error"] = a.error;
  return Render(a.status, v, "admin_events", std::move(ctx));
}

Response Pages::AdminEvent(View& v, int64_t id, AdminCtx a) {
  auto ev = market_.AdminGetEvent(id);
  if (!ev.ok()) return ErrorPage(v, ev.error());
  boost::json::array translations;
  for (const auto& kv : ev->at("translations").as_object()) {
    translations.push_back(boost::json::object{{"lang", kv.key()},
                                               {"title", kv.value().at("title")},
                                               {"description", kv.value().at("description")}});
  }
  std::string status(ev->at("status").as_string());
  std::vector<std::pair<std::string, std::string>> statuses;
  for (const char* s : {"scheduled", "postponed", "cancelled"}) {
    statuses.emplace_back(s, T(v, std::string("event_status.") + s));
  }
  boost::json::object ctx{
      {"title", fmt::format(fmt::runtime(T(v, "admin_event.title")), id)},
      {"event", *ev},
      {"statuses", Options(statuses, FormStr(a.form, "status", status))},
      {"starts_at", FormStr(a.form, "starts_at", std::string(ev->at("starts_at").as_string()))},
      {"translations", std::move(translations)},
      {"languages", Options(LanguageOptions(market_), FormStr(a.form, "lang"))},
      {"form", a.form}};
  if (!a.error.empty()) ctx["error"] = a.error;
  return Render(a.status, v, "admin_event", std::move(ctx));
}

Response Pages::AdminSites(View& v, AdminCtx a) {
  auto sites = market_.AdminListSites();
  if (!sites.ok()) return ErrorPage(v, sites.error());
  auto langs = LanguageOptions(market_);
  boost::json::array items;
  for (const auto& s : sites->at("sites").as_array()) {
    boost::json::object o = s.as_object();
    std::set<std::string> has;
    for (const auto& l : s.at("languages").as_array()) has.insert(std::string(l.as_string()));
    std::vector<std::pair<std::string, std::string>> missing;
    for (const auto& l : langs) {
      if (!has.count(l.first)) missing.push_back(l);
    }
    o["missing"] = Options(missing, "");
    items.push_back(std::move(o));
  }
  std::set<std::string> chosen;
  if (auto* s = a.form.if_contains("languages"); s && s->is_array()) {
    for (const auto& x : s->as_array()) chosen.insert(std::string(x.as_string()));
  }
  boost::json::array boxes;
  for (const auto& [code, name] : langs) {
    boxes.push_back(
        boost::json::object{{"code", code}, {"name", name}, {"checked", chosen.count(code) > 0}});
  }
  boost::json::object ctx{{"sites", std::move(items)},
                          {"language_boxes", std::move(boxes)},
                          {"languages", Options(langs, FormStr(a.form, "default_language"))},
                          {"form", a.form}};
  if (!a.error.empty()) ctx["error"] = a.error;
  return Render(a.status, v, "admin_sites", std::move(ctx));
}

Response Pages::AdminLanguages(View& v, AdminCtx a) {
  auto langs = market_.AdminListLanguages();
  if (!langs.ok()) return ErrorPage(v, langs.error());
  std::vector<std::pair<std::string, std::string>> dirs = {{"ltr", T(v, "direction.ltr")},
                                                           {"rtl", T(v, "direction.rtl")}};
  boost::json::object ctx{{"languages", langs->at("languages")},
                          {"directions", Options(dirs, FormStr(a.form, "direction", "ltr"))},
                          {"form", a.form}};
  if (!a.error.empty()) ctx["error"] = a.error;
  return Render(a.status, v, "admin_languages", std::move(ctx));
}

Response Pages::AdminVenues(View& v, const Params& p, AdminCtx a) {
  auto venues = market_.AdminListVenues(PageParam(p, 50));
  if (!venues.ok()) return ErrorPage(v, venues.error());
  auto cities = market_.AdminListCities();
  if (!cities.ok()) return ErrorPage(v, cities.error());
  std::vector<std::pair<std::string, std::string>> city_options{{"", T(v, "form.choose")}};
  for (const auto& c : cities->at("cities").as_array()) {
    city_options.emplace_back(std::to_string(c.at("id").as_int64()),
                              fmt::format("{} ({})", std::string_view(c.at("name").as_string()),
                                          std::string_view(c.at("country").as_string())));
  }
  boost::json::object ctx{{"venues", venues->at("items")},
                          {"cities", Options(city_options, FormStr(a.form, "city_id"))},
                          {"form", a.form}};
  AddPaging(ctx, *venues, "/admin/venues");
  if (!a.error.empty()) ctx["error"] = a.error;
  return Render(a.status, v, "admin_venues", std::move(ctx));
}

Response Pages::AdminCategories(View& v, AdminCtx a) {
  auto cats = market_.AdminListCategories(v.lang);
  if (!cats.ok()) return ErrorPage(v, cats.error());
  std::vector<std::pair<std::string, std::string>> parents{
      {"", T(v, "admin_categories.no_parent")}};
  for (const auto& c : cats->at("categories").as_array()) {
    parents.emplace_back(std::to_string(c.at("id").as_int64()),
                         std::string(c.at("name").as_string()));
  }
  boost::json::object ctx{
      {"categories", cats->at("categories")},
      {"parents", Options(parents, FormStr(a.form, "parent_id"))},
      {"languages", Options(LanguageOptions(market_), FormStr(a.form, "lang", "en"))},
      {"form", a.form}};
  if (!a.error.empty()) ctx["error"] = a.error;
  return Render(a.status, v, "admin_categories", std::move(ctx));
}

Response Pages::AdminPerformers(View& v, const Params& p, AdminCtx a) {
  auto performers = market_.AdminListPerformers(PageParam(p, 50));
  if (!performers.ok()) return ErrorPage(v, performers.error());
  auto cats = market_.AdminListCategories(v.lang);
  if (!cats.ok()) return ErrorPage(v, cats.error());
  std::vector<std::pair<std::string, std::string>> options{{"", T(v, "form.none")}};
  for (const auto& c : cats->at("categories").as_array()) {
    options.emplace_back(std::to_string(c.at("id").as_int64()),
                         std::string(c.at("name").as_string()));
  }
  boost::json::object ctx{{"performers", performers->at("items")},
                          {"categories", Options(options, FormStr(a.form, "category_id"))},
                          {"form", a.form}};
  AddPaging(ctx, *performers, "/admin/performers");
  if (!a.error.empty()) ctx["error"] = a.error;
  return Render(a.status, v, "admin_performers", std::move(ctx));
}

Response Pages::AdminRates(View& v, AdminCtx a) {
  auto rates = market_.AdminListExchangeRates();
  if (!rates.ok()) return ErrorPage(v, rates.error());
  boost::json::object ctx{{"rates", rates->at("rates")}, {"form", a.form}};
  if (!a.error.empty()) ctx["error"] = a.error;
  return Render(a.status, v, "admin_rates", std::move(ctx));
}

// ------------------------------------------------------------------ routes

void Pages::Register() {
  using V = bhttp::verb;
  auto self = shared_from_this();
  http::Router& r = api_.router();

  r.Add(V::get, "/static/taquilla.css",
        [self](const Request& req, const Peer&, const Params&) { return self->Css(req); });
  r.Add(V::get, "/", [self](const Request& req, const Peer&, const Params&) {
    return http::Redirect(self->SoftCaller(req) ? "/account" : "/login");
  });

  // Accounts.
  r.Add(V::get, "/login", [self](const Request& req, const Peer&, const Params& p) {
    View v = self->Anonymous(req, p);
    std::string next = SafeNext(p.Query("next"));
    if (v.caller) return http::Redirect(next.empty() ? "/account" : next);
    return self->LoginPage(req, Status_::ok, v, next, "", "");
  });
  r.Add(V::post, "/login", [self](const Request& req, const Peer& peer, const Params& p) {
    return self->Login(req, peer, p);
  });
  r.Add(V::get, "/register", [self](const Request& req, const Peer&, const Params& p) {
    View v = self->Anonymous(req, p);
    std::string next = SafeNext(p.Query("next"));
    if (v.caller) return http::Redirect(next.empty() ? "/account" : next);
    return self->RegisterPage(req, Status_::ok, v, {{"next", next}}, "");
  });
  r.Add(V::post, "/register", [self](const Request& req, const Peer& peer, const Params& p) {
    return self->Register(req, peer, p);
  });
  r.Add(V::post, "/logout",
        UserForm(
            [self](const Request&, const Params&, View& v, const Form&) {
              (void)self->market_.Logout(*v.caller);
              Response res = http::Redirect("/login");
              res.set(bhttp::field::set_cookie, self->api_.ClearedSessionCookie());
              return res;
            },
            false, [](const Request&, const Params&, const Form&) { return std::string("/"); }));
  r.Add(V::get, "/account",
        UserPage([self](const Request&, const Params& p, View& v) { return self->Account(p, v); }));
  r.Add(V::get, "/account/orders/{id}", UserPage([self](const Request&, const Params& p, View& v) {
          auto id = ToInt(p.path[0]);
          if (!id) return self->ErrorPage(Status_::not_found, v, self->T(v, "error.not_found"));
          return self->OrderPage(v, *id);
        }));

  // Selling.
  r.Add(V::get, "/sell", UserPage([self](const Request&, const Params& p, View& v) {
          boost::json::object form;
          if (ToInt(p.Query("event_id"))) form["event"] = p.Query("event_id");
          return self->SellPage(Status_::ok, v, form, "");
        }));
  r.Add(V::post, "/sell", UserForm([self](const Request&, const Params&, View& v, const Form& f) {
          return self->Sell(v, f);
        }));
  r.Add(V::get, "/listings/{id}/edit", UserPage([self](const Request&, const Params& p, View& v) {
          auto id = ToInt(p.path[0]);
          if (!id) return self->ErrorPage(Status_::not_found, v, self->T(v, "error.not_found"));
          return self->EditPage(Status_::ok, v, *id, "");
        }));
  r.Add(V::post, "/listings/{id}/edit",
        UserForm([self](const Request&, const Params& p, View& v, const Form& f) {
          auto id = ToInt(p.path[0]);
          if (!id) return self->ErrorPage(Status_::not_found, v, self->T(v, "error.not_found"));
          return self->Edit(v, *id, f);
        }));

  // Buying. A buy button on a read page posts listing_id and quantity without this
  // session's CSRF token: it gets a confirmation form (which has the token) instead of a
  // hold, so no other site can make a buyer hold tickets.
  r.Add(V::get, "/hold", UserPage([self](const Request&, const Params& p, View& v) {
          return self->HoldPage(Status_::ok, v, p.Query("listing_id"), p.Query("quantity"), "");
        }));
  r.Add(V::post, "/hold", [self](const Request& req, const Peer&, const Params& p) -> Response {
    auto form = Form::Parse(req);
    if (!form.ok()) return self->ErrorPage(self->Anonymous(req, p), form.error());
    std::string listing = form->Get("listing_id"), quantity = form->Get("quantity");
    std::string back = fmt::format("/hold?listing_id={}&quantity={}",
                                   boost::urls::encode(listing, boost::urls::unreserved_chars),
                                   boost::urls::encode(quantity, boost::urls::unreserved_chars));
    auto caller = self->api_.Authenticate(req, form->Raw("csrf_token"));
    if (!caller.ok()) {
      View v = self->Anonymous(req, p);
      if (!v.caller) return http::Redirect(LoginUrl(back));
      return self->HoldPage(Status_::forbidden, v, listing, quantity, self->T(v, "hold.confirm"));
    }
    View v;
    v.caller = *caller;
    v.lang = self->Language(req, p, &*caller);
    auto id = ToInt(listing);
    auto n = ToInt(quantity, 1, 1000);
    if (!id || !n) {
      return self->HoldPage(
          Status_::unprocessable_entity, v, listing, quantity,
          fmt::format(fmt::runtime(self->T(v, "form.invalid")), self->T(v, "hold.quantity")));
    }
    auto hold = self->market_.Hold(*v.caller, *id, *n);
    if (!hold.ok()) {
      return self->HoldPage(http::StatusOf(hold.error()), v, listing, quantity,
                            self->MessageOf(v, hold.error()));
    }
    return http::Redirect(fmt::format("/checkout/{}", hold->at("id").as_int64()));
  });
  r.Add(V::get, "/checkout/{hold}", UserPage([self](const Request&, const Params& p, View& v) {
          auto id = ToInt(p.path[0]);
          if (!id) return self->ErrorPage(Status_::not_found, v, self->T(v, "error.not_found"));
          return self->Checkout(Status_::ok, v, *id, "");
        }));
  r.Add(V::post, "/checkout/{hold}",
        UserForm([self](const Request&, const Params& p, View& v, const Form& f) {
          auto id = ToInt(p.path[0]);
          if (!id) return self->ErrorPage(Status_::not_found, v, self->T(v, "error.not_found"));
          return self->Pay(v, *id, f);
        }));
  r.Add(V::post, "/checkout/{hold}/release",
        UserForm(
            [self](const Request&, const Params& p, View& v, const Form&) {
              auto id = ToInt(p.path[0]);
              if (!id) return self->ErrorPage(Status_::not_found, v, self->T(v, "error.not_found"));
              Status s = self->market_.ReleaseHold(*v.caller, *id);
              if (!s.ok()) {
                return self->Checkout(http::StatusOf(s.error()), v, *id,
                                      self->MessageOf(v, s.error()));
              }
              return http::Redirect("/account?notice=hold_released");
            },
            false,
            [](const Request&, const Params& p, const Form&) { return "/checkout/" + p.path[0]; }));

  // Backoffice.
  constexpr bool kAdmin = true;
  auto admin_get = [&](const char* path, std::function<Response(View&, const Params&)> fn) {
    r.Add(V::get, path,
          UserPage([fn](const Request&, const Params& p, View& v) { return fn(v, p); }, kAdmin));
  };
  // A create form: `body` builds the Market's JSON from the form; `call` runs it; on
  // success back to `done`, else the page again with the message.
  using PageFn = std::function<Response(View&, const Params&, AdminCtx)>;
  using BodyFn = std::function<boost::json::object(const Form&)>;
  using CallFn =
      std::function<Result<boost::json::object>(const Params&, const boost::json::object&)>;
  using DoneFn = std::function<std::string(const Params&, const boost::json::object&)>;
  auto admin_post = [&](const char* path, BodyFn body, CallFn call, DoneFn done, PageFn page,
                        std::function<std::string(const Params&)> back) {
    r.Add(V::post, path,
          UserForm(
              [self, body, call, done, page](const Request&, const Params& p, View& v,
                                             const Form& f) {
                boost::json::object b = body(f);
                auto result = call(p, b);
                if (result.ok()) return http::Redirect(done(p, *result));
                AdminCtx a;
                a.status = http::StatusOf(result.error());
                a.form = f.Values();
                for (const auto& [k, val] : b) {
                  if (val.is_array()) a.form[k] = val;  // checkboxes keep their choices
                }
                a.error = self->MessageOf(v, result.error());
                return page(v, p, std::move(a));
              },
              kAdmin, [back](const Request&, const Params& p, const Form&) { return back(p); }));
  };
  auto fixed = [](std::string to) { return [to](const Params&) { return to; }; };
  auto saved = [](std::string to) {
    return [to](const Params&, const boost::json::object&) { return to + "?notice=saved"; };
  };

  admin_get("/admin",
            [self](View& v, const Params&) { return self->Render(Status_::ok, v, "admin", {}); });

  PageFn events = [self](View& v, const Params& p, AdminCtx a) {
    return self->AdminEvents(v, p, std::move(a));
  };
  admin_get("/admin/events", [events](View& v, const Params& p) { return events(v, p, {}); });
  admin_post(
      "/admin/events",
      [](const Form& f) {
        boost::json::object b;
        PutInt(b, "venue_id", f.Get("venue_id"));
        PutInt(b, "category_id", f.Get("category_id"));
        PutStr(b, "starts_at", f.Get("starts_at"));
        boost::json::array performers;
        std::string ids = f.Get("performer_ids");
        for (char& c : ids) {
          if (c == ',') c = ' ';
        }
        std::istringstream in(ids);
        for (std::string id; in >> id;) {
          if (auto n = ToInt(id)) {
            performers.push_back(*n);
          } else {
            performers.push_back(boost::json::string(id));
          }
        }
        b["performer_ids"] = std::move(performers);
        boost::json::array sites;
        for (const auto& s : f.All("sites")) sites.push_back(boost::json::string(s));
        b["sites"] = std::move(sites);
        std::string lang = f.Get("lang").empty() ? "en" : f.Get("lang");
        boost::json::object tr;
        PutStr(tr, "title", f.Get("title"));
        PutStr(tr, "description", f.Get("description"));
        b["translations"] = boost::json::object{{lang, std::move(tr)}};
        return b;
      },
      [self](const Params&, const boost::json::object& b) {
        return self->market_.AdminCreateEvent(b);
      },
      [](const Params&, const boost::json::object& ev) {
        return fmt::format("/admin/events/{}?notice=saved", ev.at("id").as_int64());
      },
      events, fixed("/admin/events"));

  PageFn event = [self](View& v, const Params& p, AdminCtx a) {
    auto id = ToInt(p.path[0]);
    if (!id) return self->ErrorPage(Status_::not_found, v, self->T(v, "error.not_found"));
    return self->AdminEvent(v, *id, std::move(a));
  };
  admin_get("/admin/events/{id}", [event](View& v, const Params& p) { return event(v, p, {}); });
  auto event_back = [](const Params& p) { return "/admin/events/" + p.path[0]; };
  auto event_done = [](const Params& p, const boost::json::object&) {
    return "/admin/events/" + p.path[0] + "?notice=saved";
  };
  admin_post(
      "/admin/events/{id}",
      [](const Form& f) {
        boost::json::object b;
        PutStr(b, "starts_at", f.Get("starts_at"));
        PutStr(b, "status", f.Get("status"));
        return b;
      },
      [self](const Params& p, const boost::json::object& b) -> Result<boost::json::object> {
        auto id = ToInt(p.path[0]);
        if (!id) return MakeReason(ErrorCode::kNotFound, "not_found", "No such event.");
        return self->market_.AdminUpdateEvent(*id, b);
      },
      event_done, event, event_back);
  admin_post(
      "/admin/events/{id}/translations",
      [](const Form& f) {
        boost::json::object b;
        PutStr(b, "lang", f.Get("lang"));
        PutStr(b, "title", f.Get("title"));
        PutStr(b, "description", f.Get("description"));
        return b;
      },
      [self](const Params& p, const boost::json::object& b) -> Result<boost::json::object> {
        auto id = ToInt(p.path[0]);
        if (!id) return MakeReason(ErrorCode::kNotFound, "not_found", "No such event.");
        boost::json::object body = b;
        std::string lang = body.contains("lang") ? std::string(body.at("lang").as_string()) : "";
        body.erase("lang");
        if (lang.empty()) return http::InvalidField("lang", "must name a language");
        return self->market_.AdminPutEventTranslation(*id, lang, body);
      },
      event_done, event, event_back);

  PageFn sites = [self](View& v, const Params&, AdminCtx a) {
    return self->AdminSites(v, std::move(a));
  };
  admin_get("/admin/sites", [sites](View& v, const Params& p) { return sites(v, p, {}); });
  admin_post(
      "/admin/sites",
      [](const Form& f) {
        boost::json::object b;
        for (const char* k : {"code", "name", "country", "currency", "timezone"}) {
          b[k] = f.Get(k);
        }
        std::string def = f.Get("default_language");
        b["default_language"] = def;
        boost::json::array langs;
        if (!def.empty()) langs.push_back(boost::json::string(def));
        for (const auto& l : f.All("languages")) {
          if (l != def) langs.push_back(boost::json::string(l));
        }
        b["languages"] = std::move(langs);
        return b;
      },
      [self](const Params&, const boost::json::object& b) {
        return self->market_.AdminCreateSite(b);
      },
      saved("/admin/sites"), sites, fixed("/admin/sites"));
  admin_post(
      "/admin/sites/{site}/languages",
      [](const Form& f) {
        return boost::json::object{{"code", f.Get("code")}};
      },
      [self](const Params& p, const boost::json::object& b) {
        return self->market_.AdminAddSiteLanguage(p.path[0], b);
      },
      saved("/admin/sites"), sites, fixed("/admin/sites"));

  PageFn languages = [self](View& v, const Params&, AdminCtx a) {
    return self->AdminLanguages(v, std::move(a));
  };
  admin_get("/admin/languages",
            [languages](View& v, const Params& p) { return languages(v, p, {}); });
  admin_post(
      "/admin/languages",
      [](const Form& f) {
        boost::json::object b{{"code", f.Get("code")}, {"name", f.Get("name")}};
        PutStr(b, "direction", f.Get("direction"));
        return b;
      },
      [self](const Params&, const boost::json::object& b) {
        return self->market_.AdminCreateLanguage(b);
      },
      saved("/admin/languages"), languages, fixed("/admin/languages"));

  PageFn venues = [self](View& v, const Params& p, AdminCtx a) {
    return self->AdminVenues(v, p, std::move(a));
  };
  admin_get("/admin/venues", [venues](View& v, const Params& p) { return venues(v, p, {}); });
  admin_post(
      "/admin/venues",
      [](const Form& f) {
        boost::json::object b{{"name", f.Get("name")}, {"timezone", f.Get("timezone")}};
        PutInt(b, "city_id", f.Get("city_id"));
        PutStr(b, "address", f.Get("address"));
        PutDouble(b, "latitude", f.Get("latitude"));
        PutDouble(b, "longitude", f.Get("longitude"));
        PutInt(b, "capacity", f.Get("capacity"));
        return b;
      },
      [self](const Params&, const boost::json::object& b) {
        return self->market_.AdminCreateVenue(b);
      },
      saved("/admin/venues"), venues, fixed("/admin/venues"));

  PageFn categories = [self](View& v, const Params&, AdminCtx a) {
    return self->AdminCategories(v, std::move(a));
  };
  admin_get("/admin/categories",
            [categories](View& v, const Params& p) { return categories(v, p, {}); });
  admin_post(
      "/admin/categories",
      [](const Form& f) {
        boost::json::object b;
        PutInt(b, "parent_id", f.Get("parent_id"));
        PutStr(b, "slug", f.Get("slug"));
        PutInt(b, "position", f.Get("position"));
        std::string lang = f.Get("lang").empty() ? "en" : f.Get("lang");
        boost::json::object tr;
        PutStr(tr, "name", f.Get("name"));
        b["translations"] = boost::json::object{{lang, std::move(tr)}};
        return b;
      },
      [self](const Params&, const boost::json::object& b) {
        return self->market_.AdminCreateCategory(b);
      },
      saved("/admin/categories"), categories, fixed("/admin/categories"));

  PageFn performers = [self](View& v, const Params& p, AdminCtx a) {
    return self->AdminPerformers(v, p, std::move(a));
  };
  admin_get("/admin/performers",
            [performers](View& v, const Params& p) { return performers(v, p, {}); });
  admin_post(
      "/admin/performers",
      [](const Form& f) {
        boost::json::object b{{"name", f.Get("name")}};
        PutInt(b, "category_id", f.Get("category_id"));
        return b;
      },
      [self](const Params&, const boost::json::object& b) {
        return self->market_.AdminCreatePerformer(b);
      },
      saved("/admin/performers"), performers, fixed("/admin/performers"));

  PageFn rates = [self](View& v, const Params&, AdminCtx a) {
    return self->AdminRates(v, std::move(a));
  };
  admin_get("/admin/exchange-rates", [rates](View& v, const Params& p) { return rates(v, p, {}); });
  admin_post(
      "/admin/exchange-rates",
      [](const Form& f) {
        std::string base = f.Get("base"), quote = f.Get("quote");
        for (auto* s : {&base, &quote}) {
          for (auto& c : *s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        return boost::json::object{{"base", base}, {"quote", quote}, {"rate", f.Get("rate")}};
      },
      [self](const Params&, const boost::json::object& b) -> Result<boost::json::object> {
        std::string base(b.at("base").as_string()), quote(b.at("quote").as_string());
        static const std::regex code("^[A-Z]{3}$");
        if (!std::regex_match(base, code))
          return http::InvalidField("base", "must be an ISO 4217 code");
        if (!std::regex_match(quote, code)) {
          return http::InvalidField("quote", "must be an ISO 4217 code");
        }
        return self->market_.AdminPutExchangeRate(base, quote,
                                                  boost::json::object{{"rate", b.at("rate")}});
      },
      saved("/admin/exchange-rates"), rates, fixed("/admin/exchange-rates"));
}

}  // namespace

void AddPages(SecureApi& api) {
  auto pages = std::make_shared<Pages>(api);
  pages->Register();
}

}  // namespace taquilla::secure
