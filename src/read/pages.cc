#include "read/pages.h"

#include <boost/url.hpp>
#include <cmath>
#include <mutex>

#include "common/clock.h"
#include "common/log.h"
#include "http/response.h"
#include "i18n/datetime.h"
#include "search/iso_time.h"
#include "search/render.h"
#include "web/render.h"

namespace taquilla::read {

namespace json = boost::json;
namespace bhttp = http::bhttp;
using http::Params;
using http::Request;
using http::Response;

namespace {

std::string Str(const json::value* v) {
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}
std::string Str(const json::object& o, std::string_view key) { return Str(o.if_contains(key)); }

// "{}" placeholders filled in order.
std::string Fill(std::string text, std::initializer_list<std::string> args) {
  size_t at = 0;
  for (const auto& a : args) {
    size_t p = text.find("{}", at);
    if (p == std::string::npos) break;
    text.replace(p, 2, a);
    at = p + a.size();
  }
  return text;
}

// `path` with the query parameters of `params` (empty values left out).
std::string WithQuery(const std::string& path, const std::map<std::string, std::string>& params) {
  boost::urls::url u;
  u.set_path(path);
  for (const auto& [k, v] : params) {
    if (!v.empty()) u.params().append({k, v});
  }
  return std::string(u.buffer());
}

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// The parameter an invalid_parameter message names ("'from' must be ...").
std::string NamedParameter(const std::string& message) {
  auto a = message.find('\'');
  auto b = a == std::string::npos ? a : message.find('\'', a + 1);
  return b == std::string::npos ? std::string() : message.substr(a + 1, b - a - 1);
}

class Pages {
 public:
  explicit Pages(ReadService& s) : s_(s), msgs_(s.messages()) {}

  void Register();

 private:
  std::string T(std::string_view lang, std::string_view key) const { return msgs_.Get(lang, key); }

  const json::object& Catalog(const std::string& lang) {
    std::lock_guard lock(catalog_mu_);
    auto it = catalogs_.find(lang);
    if (it == catalogs_.end()) {
      it = catalogs_.emplace(lang, web::NestedCatalog(msgs_.All(lang))).first;
    }
    return it->second;
  }

  static std::string Base(const Audience& a) { return "/" + a.site->code + "/" + a.lang; }

  // What every page of a site language shows around its content: the catalog, the
  // search box, the language and site switchers and the hreflang alternates of `suffix`
  // (the path after /{site}/{lang}) in the site's other languages.
  json::object Frame(const Audience& a, std::string title, const std::string& suffix,
                     const std::string& q = "") {
    json::object f;
    f["title"] = std::move(title);
    f["lang"] = a.lang;
    f["dir"] = i18n::IsRightToLeft(a.lang) ? "rtl" : "ltr";
    f["t"] = Catalog(msgs_.Match(a.lang).empty() ? "en" : msgs_.Match(a.lang));
    f["site_nav"] = true;
    f["home_url"] = Base(a) + "/";
    f["search_url"] = Base(a) + "/search";
    f["suggest_url"] = "/api/v1/sites/" + a.site->code + "/search?lang=" + a.lang;
    f["q"] = q;
    json::array langs, alternates, sites;
    for (const auto& l : a.site->languages) {
      std::string href = "/" + a.site->code + "/" + l.code + suffix;
      langs.push_back(json::object{{"code", l.code},
                                   {"name", i18n::LanguageName(l.code)},
                                   {"href", href},
                                   {"current", l.code == a.lang}});
      if (a.site->languages.size() > 1) {
        alternates.push_back(json::object{{"hreflang", l.code}, {"href", href}});
      }
    }
    for (const auto& site : a.directory->sites()) {
      sites.push_back(json::object{{"name", site.name},
                                   {"href", "/" + site.code + "/" + site.default_language + "/"},
                                   {"current", site.code == a.site->code}});
    }
    f["languages"] = std::move(langs);
    f["alternates"] = std::move(alternates);
    f["sites"] = std::move(sites);
    f["current_language"] = i18n::LanguageName(a.lang);
    f["current_site"] = a.site->name;
    return f;
  }

  Built Page(bhttp::status status, const std::string& lang, const std::string& page,
             const json::object& data, std::vector<std::string> deps, bool cacheable) {
    auto html = web::RenderPage("read/" + page, data);
    if (!html.ok()) {
      Logger("read")->error("{}", html.error().message);
      Response res{bhttp::status::internal_server_error, 11};
      res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
      res.body() = "Internal error.\n";
      return Built{std::move(res), {}, false};
    }
    Response res{status, 11};
    web::SetHtmlHeaders(res, lang, web::kReadCsp);
    res.body() = std::move(*html);
    return Built{std::move(res), std::move(deps), cacheable};
  }

