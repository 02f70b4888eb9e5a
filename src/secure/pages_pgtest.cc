// The secure app's HTML pages against a real PostgreSQL: login with the pre-session
// double-submit CSRF cookie, registration, selling, holding, paying (and a declined card),
// the backoffice forms and its 403 for buyers, escaping of user data, and that every page
// declares its language and labels every input.
#include <boost/url.hpp>
#include <regex>
#include <set>

#include "i18n/messages.h"
#include "secure/pages.h"
#include "secure/secure_fixture.h"

namespace taquilla::secure {
namespace {

using taquilla::testing::HttpReply;
using Headers = std::map<std::string, std::string>;
using FormFields = std::vector<std::pair<std::string, std::string>>;

std::string Encode(const FormFields& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += boost::urls::encode(k, boost::urls::unreserved_chars) + "=" +
           boost::urls::encode(v, boost::urls::unreserved_chars);
  }
  return out;
}

// The value a Set-Cookie header gives `name` ("" when it sets another cookie).
std::string SetCookieValue(const HttpReply& r, const std::string& name) {
  std::string c = r.header("set-cookie");
  if (c.rfind(name + "=", 0) != 0) return "";
  return c.substr(name.size() + 1, c.find(';') - name.size() - 1);
}

// The first hidden csrf_token of a page.
std::string CsrfOf(const std::string& html) {
  static const std::regex re(R"re(name="csrf_token" value="([^"]+)")re");
  std::smatch m;
  return std::regex_search(html, m, re) ? m[1].str() : "";
}

// Every visible input, select and textarea has an id and a <label for> it.
::testing::AssertionResult LabelsEveryInput(const std::string& html) {
  static const std::regex control(R"re(<(input|select|textarea)\b([^>]*)>)re");
  static const std::regex id(R"re(\bid="([^"]+)")re");
  int n = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), control);
       it != std::sregex_iterator(); ++it) {
    std::string attrs = (*it)[2].str();
    if (attrs.find("type=\"hidden\"") != std::string::npos) continue;
    ++n;
    std::smatch m;
    if (!std::regex_search(attrs, m, id)) {
      return ::testing::AssertionFailure() << "a control without an id: " << it->str();
    }
    if (html.find("<label for=\"" + m[1].str() + "\"") == std::string::npos) {
      return ::testing::AssertionFailure() << "no <label for=\"" << m[1].str() << "\">";
    }
  }
  return ::testing::AssertionSuccess() << n << " controls";
}

// A UI string as the fixture's users (locale es) see it on a page.
std::string Es(std::string_view key) {
  std::string text = i18n::Messages::Default().Get("es", key);
  std::string out;
  for (char c : text) {
    if (c == '\'') {
      out += "&#39;";
    } else if (c == '"') {
      out += "&quot;";
    } else {
      out += c;
    }
  }
  return out;
}

class PagesTest : public SecureFixture {
 protected:
  void SetUp() override {
    SecureFixture::SetUp();
    AddPages(*api_);
  }

  // A browser of one user: its cookies and the session's CSRF token.
  struct Browser {
    std::string session, pre, csrf;
    Headers Cookies() const {
      std::string c;
      if (!session.empty()) c += std::string(kSessionCookie) + "=" + session;
      if (!pre.empty())
        c += (c.empty() ? "" : "; ") + std::string(kPreSessionCsrfCookie) + "=" + pre;
      return c.empty() ? Headers{} : Headers{{"Cookie", c}};
    }
  };

  HttpReply Get(const std::string& path, const Browser& b) {
    return client_->Get(path, b.Cookies());
  }
  HttpReply PostForm(const std::string& path, const FormFields& fields, const Browser& b) {
    Headers h = b.Cookies();
    h["Content-Type"] = "application/x-www-form-urlencoded";
    return client_->Send("POST", path, Encode(fields), h);
  }
  // A logged-in form post: the session's token goes along.
  HttpReply Submit(const std::string& path, FormFields fields, const Browser& b) {
    fields.emplace_back("csrf_token", b.csrf);
    return PostForm(path, fields, b);
  }

  // Logs in through the login page; the browser then holds the session.
  Browser LogIn(const std::string& email) {
    Browser b;
    auto page = Get("/login", b);
    EXPECT_EQ(page.status, 200);
    b.pre = SetCookieValue(page, std::string(kPreSessionCsrfCookie));
    auto r =
        PostForm("/login", {{"email", email}, {"password", kPassword}, {"csrf_token", b.pre}}, b);
    EXPECT_EQ(r.status, 303) << r.body;
    b.session = SetCookieValue(r, std::string(kSessionCookie));
    EXPECT_FALSE(b.session.empty());
    auto account = Get("/account", b);
    EXPECT_EQ(account.status, 200) << account.body;
    b.csrf = CsrfOf(account.body);
    EXPECT_FALSE(b.csrf.empty());
    return b;
  }

  // /hold then the checkout redirect; returns the hold id.
  int64_t HoldVia(const Browser& b, int64_t listing, int quantity) {
    auto r = Submit(
        "/hold", {{"listing_id", std::to_string(listing)}, {"quantity", std::to_string(quantity)}},
        b);
    EXPECT_EQ(r.status, 303) << r.body;
    std::string loc = r.header("location");
    EXPECT_EQ(loc.rfind("/checkout/", 0), 0u) << loc;
    return loc.size() > 10 ? std::stoll(loc.substr(10)) : 0;
  }
};

TEST_F(PagesTest, LoginPageSetsThePreSessionCsrfCookie) {
  auto r = client_->Get("/login");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("<html lang=\"en\" dir=\"ltr\">"), std::string::npos) << r.body;
  std::string cookie = r.header("set-cookie");
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos) << cookie;
  std::string pre = SetCookieValue(r, std::string(kPreSessionCsrfCookie));
  ASSERT_EQ(pre.size(), 43u) << cookie;
  EXPECT_EQ(CsrfOf(r.body), pre);
  EXPECT_NE(r.header("content-security-policy").find("frame-ancestors 'none'"), std::string::npos);
  // A browser that has the cookie keeps it (several tabs work).
  auto again = client_->Get("/login", {{"Cookie", "tq_csrf_pre=" + pre}});
  EXPECT_EQ(CsrfOf(again.body), pre);
  // No JavaScript anywhere.
  EXPECT_EQ(r.body.find("<script"), std::string::npos);
}