  // An error page in `lang` (a catalog language), inside the site's frame when there is one.
  Built ErrorPage(bhttp::status status, const std::optional<Audience>& a, std::string lang,
                  const std::string& message) {
    if (msgs_.Match(lang).empty()) lang = "en";
    lang = msgs_.Match(lang);
    const int code = static_cast<int>(status);
    std::string title = T(lang, code == 404   ? "error.404"
                                : code == 400 ? "error.400"
                                : code == 422 ? "error.400"
                                              : "error.other");
    json::object data;
    if (a) {
      Audience shown = *a;
      shown.lang = a->site->Offers(lang) ? lang : a->lang;
      data = Frame(shown, title, "/");
    } else {
      data["title"] = title;
      data["t"] = Catalog(lang);
    }
    data["lang"] = lang;
    data["dir"] = i18n::IsRightToLeft(lang) ? "rtl" : "ltr";
    data["error"] = message;
    Built b = Page(status, lang, "error", data, {}, false);
    if (status == bhttp::status::service_unavailable) b.res.set(bhttp::field::retry_after, "1");
    return b;
  }

  Built ErrorPage(const Error& e, const std::optional<Audience>& a, const std::string& lang) {
    bhttp::status status = http::StatusOf(e);
    if (e.reason == "unknown_site") return ErrorPage(status, a, lang, T(lang, "error.no_site"));
    if (e.reason == "unknown_language") {
      return ErrorPage(status, a, lang, T(lang, "error.no_language"));
    }
    if (e.reason == "invalid_parameter") {
      return ErrorPage(status, a, lang,
                       Fill(T(lang, "error.bad_parameter"), {NamedParameter(e.message)}));
    }
    if (e.code == ErrorCode::kNotFound)
      return ErrorPage(status, a, lang, T(lang, "error.not_found"));
    Logger("read")->warn("page error: {}", e.message);
    return ErrorPage(bhttp::status::service_unavailable, a, lang, T(lang, "error.unavailable"));
  }

  // The audience of /{site}/{lang}/…; on failure, the 404 page in the best language there is
  // (the one asked for if it has a catalog, else the site's, else Accept-Language's).
  std::variant<Audience, Built> AudienceOrError(const Request& req, const Params& p) {
    auto a = s_.AudienceOf(p.path[0], p.path[1]);
    if (a.ok()) return *a;
    std::optional<Audience> site;
    if (a.error().reason == "unknown_language") {
      auto fallback = s_.AudienceOf(p.path[0], "");
      if (fallback.ok()) site = *fallback;
    }
    std::string lang = msgs_.Match(p.path[1]);
    if (lang.empty() && site) lang = site->lang;
    if (lang.empty()) lang = msgs_.Negotiate(req[bhttp::field::accept_language]);
    return ErrorPage(a.error(), site, lang);
  }

  // An EventSummary dressed for a page: date text, "from" price, status.
  void Dress(const Audience& a, json::object& ev) {
    std::string tz = Str(ev, "timezone");
    if (auto t = search::ParseIsoTime(Str(ev, "starts_at"))) {
      ev["date_text"] = i18n::FormatDate(*t, tz, a.locale, i18n::DateStyle::kDateTime);
    }
    if (const auto* mp = ev.if_contains("min_price"); mp != nullptr && mp->is_object()) {
      ev["from_text"] = Fill(T(a.lang, "events.from_price"), {Str(mp->as_object(), "formatted")});
    }
    ev["cancelled"] = Str(ev, "status") == "cancelled";
  }

  json::array Dressed(const Audience& a, json::array items) {
    for (auto& v : items) {
      if (v.is_object()) Dress(a, v.as_object());
    }
    return items;
  }

  // Previous/next links of a list.
  json::value Pager(const Audience& a, const std::string& path,
                    std::map<std::string, std::string> params, int page, int per_page,
                    int64_t total) {
    int64_t pages = std::max<int64_t>(1, (total + per_page - 1) / per_page);
    pages = std::min<int64_t>(pages, search::kMaxPage);
    if (pages <= 1) return nullptr;
    json::object p;
    p["text"] = Fill(T(a.lang, "pager.page"), {std::to_string(page), std::to_string(pages)});
    if (page > 1) {
      params["page"] = page - 1 > 1 ? std::to_string(page - 1) : "";
      p["prev"] = WithQuery(path, params);
    }
    if (page < pages) {
      params["page"] = std::to_string(page + 1);
      p["next"] = WithQuery(path, params);
    }
    return p;
  }

  // The category tree of the audience's site language, and `deps`.
  json::array Categories(const Audience& a, std::vector<std::string>& deps) {
    auto doc =
        LoadDocument(s_.replica(), s_.replica().keys().Categories(a.site->code, a.lang), deps);
    if (!doc.ok() || !*doc || !(*doc)->is_object()) return {};
    const auto* cats = (*doc)->as_object().if_contains("categories");
    return cats != nullptr && cats->is_array() ? cats->as_array() : json::array();
  }