TEST_F(PagesTest, LoginChecksCsrfPasswordAndNext) {
  Browser anon;
  auto page = Get("/login", anon);
  anon.pre = SetCookieValue(page, std::string(kPreSessionCsrfCookie));
  FormFields good = {{"email", "buyer@t.test"}, {"password", kPassword}};
  // No token, a wrong token, or a token without its cookie: 403, no session.
  auto r = PostForm("/login", good, anon);
  EXPECT_EQ(r.status, 403);
  EXPECT_TRUE(SetCookieValue(r, std::string(kSessionCookie)).empty());
  FormFields wrong = good;
  wrong.emplace_back("csrf_token", std::string(43, 'A'));
  EXPECT_EQ(PostForm("/login", wrong, anon).status, 403);
  FormFields with_token = good;
  with_token.emplace_back("csrf_token", anon.pre);
  EXPECT_EQ(PostForm("/login", with_token, Browser{}).status, 403);
  // JSON is not a form.
  auto json =
      client_->Send("POST", "/login", R"({"email":"buyer@t.test"})",
                    {{"Content-Type", "application/json"}, {"Cookie", "tq_csrf_pre=" + anon.pre}});
  EXPECT_EQ(json.status, 415);
  // A wrong password re-renders the form with the error.
  r = PostForm(
      "/login",
      {{"email", "buyer@t.test"}, {"password", "wrong-password"}, {"csrf_token", anon.pre}}, anon);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("The email or password is wrong."), std::string::npos);
  EXPECT_NE(r.body.find("value=\"buyer@t.test\""), std::string::npos);
  // The right one logs in and goes to the account, or to a local next.
  r = PostForm("/login", with_token, anon);
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(r.header("location"), "/account");
  std::string cookie = r.header("set-cookie");
  EXPECT_EQ(cookie.rfind("tq_session=", 0), 0u) << cookie;
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Lax"), std::string::npos);
  for (auto [next, want] : {std::pair{"/sell", "/sell"},
                            {"/checkout/5?x=1", "/checkout/5?x=1"},
                            {"//evil.example/", "/account"},
                            {"https://evil.example/", "/account"},
                            {"/\\evil.example", "/account"}}) {
    FormFields f = with_token;
    f.emplace_back("next", next);
    r = PostForm("/login", f, anon);
    EXPECT_EQ(r.status, 303);
    EXPECT_EQ(r.header("location"), want) << next;
  }
  // The session works on the pages.
  Browser b;
  b.session = SetCookieValue(r, std::string(kSessionCookie));
  auto account = Get("/account", b);
  EXPECT_EQ(account.status, 200);
  EXPECT_NE(account.body.find("buyer@t.test"), std::string::npos);
  EXPECT_EQ(Get("/", b).header("location"), "/account");
}