  static const json::object* FindCategory(const json::array& tree, const std::string& slug,
                                          std::optional<int64_t> id = std::nullopt) {
    for (const auto& c : tree) {
      if (!c.is_object()) continue;
      const auto& o = c.as_object();
      if (id ? (o.contains("id") && o.at("id").is_int64() && o.at("id").as_int64() == *id)
             : Str(o, "slug") == slug) {
        return &o;
      }
      if (const auto* ch = o.if_contains("children"); ch != nullptr && ch->is_array()) {
        if (const auto* found = FindCategory(ch->as_array(), slug, id)) return found;
      }
    }
    return nullptr;
  }

  std::string CategoryHref(const Audience& a, const json::object& c) {
    return Base(a) + "/categories/" + Str(c, "slug");
  }

  Built Home(const Request& req, const Params& p);
  Built Event(const Request& req, const Params& p);
  Built Category(const Request& req, const Params& p);
  Built Entity(const Request& req, const Params& p, bool venue);
  Built Search(const Request& req, const Params& p);
  Built Root(const Request& req);
  Built Sitemap(const Request& req, const Params& p);
  Built SitemapIndex(const Request& req);
  // A list page: `facts` rows, `heading`, the events of `q` with a pager.
  Built ListPage(const Audience& a, const Params& p, const std::string& title,
                 const std::string& suffix, json::object extra, ListQuery q,
                 std::vector<std::string> deps);