TEST_F(PagesTest, PagesNeedALogin) {
  for (const char* path : {"/account", "/sell", "/checkout/1", "/account/orders/1", "/admin",
                           "/admin/events", "/listings/1/edit"}) {
    auto r = client_->Get(path);
    EXPECT_EQ(r.status, 303) << path;
    EXPECT_EQ(r.header("location"),
              "/login?next=" + boost::urls::encode(path, boost::urls::unreserved_chars))
        << path;
  }
  EXPECT_EQ(client_->Get("/").header("location"), "/login");
  // A buy button of a read page, before logging in: log in, then confirm the hold.
  auto r = PostForm("/hold", {{"listing_id", "7"}, {"quantity", "2"}}, Browser{});
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(r.header("location"), "/login?next=%2Fhold%3Flisting_id%3D7%26quantity%3D2");
}

TEST_F(PagesTest, RegisterCreatesAnAccountAndLogsIn) {
  Browser b;
  auto page = Get("/register", b);
  ASSERT_EQ(page.status, 200);
  EXPECT_TRUE(LabelsEveryInput(page.body));
  b.pre = SetCookieValue(page, std::string(kPreSessionCsrfCookie));
  FormFields f = {{"email", "new@t.test"},
                  {"password", "short"},
                  {"display_name", "Nueva"},
                  {"locale", "es"},
                  {"csrf_token", b.pre}};
  auto r = PostForm("/register", f, b);
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find("at least 10 characters"), std::string::npos);
  EXPECT_NE(r.body.find("value=\"Nueva\""), std::string::npos);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM users WHERE email = 'new@t.test'"), 0);
  f[1].second = "long enough password";
  FormFields no_token(f.begin(), f.end() - 1);
  EXPECT_EQ(PostForm("/register", no_token, b).status, 403);
  r = PostForm("/register", f, b);
  ASSERT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(r.header("location"), "/account?notice=registered");
  b.session = SetCookieValue(r, std::string(kSessionCookie));
  auto account = Get("/account?notice=registered", b);
  EXPECT_EQ(account.status, 200);
  EXPECT_NE(account.body.find("Nueva"), std::string::npos);
  EXPECT_NE(account.body.find(Es("notice.registered")), std::string::npos) << account.body;
  EXPECT_EQ(Sql("SELECT display_name, locale, role FROM users WHERE email = 'new@t.test'")
                .GetString(0, 2),
            "buyer");
  // The same email again: the Market's message on the page.
  r = PostForm("/register", f, b);
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("already exists"), std::string::npos);
}

TEST_F(PagesTest, SellCreatesAListingAndEditWithdrawsIt) {
  Browser seller = LogIn("seller@t.test");
  auto page = Get("/sell?event_id=1", seller);
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<option value=\"1\" selected>Concierto"), std::string::npos)
      << page.body;
  EXPECT_EQ(page.body.find("Pasado"), std::string::npos);  // past events are not offered
  FormFields f = {{"event", "1"},        {"quantity", "4"},    {"price", "45,50"},
                  {"currency", "eur"},   {"section", "Pista"}, {"split", "pairs"},
                  {"delivery", "mobile"}};
  // Without the session's token nothing is created.
  EXPECT_EQ(PostForm("/sell", f, seller).status, 403);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM listings"), 0);
  auto r = Submit("/sell", f, seller);
  ASSERT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(r.header("location"), "/account?notice=listed");
  auto row =
      Sql("SELECT id, price_minor, currency, quantity, split, delivery, section FROM listings");
  ASSERT_EQ(row.rows(), 1);
  EXPECT_EQ(row.GetInt(0, 1), 4550);
  EXPECT_EQ(row.GetString(0, 2), "EUR");
  EXPECT_EQ(row.GetInt(0, 3), 4);
  EXPECT_EQ(row.GetString(0, 4), "pairs");
  EXPECT_EQ(row.GetString(0, 5), "mobile");
  int64_t id = row.GetInt(0, 0);
  auto account = Get("/account?notice=listed", seller);
  EXPECT_NE(account.body.find(Es("notice.listed")), std::string::npos);
  EXPECT_NE(account.body.find("/listings/" + std::to_string(id) + "/edit"), std::string::npos);
  // Market errors show on the page: the past event, a bad price.
  f[0].second = "2";
  r = Submit("/sell", f, seller);
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("cannot be sold"), std::string::npos) << r.body;
  f[0].second = "1";
  f[2].second = "12.345";
  r = Submit("/sell", f, seller);
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find(Es("sell.price")), std::string::npos);
  // Edit: price and quantity, then withdraw.
  std::string edit = "/listings/" + std::to_string(id) + "/edit";
  page = Get(edit, seller);
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_NE(page.body.find("value=\"45.50\""), std::string::npos);
  r = Submit(edit, {{"action", "save"}, {"price", "50"}, {"quantity", "6"}}, seller);
  EXPECT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(SqlInt("SELECT price_minor FROM listings"), 5000);
  EXPECT_EQ(SqlInt("SELECT quantity FROM listings"), 6);
  Browser buyer = LogIn("buyer@t.test");
  EXPECT_EQ(Get(edit, buyer).status, 403);  // another user's listing
  r = Submit(edit, {{"action", "withdraw"}}, seller);
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(Sql("SELECT status FROM listings").GetString(0, 0), "withdrawn");
}

TEST_F(PagesTest, HoldCheckoutAndPay) {
  int64_t listing = MakeListing(4);
  Browser buyer = LogIn("buyer@t.test");
  // A buy button posted without this session's token gets a confirmation, not a hold.
  auto r = PostForm("/hold", {{"listing_id", std::to_string(listing)}, {"quantity", "2"}}, buyer);
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find(Es("hold.confirm")), std::string::npos);
  EXPECT_EQ(CsrfOf(r.body), buyer.csrf);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM holds"), 0);
  int64_t hold = HoldVia(buyer, listing, 2);
  EXPECT_EQ(Available(listing), 2);
  auto page = Get("/checkout/" + std::to_string(hold), buyer);
  ASSERT_EQ(page.status, 200) << page.body;
  // 2 × 50,00 € + 10 % fee, formatted for the buyer's locale (es).
  EXPECT_NE(page.body.find("100,00"), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("10,00"), std::string::npos);
  EXPECT_NE(page.body.find("110,00"), std::string::npos);
  EXPECT_NE(page.body.find("Concierto"), std::string::npos);
  EXPECT_NE(page.body.find("<time datetime=\""), std::string::npos);
  EXPECT_TRUE(LabelsEveryInput(page.body));
  // Another buyer cannot see it.
  Browser other = LogIn("buyer2@t.test");
  EXPECT_EQ(Get("/checkout/" + std::to_string(hold), other).status, 404);
  // Pay without the token: refused; with it: the order.
  EXPECT_EQ(
      PostForm("/checkout/" + std::to_string(hold), {{"card_number", "4242424242424242"}}, buyer)
          .status,
      403);
  r = Submit("/checkout/" + std::to_string(hold), {{"card_number", "4242 4242 4242 4242"}}, buyer);
  ASSERT_EQ(r.status, 303) << r.body;
  std::string loc = r.header("location");
  ASSERT_EQ(loc.rfind("/account/orders/", 0), 0u) << loc;
  auto order = Get(loc, buyer);
  ASSERT_EQ(order.status, 200);
  EXPECT_NE(order.body.find("paid"), std::string::npos);
  EXPECT_NE(order.body.find("110,00"), std::string::npos);
  EXPECT_EQ(Get(loc, other).status, 404);
  auto account = Get("/account", buyer);
  EXPECT_NE(account.body.find("href=\"" + loc + "\""), std::string::npos);
  // Paying twice is refused on the page.
  r = Submit("/checkout/" + std::to_string(hold), {{"card_number", "4242424242424242"}}, buyer);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM orders"), 1);
}