  ReadService& s_;
  const i18n::Messages& msgs_;
  std::mutex catalog_mu_;
  std::map<std::string, json::object> catalogs_;
};

Built Pages::Home(const Request& req, const Params& p) {
  auto got = AudienceOrError(req, p);
  if (auto* b = std::get_if<Built>(&got)) return std::move(*b);
  const Audience& a = std::get<Audience>(got);
  std::vector<std::string> deps;
  ListQuery q;
  q.per_page = 12;
  auto list = ListEvents(s_.replica(), a, q, UnixSeconds(), deps);
  if (!list.ok()) return ErrorPage(list.error(), a, a.lang);
  json::object data = Frame(a, T(a.lang, "home.title"), "/");
  data["events"] = Dressed(a, std::move(list->items));
  data["has_events"] = !data["events"].as_array().empty();
  data["all_url"] = Base(a) + "/search";
  json::array cats;
  for (const auto& c : Categories(a, deps)) {
    if (!c.is_object()) continue;
    const auto& o = c.as_object();
    json::array children;
    if (const auto* ch = o.if_contains("children"); ch != nullptr && ch->is_array()) {
      for (const auto& k : ch->as_array()) {
        if (k.is_object()) {
          children.push_back(json::object{{"name", Str(k.as_object(), "name")},
                                          {"href", CategoryHref(a, k.as_object())}});
        }
      }
    }
    const bool has = !children.empty();
    cats.push_back(json::object{{"name", Str(o, "name")},
                                {"href", CategoryHref(a, o)},
                                {"children", std::move(children)},
                                {"has_children", has}});
  }
  data["categories"] = std::move(cats);
  return Page(bhttp::status::ok, a.lang, "home", data, std::move(deps), true);
}

Built Pages::Event(const Request& req, const Params& p) {
  auto got = AudienceOrError(req, p);
  if (auto* b = std::get_if<Built>(&got)) return std::move(*b);
  const Audience& a = std::get<Audience>(got);
  const std::string& idslug = p.path[2];
  auto id = ParseId(idslug.substr(0, idslug.find('-')));
  if (!id) return ErrorPage(bhttp::status::not_found, a, a.lang, T(a.lang, "error.no_event"));
  std::vector<std::string> deps;
  auto loaded = LoadEvent(s_.replica(), a, *id, true, deps);
  if (!loaded.ok()) return ErrorPage(loaded.error(), a, a.lang);
  if (!*loaded) {
    Built b = ErrorPage(bhttp::status::not_found, a, a.lang, T(a.lang, "error.no_event"));
    b.deps = std::move(deps);
    b.cacheable = true;  // until the event appears: its keys are watched
    return b;
  }
  json::object ev = std::move(**loaded);
  const std::string url = Str(ev, "url");
  if (!url.empty() && url != Base(a) + "/events/" + idslug) {
    Response res = http::Redirect(url, bhttp::status::moved_permanently);
    return Built{std::move(res), std::move(deps), true};
  }
  Dress(a, ev);
  const std::string status = Str(ev, "status");
  ev["postponed"] = status == "postponed";
  ev["untranslated"] = Str(ev, "title_lang") != a.lang;
  if (const auto* v = ev.if_contains("venue"); v != nullptr && v->is_object()) {
    const auto* vid = v->as_object().if_contains("id");
    if (vid != nullptr && vid->is_int64()) {
      ev["venue_url"] = Base(a) + "/venues/" + std::to_string(vid->as_int64());
    }
  }
  json::array tree = Categories(a, deps);
  if (const auto* c = ev.if_contains("category"); c != nullptr && c->is_object()) {
    const auto* cid = c->as_object().if_contains("id");
    if (cid != nullptr && cid->is_int64()) {
      if (const auto* found = FindCategory(tree, "", cid->as_int64())) {
        ev["category_url"] = CategoryHref(a, *found);
      }
    }
  }
  if (auto* perfs = ev.if_contains("performers"); perfs != nullptr && perfs->is_array()) {
    for (auto& pv : perfs->as_array()) {
      if (!pv.is_object()) continue;
      auto& po = pv.as_object();
      if (const auto* pid = po.if_contains("id"); pid != nullptr && pid->is_int64()) {
        po["href"] = Base(a) + "/performers/" + std::to_string(pid->as_int64());
      }
    }
    ev["has_performers"] = !perfs->as_array().empty();
  }
  bool has_listings = false;
  if (auto* ls = ev.if_contains("listings"); ls != nullptr && ls->is_array()) {
    for (auto& lv : ls->as_array()) {
      if (!lv.is_object()) continue;
      auto& l = lv.as_object();
      has_listings = true;
      const std::string split = Str(l, "split");
      l["split_text"] = T(a.lang, "split." + split);
      l["delivery_text"] = T(a.lang, "delivery." + Str(l, "delivery"));
      auto num = [&](std::string_view k) -> std::optional<int64_t> {
        const auto* v = l.if_contains(k);
        return v != nullptr && v->is_int64() ? std::optional<int64_t>(v->as_int64()) : std::nullopt;
      };
      auto from = num("seat_from"), to = num("seat_to");
      l["seats"] = from && to ? (*from == *to ? std::to_string(*from)
                                              : std::to_string(*from) + "–" + std::to_string(*to))
                   : from     ? std::to_string(*from)
                              : std::string();
      if (const auto* dp = l.if_contains("display_price"); dp != nullptr && dp->is_object()) {
        l["converted_text"] =
            Fill(T(a.lang, "event.converted"), {Str(dp->as_object(), "formatted")});
      }
      // The quantities the seller's split rule allows a buyer to take.
      const int64_t n = num("quantity_available").value_or(0);
      json::array qs;
      for (int64_t k = 1; k <= n && qs.size() < 20; ++k) {
        bool ok = split == "pairs"       ? k % 2 == 0
                  : split == "all"       ? k == n
                  : split == "no_single" ? n - k != 1
                                         : true;
        if (ok) qs.push_back(k);
      }
      l["quantities"] = std::move(qs);
    }
  }
  ev["has_listings"] = has_listings && status != "cancelled";
  const std::string title = Str(ev, "title");
  json::object data = Frame(a, title, "/events/" + idslug);
  // Each language has its own slug: the alternates point at the id, which redirects.
  for (auto* list : {&data["languages"], &data["alternates"]}) {
    for (auto& l : list->as_array()) {
      auto& o = l.as_object();
      std::string href = Str(o, "href");
      o["href"] = href.substr(0, href.rfind('/') + 1) + std::to_string(*id);
    }
  }
  data["event"] = std::move(ev);
  return Page(bhttp::status::ok, a.lang, "event", data, std::move(deps), true);
}

Built Pages::ListPage(const Audience& a, const Params& p, const std::string& title,
                      const std::string& suffix, json::object extra, ListQuery q,
                      std::vector<std::string> deps) {
  auto list = ListEvents(s_.replica(), a, q, UnixSeconds(), deps);
  if (!list.ok()) return ErrorPage(list.error(), a, a.lang);
  json::object data = Frame(a, title, suffix);
  for (auto& kv : extra) data[kv.key()] = kv.value();
  data["events"] = Dressed(a, std::move(list->items));
  data["has_events"] = !data["events"].as_array().empty();
  std::map<std::string, std::string> params;
  if (p.HasQuery("page")) params["page"] = p.Query("page");
  data["pager"] = Pager(a, Base(a) + suffix, params, q.page, q.per_page, list->total);
  return Page(bhttp::status::ok, a.lang, "list", data, std::move(deps), true);
}

Built Pages::Category(const Request& req, const Params& p) {
  auto got = AudienceOrError(req, p);
  if (auto* b = std::get_if<Built>(&got)) return std::move(*b);
  const Audience& a = std::get<Audience>(got);
  auto q = ParseListQuery({{"page", p.Query("page")}});
  if (!q.ok()) return ErrorPage(q.error(), a, a.lang);
  std::vector<std::string> deps;
  json::array tree = Categories(a, deps);
  const json::object* c = FindCategory(tree, p.path[2]);
  if (c == nullptr)
    return ErrorPage(bhttp::status::not_found, a, a.lang, T(a.lang, "error.not_found"));
  const auto* cid = c->if_contains("id");
  if (cid == nullptr || !cid->is_int64()) {
    return ErrorPage(bhttp::status::not_found, a, a.lang, T(a.lang, "error.not_found"));
  }
  q->category = cid->as_int64();
  json::object extra;
  json::array subs;
  if (const auto* ch = c->if_contains("children"); ch != nullptr && ch->is_array()) {
    for (const auto& k : ch->as_array()) {
      if (k.is_object()) {
        subs.push_back(json::object{{"name", Str(k.as_object(), "name")},
                                    {"href", CategoryHref(a, k.as_object())}});
      }
    }
  }
  extra["has_subcategories"] = !subs.empty();
  extra["subcategories"] = std::move(subs);
  extra["heading"] = T(a.lang, "category.upcoming");
  return ListPage(a, p, Str(*c, "name"), "/categories/" + p.path[2], std::move(extra), *q,
                  std::move(deps));
}

Built Pages::Entity(const Request& req, const Params& p, bool venue) {
  auto got = AudienceOrError(req, p);
  if (auto* b = std::get_if<Built>(&got)) return std::move(*b);
  const Audience& a = std::get<Audience>(got);
  auto id = ParseId(p.path[2]);
  if (!id) return ErrorPage(bhttp::status::not_found, a, a.lang, T(a.lang, "error.not_found"));
  auto q = ParseListQuery({{"page", p.Query("page")}});
  if (!q.ok()) return ErrorPage(q.error(), a, a.lang);
  (venue ? q->venue : q->performer) = *id;
  std::vector<std::string> deps;
  const auto& k = s_.replica().keys();
  auto doc =
      LoadDocument(s_.replica(), venue ? k.Venue(a.lang, *id) : k.Performer(a.lang, *id), deps);
  if (!doc.ok()) return ErrorPage(doc.error(), a, a.lang);
  if (!*doc || !(*doc)->is_object()) {
    Built b = ErrorPage(bhttp::status::not_found, a, a.lang, T(a.lang, "error.not_found"));
    b.deps = std::move(deps);
    b.cacheable = true;
    return b;
  }
  const json::object& o = (*doc)->as_object();
  json::array rows;
  if (venue) {
    const std::string address = Str(o, "address");
    if (!address.empty())
      rows.push_back(json::object{{"label", T(a.lang, "venue.address")}, {"value", address}});
    std::string place;
    if (const auto* city = o.if_contains("city"); city != nullptr && city->is_object()) {
      place = Str(city->as_object(), "name");
    }
    if (const auto* country = o.if_contains("country");
        country != nullptr && country->is_object()) {
      place += (place.empty() ? "" : ", ") + Str(country->as_object(), "name");
    }
    rows.push_back(json::object{{"label", T(a.lang, "event.where")}, {"value", place}});
    const auto* lat = o.if_contains("latitude");
    const auto* lon = o.if_contains("longitude");
    if (lat != nullptr && lon != nullptr && lat->is_number() && lon->is_number()) {
      rows.push_back(json::object{
          {"label", T(a.lang, "venue.map")},
          {"value",
           fmt::format("{:.5f}, {:.5f}", lat->to_number<double>(), lon->to_number<double>())},
          {"href",
           fmt::format(
               "https://www.openstreetmap.org/?mlat={:.5f}&mlon={:.5f}#map=16/{:.5f}/{:.5f}",
               lat->to_number<double>(), lon->to_number<double>(), lat->to_number<double>(),
               lon->to_number<double>())}});
    }
  } else if (const auto* cat = o.if_contains("category"); cat != nullptr && cat->is_object()) {
    rows.push_back(json::object{{"label", T(a.lang, "event.category")},
                                {"value", Str(cat->as_object(), "name")}});
  }
  json::object extra{{"facts", json::object{{"rows", std::move(rows)}}},
                     {"heading", T(a.lang, venue ? "venue.upcoming" : "performer.upcoming")}};
  return ListPage(a, p, Str(o, "name"),
                  std::string(venue ? "/venues/" : "/performers/") + std::to_string(*id),
                  std::move(extra), *q, std::move(deps));
}

Built Pages::Search(const Request& req, const Params& p) {
  auto got = AudienceOrError(req, p);
  if (auto* b = std::get_if<Built>(&got)) return std::move(*b);
  const Audience& a = std::get<Audience>(got);
  std::map<std::string, std::string> params;
  for (const char* k : {"q", "from", "to", "category", "available", "sort", "page"}) {
    if (p.HasQuery(k) && !p.Query(k).empty()) params[k] = p.Query(k);
  }
  auto request = search::ParseSearchRequest(params);
  if (!request.ok()) return ErrorPage(request.error(), a, a.lang);
  request->site = a.site->code;
  request->lang = a.lang;
  auto searcher = s_.Searcher();
  if (!searcher.ok()) return ErrorPage(searcher.error(), a, a.lang);
  auto result = (*searcher)->Search(*request, UnixSeconds());
  if (!result.ok()) {
    s_.CountIndexError();
    return ErrorPage(result.error(), a, a.lang);
  }
  json::object answer = search::SearchResultJson(*result, *request, a.locale);
  const std::string q = request->q;
  const std::string path = Base(a) + "/search";
  json::object data =
      Frame(a, q.empty() ? T(a.lang, "search.title") : Fill(T(a.lang, "search.results_for"), {q}),
            "/search", q);
  data["events"] = Dressed(a, answer["items"].as_array());
  data["has_events"] = !data["events"].as_array().empty();
  data["total_text"] = Fill(T(a.lang, "search.total"), {std::to_string(result->total)});
  data["from"] = params.count("from") ? params["from"] : "";
  data["to"] = params.count("to") ? params["to"] : "";
  data["available"] = request->available;
  data["clear_url"] = WithQuery(path, {{"q", q}});
  if (!result->corrected_query.empty()) {
    data["corrected"] = result->corrected_query;
    data["corrected_url"] = WithQuery(path, {{"q", result->corrected_query}});
  }
  std::vector<std::string> deps;
  json::array options;
  std::function<void(const json::array&, int)> walk = [&](const json::array& tree, int depth) {
    for (const auto& c : tree) {
      if (!c.is_object()) continue;
      const auto& o = c.as_object();
      const auto* id = o.if_contains("id");
      if (id == nullptr || !id->is_int64()) continue;
      options.push_back(
          json::object{{"value", id->as_int64()},
                       {"label", std::string(static_cast<size_t>(depth) * 2, ' ') + Str(o, "name")},
                       {"selected", request->category && *request->category == id->as_int64()}});
      if (const auto* ch = o.if_contains("children"); ch != nullptr && ch->is_array()) {
        walk(ch->as_array(), depth + 1);
      }
    }
  };
  walk(Categories(a, deps), 0);
  data["category_options"] = std::move(options);
  const std::string sort = params.count("sort") ? params["sort"] : "";
  json::array sorts;
  for (auto [value, key] :
       {std::pair{"", "search.sort_relevance"}, std::pair{"date", "search.sort_date"},
        std::pair{"price", "search.sort_price"}}) {
    sorts.push_back(
        json::object{{"value", value}, {"label", T(a.lang, key)}, {"selected", sort == value}});
  }
  data["sort_options"] = std::move(sorts);
  json::array cat_facets, month_facets;
  for (const auto& f : result->categories) {
    auto link = params;
    link.erase("page");
    link["category"] = f.key;
    cat_facets.push_back(
        json::object{{"name", f.name}, {"count", f.count}, {"href", WithQuery(path, link)}});
  }
  for (const auto& f : result->months) {
    auto link = params;
    link.erase("page");
    link["from"] = f.key + "-01";
    // The month's last day: the day before the next month's first.
    int y = std::stoi(f.key.substr(0, 4)), m = std::stoi(f.key.substr(5, 2));
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int last = kDays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 1 : 0);
    link["to"] = fmt::format("{}-{:02d}", f.key, last);
    month_facets.push_back(json::object{{"name", i18n::FormatYearMonth(f.key, a.locale)},
                                        {"count", f.count},
                                        {"href", WithQuery(path, link)}});
  }
  data["has_facets"] = !cat_facets.empty() || !month_facets.empty();
  data["category_facets"] = std::move(cat_facets);
  data["month_facets"] = std::move(month_facets);
  params.erase("page");
  data["pager"] = Pager(a, path, params, request->page, request->per_page, result->total);
  Built b = Page(bhttp::status::ok, a.lang, "search", data, {}, false);
  b.res.set(bhttp::field::cache_control, "public, max-age=0, must-revalidate");
  return b;
}

Built Pages::Root(const Request& req) {
  auto dir = s_.replica().Sites();
  if (!dir.ok() || (*dir)->sites().empty()) {
    return ErrorPage(bhttp::status::service_unavailable, std::nullopt,
                     msgs_.Negotiate(req[bhttp::field::accept_language]),
                     T(msgs_.Negotiate(req[bhttp::field::accept_language]), "error.unavailable"));
  }
  // Accept-Language ranges by preference: a region picks that country's site ("es-MX"),
  // a language the site whose default it is (the one named like it first), then any site
  // that offers it.
  struct Range {
    std::string tag;
    double q;
  };
  std::vector<Range> ranges;
  std::string_view header = req[bhttp::field::accept_language];
  while (!header.empty()) {
    auto comma = header.find(',');
    std::string item(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    item.erase(std::remove(item.begin(), item.end(), ' '), item.end());
    double q = 1;
    if (auto semi = item.find(';'); semi != std::string::npos) {
      if (item.compare(semi + 1, 2, "q=") == 0) q = std::atof(item.c_str() + semi + 3);
      item.resize(semi);
    }
    if (!item.empty() && item != "*" && q > 0) ranges.push_back({item, q});
  }
  std::stable_sort(ranges.begin(), ranges.end(),
                   [](const Range& x, const Range& y) { return x.q > y.q; });
  auto lower = [](std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  const auto& sites = (*dir)->sites();
  auto offered = [](const Site& s, const std::string& tag) -> std::string {
    for (const auto& l : s.languages) {
      if (strcasecmp(l.code.c_str(), tag.c_str()) == 0) return l.code;
    }
    std::string base = tag.substr(0, tag.find('-'));
    for (const auto& l : s.languages) {
      if (strcasecmp(l.code.c_str(), base.c_str()) == 0) return l.code;
    }
    return "";
  };
  std::string site, lang;
  for (const auto& r : ranges) {
    auto dash = r.tag.find('-');
    if (dash != std::string::npos) {
      std::string region = lower(r.tag.substr(dash + 1));
      if (const Site* s = (*dir)->Find(region); s != nullptr && !offered(*s, r.tag).empty()) {
        site = s->code;
        lang = offered(*s, r.tag);
        break;
      }
    }
    std::string base = lower(r.tag.substr(0, dash));
    const Site* best = nullptr;
    for (const auto& s : sites) {
      if (strcasecmp(s.default_language.c_str(), r.tag.c_str()) != 0 &&
          strcasecmp(s.default_language.c_str(), base.c_str()) != 0) {
        continue;
      }
      if (best == nullptr || s.code == base) best = &s;
    }
    if (best == nullptr) {
      for (const auto& s : sites) {
        if (!offered(s, r.tag).empty()) {
          best = &s;
          break;
        }
      }
    }
    if (best != nullptr) {
      site = best->code;
      lang = offered(*best, r.tag);
      break;
    }
  }
  if (site.empty()) {
    const Site* fallback = (*dir)->Find("us");
    if (fallback == nullptr) fallback = &sites.front();
    site = fallback->code;
    lang = fallback->default_language;
  }
  Response res = http::Redirect("/" + site + "/" + lang + "/", bhttp::status::found);
  res.set(bhttp::field::vary, "Accept-Language");
  res.set(bhttp::field::cache_control, "no-cache");
  return Built{std::move(res), {}, false};
}

Built Pages::Sitemap(const Request& req, const Params& p) {
  auto a = s_.AudienceOf(p.path[0], "");
  if (!a.ok()) return ErrorPage(a.error(), std::nullopt, "en");
  const std::string host = "http://" + std::string(req[bhttp::field::host]);
  auto ids = s_.replica().Run1({"ZRANGE", s_.replica().keys().ByDate(a->site->code), "0", "49999"});
  if (!ids.ok()) return ErrorPage(ids.error(), *a, a->lang);
  std::string xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\" "
      "xmlns:xhtml=\"http://www.w3.org/1999/xhtml\">\n";

  for (const auto& l : a->site->languages) {
    xml += "<url><loc>" + XmlEscape(host + "/" + a->site->code + "/" + l.code + "/") +
           "</loc></url>\n";
  }
  // Each event in every site language, by its canonical URL, in batches of one round trip.
  const size_t n = ids->size();
  for (size_t start = 0; start < n; start += 500) {
    std::vector<std::vector<std::string>> gets;
    for (size_t i = start; i < std::min(n, start + 500); ++i) {
      auto id = ParseId((*ids)[i].str());
      if (!id) continue;
      for (const auto& l : a->site->languages) {
        gets.push_back({"GET", s_.replica().keys().Event(a->site->code, l.code, *id)});
      }
    }
    auto docs = s_.replica().Run(gets);
    if (!docs.ok()) return ErrorPage(docs.error(), *a, a->lang);
    for (const auto& d : *docs) {
      if (!d.IsString()) continue;
      boost::system::error_code ec;
      json::value v = json::parse(d.str(), ec);
      if (ec || !v.is_object()) continue;
      const std::string url = Str(v.as_object(), "url");
      if (!url.empty()) xml += "<url><loc>" + XmlEscape(host + url) + "</loc></url>\n";
    }
  }
  xml += "</urlset>\n";
  Response res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, "application/xml; charset=utf-8");
  res.set(bhttp::field::cache_control, "public, max-age=600");
  res.body() = std::move(xml);
  return Built{std::move(res), {}, false};
}

Built Pages::SitemapIndex(const Request& req) {
  auto dir = s_.replica().Sites();
  if (!dir.ok()) return ErrorPage(dir.error(), std::nullopt, "en");
  const std::string host = "http://" + std::string(req[bhttp::field::host]);
  std::string xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n";
  for (const auto& s : (*dir)->sites()) {
    xml +=
        "<sitemap><loc>" + XmlEscape(host + "/" + s.code + "/sitemap.xml") + "</loc></sitemap>\n";
  }
  xml += "</sitemapindex>\n";
  Response res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, "application/xml; charset=utf-8");
  res.set(bhttp::field::cache_control, "public, max-age=600");
  res.body() = std::move(xml);
  // Not cached: it names the Host the request came with.
  return Built{std::move(res), {}, false};
}

Built Static(std::string_view path, std::string_view type) {
  Response res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, type);
  res.set(bhttp::field::cache_control, "public, max-age=3600");
  res.set("X-Content-Type-Options", "nosniff");
  res.body() = std::string(web::Embedded(path));
  return Built{std::move(res), {}, true};
}