TEST_F(PagesTest, DeclinedCardAndExpiredHoldReRenderCheckout) {
  int64_t listing = MakeListing(4);
  Browser buyer = LogIn("buyer@t.test");
  int64_t hold = HoldVia(buyer, listing, 2);
  std::string path = "/checkout/" + std::to_string(hold);
  auto r = Submit(path, {{"card_number", "4000000000000002"}}, buyer);
  EXPECT_EQ(r.status, 402);
  EXPECT_NE(r.body.find(Es("checkout.declined")), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("name=\"card_number\""), std::string::npos);  // pay again
  EXPECT_EQ(Sql("SELECT status FROM holds WHERE id = " + std::to_string(hold)).GetString(0, 0),
            "active");
  EXPECT_EQ(Available(listing), 2);
  r = Submit(path, {{"card_number", "12ab"}}, buyer);
  EXPECT_EQ(r.status, 422);
  // Time passes: the hold expires.
  clock_->Advance(std::chrono::seconds(601));
  r = Submit(path, {{"card_number", "4242424242424242"}}, buyer);
  EXPECT_EQ(r.status, 410);
  EXPECT_NE(r.body.find(Es("checkout.expired")), std::string::npos);
  EXPECT_NE(r.body.find("/hold?listing_id=" + std::to_string(listing)), std::string::npos);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM orders"), 0);
  // Releasing a hold puts the tickets back.
  int64_t again = HoldVia(buyer, listing, 2);
  r = Submit("/checkout/" + std::to_string(again) + "/release", {}, buyer);
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(Available(listing), 4);
  // Market errors of a hold show on the hold page.
  r = Submit("/hold", {{"listing_id", std::to_string(listing)}, {"quantity", "9"}}, buyer);
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("Only 4 tickets are left"), std::string::npos) << r.body;
}

TEST_F(PagesTest, BackofficeIsForAdminsOnly) {
  Browser buyer = LogIn("buyer@t.test");
  for (const char* path :
       {"/admin", "/admin/events", "/admin/sites", "/admin/languages", "/admin/venues",
        "/admin/categories", "/admin/performers", "/admin/exchange-rates", "/admin/events/1"}) {
    auto r = Get(path, buyer);
    EXPECT_EQ(r.status, 403) << path;
    EXPECT_NE(r.body.find(Es("error.admin_only")), std::string::npos);
  }
  auto r = Submit("/admin/languages", {{"code", "fr"}, {"name", "Français"}}, buyer);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM languages WHERE code = 'fr'"), 0);
  r = Submit("/admin/sites/de/languages", {{"code", "en"}}, buyer);
  EXPECT_EQ(r.status, 403);
}

TEST_F(PagesTest, AdminCreatesAndEditsAnEventWithTranslations) {
  Browser admin = LogIn("admin@t.test");
  auto page = Get("/admin/events", admin);
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("Concierto"), std::string::npos);
  // An invalid date: the Market's message, and the form keeps its values.
  FormFields f = {{"venue_id", "1"},       {"category_id", "1"},    {"starts_at", "tomorrow"},
                  {"sites", "es"},         {"sites", "de"},         {"lang", "en"},
                  {"title", "Rock Night"}, {"description", "Loud."}};
  auto r = Submit("/admin/events", f, admin);
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find("starts_at"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("value=\"Rock Night\""), std::string::npos);
  EXPECT_NE(r.body.find("value=\"de\" checked"), std::string::npos);
  f[2].second = "2031-05-01T20:00:00+02:00";
  r = Submit("/admin/events", f, admin);
  ASSERT_EQ(r.status, 303) << r.body;
  std::string loc = r.header("location");
  ASSERT_EQ(loc.rfind("/admin/events/", 0), 0u);
  int64_t id = std::stoll(loc.substr(14));
  EXPECT_EQ(Sql("SELECT title FROM event_translations WHERE event_id = " + std::to_string(id) +
                " AND language_code = 'en'")
                .GetString(0, 0),
            "Rock Night");
  EXPECT_EQ(SqlInt("SELECT count(*) FROM event_sites WHERE event_id = " + std::to_string(id)), 2);
  page = Get(loc, admin);
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find(Es("notice.saved")), std::string::npos);
  EXPECT_NE(page.body.find("value=\"Rock Night\""), std::string::npos);
  // A translation in another language, then cancel the event.
  std::string base = "/admin/events/" + std::to_string(id);
  r = Submit(base + "/translations",
             {{"lang", "es"}, {"title", "Noche de rock"}, {"description", ""}}, admin);
  EXPECT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(Sql("SELECT title FROM event_translations WHERE event_id = " + std::to_string(id) +
                " AND language_code = 'es'")
                .GetString(0, 0),
            "Noche de rock");
  r = Submit(base, {{"starts_at", "2031-05-02T20:00:00+02:00"}, {"status", "cancelled"}}, admin);
  EXPECT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(Sql("SELECT status FROM events WHERE id = " + std::to_string(id)).GetString(0, 0),
            "cancelled");
  r = Submit(base, {{"status", "over"}}, admin);
  EXPECT_EQ(r.status, 422);
  // Search.
  page = Get("/admin/events?q=rock", admin);
  EXPECT_NE(page.body.find("Rock Night"), std::string::npos);
  EXPECT_EQ(page.body.find("Concierto"), std::string::npos);
}

TEST_F(PagesTest, OneClickAddsALanguageToASite) {
  Browser admin = LogIn("admin@t.test");
  auto page = Get("/admin/sites", admin);
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("action=\"/admin/sites/de/languages\""), std::string::npos);
  EXPECT_TRUE(LabelsEveryInput(page.body));
  auto r = Submit("/admin/sites/de/languages", {{"code", "en"}}, admin);
  EXPECT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(r.header("location"), "/admin/sites?notice=saved");
  EXPECT_EQ(SqlInt("SELECT count(*) FROM site_languages WHERE site_code = 'de' AND "
                   "language_code = 'en'"),
            1);
  r = Submit("/admin/sites/de/languages", {{"code", "en"}}, admin);
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("already offers this language"), std::string::npos);
  r = Submit("/admin/sites/xx/languages", {{"code", "en"}}, admin);
  EXPECT_EQ(r.status, 404);
}