void Pages::Register() {
  s_.Route("sitemap", "/{site}/sitemap.xml",
           [this](const Request& req, const Params& p) { return Sitemap(req, p); });
  s_.Route("sitemap", "/sitemap.xml",
           [this](const Request& req, const Params&) { return SitemapIndex(req); });
  s_.Route("static", "/robots.txt", [](const Request& req, const Params&) {
    Response res{bhttp::status::ok, 11};
    res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
    res.set(bhttp::field::cache_control, "public, max-age=3600");
    res.body() =
        "User-agent: *\nDisallow: /checkout\nDisallow: /account\nDisallow: /admin\n"
        "Sitemap: http://" +
        std::string(req[bhttp::field::host]) + "/sitemap.xml\n";
    return Built{std::move(res), {}, false};
  });
  s_.Route("static", "/static/taquilla.css", [](const Request&, const Params&) {
    return Static(web::kCssPath, "text/css; charset=utf-8");
  });
  s_.Route("static", "/static/search.js", [](const Request&, const Params&) {
    return Static("static/search.js", "text/javascript; charset=utf-8");
  });
  s_.Route("page_root", "/", [this](const Request& req, const Params&) { return Root(req); });
  s_.Route("page_home", "/{site}/{lang}/",
           [this](const Request& req, const Params& p) { return Home(req, p); });
  s_.Route("page_home", "/{site}/{lang}", [](const Request& req, const Params&) {
    std::string target(req.target());
    auto q = target.find('?');
    std::string to = target.substr(0, q) + "/" + (q == std::string::npos ? "" : target.substr(q));
    return Built{http::Redirect(to, bhttp::status::moved_permanently), {}, true};
  });
  s_.Route("page_event", "/{site}/{lang}/events/{id}",
           [this](const Request& req, const Params& p) { return Event(req, p); });
  s_.Route("page_category", "/{site}/{lang}/categories/{slug}",
           [this](const Request& req, const Params& p) { return Category(req, p); });
  s_.Route("page_venue", "/{site}/{lang}/venues/{id}",
           [this](const Request& req, const Params& p) { return Entity(req, p, true); });
  s_.Route("page_performer", "/{site}/{lang}/performers/{id}",
           [this](const Request& req, const Params& p) { return Entity(req, p, false); });
  s_.Route("page_search", "/{site}/{lang}/search",
           [this](const Request& req, const Params& p) { return Search(req, p); });
  s_.NotFound([this](const Request& req, const Params& p) {
    std::string_view target = req.target();
    if (target.substr(0, 5) == "/api/") {
      return Built{http::ErrorResponse(bhttp::status::not_found, "not_found",
                                       "There is nothing at this path."),
                   {},
                   false};
    }
    // /{site}/{lang}/anything: the 404 in that site language when there is one.
    boost::urls::result<boost::urls::url_view> u = boost::urls::parse_origin_form(target);
    std::vector<std::string> segs;
    if (u) {
      for (auto seg : u->segments()) segs.push_back(std::string(seg));
    }
    std::optional<Audience> a;
    std::string lang;
    if (segs.size() >= 2) {
      auto got = s_.AudienceOf(segs[0], segs[1]);
      if (got.ok()) {
        a = *got;
        lang = got->lang;
      } else if (auto site = s_.AudienceOf(segs[0], ""); site.ok()) {
        a = *site;
        lang = msgs_.Match(segs[1]).empty() ? site->lang : msgs_.Match(segs[1]);
      }
    }
    if (lang.empty()) lang = msgs_.Negotiate(req[bhttp::field::accept_language]);
    (void)p;
    return ErrorPage(bhttp::status::not_found, a, lang, T(lang, "error.not_found"));
  });
}

}  // namespace

void AddPages(ReadService& service) {
  auto pages = std::make_shared<Pages>(service);
  pages->Register();
  service.Keep(pages);
}

}  // namespace taquilla::read