TEST_F(PagesTest, AdminCreateFormsCallTheMarket) {
  Browser admin = LogIn("admin@t.test");
  auto r = Submit("/admin/languages", {{"code", "fr"}, {"name", "Français"}}, admin);
  EXPECT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(Sql("SELECT name FROM languages WHERE code = 'fr'").GetString(0, 0), "Français");
  r = Submit("/admin/sites",
             {{"code", "fr"},
              {"name", "Taquilla France"},
              {"country", "FR"},
              {"currency", "EUR"},
              {"timezone", "Europe/Paris"},
              {"default_language", "fr"},
              {"languages", "en"}},
             admin);
  EXPECT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(SqlInt("SELECT count(*) FROM site_languages WHERE site_code = 'fr'"), 2);
  r = Submit("/admin/venues",
             {{"name", "Sala Sol"},
              {"city_id", "1"},
              {"latitude", "40.41"},
              {"longitude", "-3.70"},
              {"timezone", "Europe/Madrid"},
              {"capacity", ""}},
             admin);
  EXPECT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(SqlInt("SELECT count(*) FROM venues WHERE name = 'Sala Sol'"), 1);
  r = Submit("/admin/venues",
             {{"name", "Bad"},
              {"city_id", "1"},
              {"latitude", "40.41"},
              {"longitude", "-3.70"},
              {"timezone", "Mars/Olympus"}},
             admin);
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find("timezone"), std::string::npos);
  r = Submit("/admin/categories", {{"lang", "en"}, {"name", "Jazz"}, {"parent_id", "1"}}, admin);
  EXPECT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(SqlInt("SELECT parent_id FROM categories WHERE slug = 'jazz'"), 1);
  r = Submit("/admin/performers", {{"name", "Los Rockeros"}, {"category_id", "1"}}, admin);
  EXPECT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(SqlInt("SELECT count(*) FROM performers WHERE name = 'Los Rockeros'"), 1);
  r = Submit("/admin/exchange-rates", {{"base", "eur"}, {"quote", "USD"}, {"rate", "1.0823"}},
             admin);
  EXPECT_EQ(r.status, 303) << r.body;
  auto page = Get("/admin/exchange-rates", admin);
  EXPECT_NE(page.body.find("1.0823"), std::string::npos);
  for (const char* path : {"/admin/venues", "/admin/categories", "/admin/performers"}) {
    page = Get(path, admin);
    EXPECT_EQ(page.status, 200) << path;
  }
  EXPECT_NE(Get("/admin/venues", admin).body.find("Sala Sol"), std::string::npos);
  EXPECT_NE(Get("/admin/categories", admin).body.find("Jazz"), std::string::npos);
  EXPECT_NE(Get("/admin/performers", admin).body.find("Los Rockeros"), std::string::npos);
}

TEST_F(PagesTest, UserDataIsEscaped) {
  const std::string xss = "<script>alert(1)</script>";
  const std::string escaped = "&lt;script&gt;alert(1)&lt;/script&gt;";
  Sql("UPDATE users SET display_name = '" + xss + "' WHERE email = 'seller@t.test'");
  Sql("UPDATE event_translations SET title = '" + xss + "\"' WHERE event_id = 1");
  Browser seller = LogIn("seller@t.test");
  for (const char* path : {"/account", "/sell"}) {
    auto page = Get(path, seller);
    ASSERT_EQ(page.status, 200) << path;
    EXPECT_NE(page.body.find(escaped), std::string::npos) << path;
    EXPECT_EQ(page.body.find("<script"), std::string::npos) << path;
  }
  Browser admin = LogIn("admin@t.test");
  for (const char* path : {"/admin/events", "/admin/events/1"}) {
    auto page = Get(path, admin);
    ASSERT_EQ(page.status, 200) << path;
    EXPECT_NE(page.body.find(escaped), std::string::npos) << path;
    EXPECT_EQ(page.body.find("<script"), std::string::npos) << path;
    EXPECT_NE(page.body.find("&quot;"), std::string::npos) << path;  // attributes stay closed
  }
  // Form values echoed back after an error are escaped as well.
  Browser anon;
  auto login = Get("/login", anon);
  anon.pre = SetCookieValue(login, std::string(kPreSessionCsrfCookie));
  auto r = PostForm(
      "/login", {{"email", "\"><script>x</script>"}, {"password", "x"}, {"csrf_token", anon.pre}},
      anon);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body.find("<script"), std::string::npos);
}

TEST_F(PagesTest, EveryPageHasItsLanguageAndLabelsEveryInput) {
  int64_t listing = MakeListing(4);
  Browser buyer = LogIn("buyer@t.test");
  int64_t hold = HoldVia(buyer, listing, 2);
  auto paid =
      Submit("/checkout/" + std::to_string(hold), {{"card_number", "4242424242424242"}}, buyer);
  ASSERT_EQ(paid.status, 303);
  int64_t hold2 = HoldVia(buyer, listing, 2);
  Browser admin = LogIn("admin@t.test");
  Browser seller = LogIn("seller@t.test");
  std::vector<std::pair<std::string, const Browser*>> pages = {
      {"/login", nullptr},
      {"/register", nullptr},
      {"/account", &buyer},
      {"/account", &seller},
      {"/sell", &seller},
      {"/listings/" + std::to_string(listing) + "/edit", &seller},
      {"/hold?listing_id=" + std::to_string(listing) + "&quantity=2", &buyer},
      {"/checkout/" + std::to_string(hold2), &buyer},
      {paid.header("location"), &buyer},
      {"/admin", &admin},
      {"/admin/events", &admin},
      {"/admin/events/1", &admin},
      {"/admin/sites", &admin},
      {"/admin/languages", &admin},
      {"/admin/venues", &admin},
      {"/admin/categories", &admin},
      {"/admin/performers", &admin},
      {"/admin/exchange-rates", &admin}};
  for (const auto& [path, who] : pages) {
    auto r = who ? Get(path, *who) : client_->Get(path);
    ASSERT_EQ(r.status, 200) << path << ": " << r.body;
    // Signed-in users see their locale (es); anonymous visitors English (no Accept-Language).
    EXPECT_NE(
        r.body.find(who ? "<html lang=\"es\" dir=\"ltr\">" : "<html lang=\"en\" dir=\"ltr\">"),
        std::string::npos)
        << path;
    EXPECT_NE(r.body.find("<link rel=\"stylesheet\" href=\"/static/taquilla.css\">"),
              std::string::npos);
    EXPECT_TRUE(LabelsEveryInput(r.body)) << path;
    EXPECT_EQ(r.body.find("{{"), std::string::npos) << path;
    EXPECT_EQ(r.body.find("<script"), std::string::npos) << path;
    // Every message key resolved (a missing one would show as "word.word").
    static const std::regex key(R"(>\s*[a-z_]+\.[a-z_]+\s*<)");
    EXPECT_FALSE(std::regex_search(r.body, key)) << path;
    // Every form posts with a token.
    size_t forms = 0, pos = 0;
    while ((pos = r.body.find("<form method=\"post\"", pos)) != std::string::npos) ++forms, ++pos;
    size_t tokens = 0;
    pos = 0;
    while ((pos = r.body.find("name=\"csrf_token\"", pos)) != std::string::npos) ++tokens, ++pos;
    EXPECT_EQ(forms, tokens) << path;
  }
}

TEST_F(PagesTest, LanguageComesFromTheRequestBeforeLogin) {
  // ?lang= first, then Accept-Language, then English.
  auto r = client_->Get("/login?lang=ar", {{"Accept-Language", "de-DE, de;q=0.9"}});
  EXPECT_NE(r.body.find("<html lang=\"ar\" dir=\"rtl\">"), std::string::npos);
  EXPECT_EQ(r.header("content-language"), "ar");
  r = client_->Get("/login", {{"Accept-Language", "de-DE, de;q=0.9"}});
  EXPECT_NE(r.body.find("<html lang=\"de\" dir=\"ltr\">"), std::string::npos);
  r = client_->Get("/login?lang=xx", {{"Accept-Language", "xx"}});
  EXPECT_NE(r.body.find("<html lang=\"en\" dir=\"ltr\">"), std::string::npos);
}

TEST_F(PagesTest, StylesheetIsCachedWithAnEtag) {
  auto r = client_->Get("/static/taquilla.css");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/css; charset=utf-8");
  EXPECT_NE(r.header("cache-control").find("max-age="), std::string::npos);
  std::string etag = r.header("etag");
  ASSERT_FALSE(etag.empty());
  EXPECT_NE(r.body.find(":focus-visible"), std::string::npos);
  auto again = client_->Get("/static/taquilla.css", {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
}

TEST_F(PagesTest, LogoutEndsTheSession) {
  Browser buyer = LogIn("buyer@t.test");
  EXPECT_EQ(PostForm("/logout", {}, buyer).status, 403);  // no token: still logged in
  EXPECT_EQ(Get("/account", buyer).status, 200);
  auto r = Submit("/logout", {}, buyer);
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(r.header("location"), "/login");
  EXPECT_NE(r.header("set-cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(Get("/account", buyer).status, 303);
}

}  // namespace
}  // namespace taquilla::secure
