// The backoffice half of Market: catalog and site management for admins.
#include <regex>

#include "db/pg.h"
#include "http/json_input.h"
#include "secure/db_errors.h"
#include "secure/market.h"
#include "secure/sql.h"
#include "seed/text.h"

namespace taquilla::secure {

using db::Param;
using db::PgResult;

namespace {

Error Invalid(std::string_view field, std::string_view problem) {
  return http::InvalidField(field, problem);
}

bool IsLanguageCode(const std::string& s) {
  static const std::regex re(R"(^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$)");
  return s.size() <= 20 && std::regex_match(s, re);
}

std::string Slug(const std::string& text, const std::string& fallback) {
  std::string s = seed::Slugify(text, 120);
  return s.empty() ? fallback : s;
}

// Reads {lang: {field: …}} translations; `fields` lists the string fields and limits.
struct Translation {
  std::string lang, title, description;
};

Result<std::vector<Translation>> ReadTranslations(const json::object* obj,
                                                  std::string_view title_field, size_t max_title,
                                                  bool with_description) {
  std::vector<Translation> out;
  if (!obj) return out;
  for (const auto& kv : *obj) {
    std::string lang(kv.key());
    if (!IsLanguageCode(lang)) {
      return Invalid(fmt::format("translations.{}", lang), "is not a BCP 47 language code");
    }
    if (!kv.value().is_object()) {
      return Invalid(fmt::format("translations.{}", lang), "must be an object");
    }
    http::Fields f(kv.value().as_object(), "translations." + lang);
    Translation t;
    t.lang = lang;
    t.title = f.Str(title_field, 1, max_title);
    if (with_description) t.description = f.OptStr("description", 0, 20000).value_or("");
    TQ_RETURN_IF_ERROR(f.Finish());
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<int64_t> ReadIds(http::Fields& f, std::string_view name, bool required) {
  std::vector<int64_t> ids;
  const json::array* a = f.Array(name, required);
  if (!a) return ids;
  for (const auto& v : *a) {
    if (v.is_int64() && v.as_int64() > 0) {
      ids.push_back(v.as_int64());
    } else {
      f.Fail(name, "must be a list of ids");
      break;
    }
  }
  return ids;
}

std::vector<std::string> ReadStrings(http::Fields& f, std::string_view name, bool required) {
  std::vector<std::string> out;
  const json::array* a = f.Array(name, required);
  if (!a) return out;
  for (const auto& v : *a) {
    if (v.is_string() && v.as_string().size() <= 20) {
      out.emplace_back(v.as_string());
    } else {
      f.Fail(name, "must be a list of codes");
      break;
    }
  }
  return out;
}

Status TxOrError(db::Connection& c, const std::function<Status(db::Connection&)>& fn) {
  Status s = db::InTransaction(c, fn);
  if (!s.ok()) return ApiErrorOf(s.error());
  return Ok();
}

}  // namespace

Result<json::object> Market::AdminCreateLanguage(const json::object& body) {
  http::Fields f(body);
  std::string code = f.Str("code", 2, 20);
  std::string name = f.Str("name", 1, 100);
  std::string dir = f.Enum("direction", {"ltr", "rtl"}, "ltr");
  TQ_RETURN_IF_ERROR(f.Finish());
  if (!IsLanguageCode(code)) return Invalid("code", "is not a BCP 47 language code (es, pt-BR)");
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(auto r, Query(c,
                                    "INSERT INTO languages (code, name, direction, created_at) "
                                    "VALUES ($1, $2, $3, $4) RETURNING code, name, direction",
                                    {code, name, dir, Now()}));
  json::object o;
  o["code"] = r.GetString(0, 0);
  o["name"] = r.GetString(0, 1);
  o["direction"] = r.GetString(0, 2);
  return o;
}

Result<json::object> Market::AdminListLanguages() {
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(auto r,
                      Query(c, "SELECT code, name, direction FROM languages ORDER BY code", {}));
  json::array items;
  for (int i = 0; i < r.rows(); ++i) {
    json::object o;
    o["code"] = r.GetString(i, 0);
    o["name"] = r.GetString(i, 1);
    o["direction"] = r.GetString(i, 2);
    items.push_back(std::move(o));
  }
  json::object out;
  out["languages"] = std::move(items);
  return out;
}

namespace {

constexpr const char* kSiteSql =
    "SELECT s.code, s.name, s.country, s.currency, s.timezone, s.default_language, "
    "coalesce((SELECT json_agg(sl.language_code ORDER BY sl.position, sl.language_code) FROM "
    "site_languages sl WHERE sl.site_code = s.code), '[]'), s.active FROM sites s";

json::object SiteJson(const PgResult& r, int i) {
  json::object o;
  o["code"] = r.GetString(i, 0);
  o["name"] = r.GetString(i, 1);
  o["country"] = r.GetString(i, 2);
  o["currency"] = r.GetString(i, 3);
  o["timezone"] = r.GetString(i, 4);
  o["default_language"] = r.GetString(i, 5);
  o["languages"] = json::parse(r.Get(i, 6));
  o["active"] = r.Get(i, 7) == "t";
  return o;
}

}  // namespace

Result<json::object> Market::AdminListSites() {
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(auto r, Query(c, std::string(kSiteSql) + " ORDER BY s.code", {}));
  json::array items;
  for (int i = 0; i < r.rows(); ++i) items.push_back(SiteJson(r, i));
  json::object out;
  out["sites"] = std::move(items);
  return out;
}

Result<json::object> Market::AdminCreateSite(const json::object& body) {
  http::Fields f(body);
  std::string code = f.Str("code", 2, 2);
  std::string name = f.Str("name", 1, 200);
  std::string country = f.Str("country", 2, 2);
  std::string currency = f.Str("currency", 3, 3);
  std::string timezone = f.Str("timezone", 1, 64);
  std::string default_language = f.Str("default_language", 2, 20);
  std::vector<std::string> languages = ReadStrings(f, "languages", true);
  TQ_RETURN_IF_ERROR(f.Finish());
  static const std::regex lower2("^[a-z]{2}$"), upper2("^[A-Z]{2}$"), upper3("^[A-Z]{3}$");
  if (!std::regex_match(code, lower2)) return Invalid("code", "must be two lower-case letters");
  if (!std::regex_match(country, upper2)) {
    return Invalid("country", "must be an ISO 3166-1 alpha-2 code (ES)");
  }
  if (code != seed::Slugify(country)) return Invalid("code", "must be the country in lower case");
  if (!std::regex_match(currency, upper3)) return Invalid("currency", "must be an ISO 4217 code");
  if (languages.empty()) return Invalid("languages", "must name at least one language");
  if (std::find(languages.begin(), languages.end(), default_language) == languages.end()) {
    return Invalid("default_language", "must be one of languages");
  }
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(auto tz, Query(c, "SELECT tq_valid_timezone($1)", {timezone}));
  if (tz.Get(0, 0) != "t") return Invalid("timezone", "is not an IANA time zone");
  TQ_ASSIGN_OR_RETURN(auto cur, Query(c, "SELECT 1 FROM currencies WHERE code = $1", {currency}));
  if (cur.rows() == 0) return Invalid("currency", "is not a currency Taquilla knows");
  for (const auto& l : languages) {
    TQ_ASSIGN_OR_RETURN(auto lr, Query(c, "SELECT 1 FROM languages WHERE code = $1", {l}));
    if (lr.rows() == 0) return Invalid("languages", fmt::format("names unknown language {}", l));
  }
  PgResult out;
  TQ_RETURN_IF_ERROR(TxOrError(c, [&](db::Connection& tx) -> Status {
    TQ_RETURN_IF_ERROR(tx.ExecParams(
        "INSERT INTO countries (code) VALUES ($1) ON CONFLICT DO NOTHING", {country}));
    TQ_RETURN_IF_ERROR(tx.ExecParams(
        "INSERT INTO sites (code, name, country, default_language, currency, timezone, "
        "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        {code, name, country, default_language, currency, timezone, Now()}));
    for (size_t i = 0; i < languages.size(); ++i) {
      TQ_RETURN_IF_ERROR(tx.ExecParams(
          "INSERT INTO site_languages (site_code, language_code, position, created_at) VALUES "
          "($1, $2, $3, $4)",
          {code, languages[i], P(static_cast<int64_t>(i)), Now()}));
    }
    TQ_ASSIGN_OR_RETURN(out, tx.ExecParams(std::string(kSiteSql) + " WHERE s.code = $1", {code}));
    return Ok();
  }));
  return SiteJson(out, 0);
}

Result<json::object> Market::AdminAddSiteLanguage(const std::string& site,
                                                  const json::object& body) {
  http::Fields f(body);
  std::string code = f.Str("code", 2, 20);
  TQ_RETURN_IF_ERROR(f.Finish());
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(auto s, Query(c, "SELECT 1 FROM sites WHERE code = $1", {site}));
  if (s.rows() == 0) return MakeReason(ErrorCode::kNotFound, "not_found", "No such site.");
  TQ_ASSIGN_OR_RETURN(auto l, Query(c, "SELECT 1 FROM languages WHERE code = $1", {code}));
  if (l.rows() == 0) return Invalid("code", "is not a language Taquilla offers; create it first");
  TQ_ASSIGN_OR_RETURN(
      auto ins, Query(c,
                      "INSERT INTO site_languages (site_code, language_code, position, created_at) "
                      "SELECT $1, $2, coalesce(max(position) + 1, 0), $3 FROM site_languages WHERE "
                      "site_code = $1 ON CONFLICT DO NOTHING RETURNING 1",
                      {site, code, Now()}));
  if (ins.rows() == 0) {
    return MakeReason(ErrorCode::kAlreadyExists, "already_exists",
                      "The site already offers this language.");
  }
  TQ_ASSIGN_OR_RETURN(auto r, Query(c, std::string(kSiteSql) + " WHERE s.code = $1", {site}));
  return SiteJson(r, 0);
}

Result<json::object> Market::AdminCreateVenue(const json::object& body) {
  http::Fields f(body);
  std::string name = f.Str("name", 1, 200);
  int64_t city_id = f.Int("city_id", 1, INT64_MAX);
  std::string address = f.OptStr("address", 0, 500).value_or("");
  double lat = f.Double("latitude", -90, 90);
  double lon = f.Double("longitude", -180, 180);
  std::string timezone = f.Str("timezone", 1, 64);
  auto capacity = f.OptInt("capacity", 1, 10'000'000);
  TQ_RETURN_IF_ERROR(f.Finish());
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(auto tz, Query(c, "SELECT tq_valid_timezone($1)", {timezone}));
  if (tz.Get(0, 0) != "t") return Invalid("timezone", "is not an IANA time zone");
  TQ_ASSIGN_OR_RETURN(auto city, Query(c, "SELECT 1 FROM cities WHERE id = $1", {P(city_id)}));
  if (city.rows() == 0) return Invalid("city_id", "is not a city");
  TQ_ASSIGN_OR_RETURN(
      auto r,
      Query(c,
            "INSERT INTO venues (name, slug, city_id, address, latitude, longitude, timezone, "
            "capacity, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) "
            "RETURNING id, name, slug, city_id, address, latitude, longitude, timezone, "
            "capacity",
            {name, Slug(name, "venue"), P(city_id), address, P(std::optional(lat)),
             P(std::optional(lon)), timezone, P(capacity), Now()}));
  json::object o;
  o["id"] = r.GetInt(0, 0);
  o["name"] = r.GetString(0, 1);
  o["slug"] = r.GetString(0, 2);
  o["city_id"] = r.GetInt(0, 3);
  o["address"] = r.GetString(0, 4);
  o["latitude"] = std::stod(r.GetString(0, 5));
  o["longitude"] = std::stod(r.GetString(0, 6));
  o["timezone"] = r.GetString(0, 7);
  o["capacity"] = r.IsNull(0, 8) ? json::value(nullptr) : json::value(r.GetInt(0, 8));
  return o;
}

Result<json::object> Market::AdminCreateCategory(const json::object& body) {
  http::Fields f(body);
  auto parent = f.OptInt("parent_id", 1, INT64_MAX);
  auto slug = f.OptStr("slug", 1, 200);
  auto position = f.OptInt("position", 0, 1'000'000).value_or(0);
  const json::object* tr = f.Object("translations");
  TQ_RETURN_IF_ERROR(f.Finish());
  TQ_ASSIGN_OR_RETURN(auto translations, ReadTranslations(tr, "name", 200, false));
  if (translations.empty()) return Invalid("translations", "must have at least one language");
  std::string base = slug.value_or("");
  if (base.empty()) {
    for (const auto& t : translations) {
      if (t.lang == "en") base = Slug(t.title, "");
    }
    if (base.empty()) base = Slug(translations.front().title, "category");
  } else if (Slug(base, "") != base) {
    return Invalid("slug", "must be lower-case letters, digits and dashes");
  }
  TQ_LEASE(c);
  if (parent) {
    TQ_ASSIGN_OR_RETURN(auto p, Query(c, "SELECT 1 FROM categories WHERE id = $1", {P(parent)}));
    if (p.rows() == 0) return Invalid("parent_id", "is not a category");
  }
  int64_t id = 0;
  TQ_RETURN_IF_ERROR(TxOrError(c, [&](db::Connection& tx) -> Status {
    TQ_ASSIGN_OR_RETURN(auto r, tx.ExecParams("INSERT INTO categories (parent_id, slug, position, "
                                              "created_at, updated_at) VALUES ($1, $2, $3, $4, "
                                              "$4) RETURNING id",
                                              {P(parent), base, P(position), Now()}));
    id = r.GetInt(0, 0);
    for (const auto& t : translations) {
      TQ_RETURN_IF_ERROR(tx.ExecParams(
          "INSERT INTO category_translations (category_id, language_code, name, slug) VALUES "
          "($1, $2, $3, $4)",
          {P(id), t.lang, t.title, Slug(t.title, base)}));
    }
    return Ok();
  }));
  json::object o;
  o["id"] = id;
  o["parent_id"] = parent ? json::value(*parent) : json::value(nullptr);
  o["slug"] = base;
  o["position"] = position;
  json::object names;
  for (const auto& t : translations) names[t.lang] = json::object{{"name", t.title}};
  o["translations"] = std::move(names);
  return o;
}

Result<json::object> Market::AdminCreatePerformer(const json::object& body) {
  http::Fields f(body);
  std::string name = f.Str("name", 1, 200);
  auto category = f.OptInt("category_id", 1, INT64_MAX);
  TQ_RETURN_IF_ERROR(f.Finish());
  TQ_LEASE(c);
  if (category) {
    TQ_ASSIGN_OR_RETURN(auto p, Query(c, "SELECT 1 FROM categories WHERE id = $1", {P(category)}));
    if (p.rows() == 0) return Invalid("category_id", "is not a category");
  }
  TQ_ASSIGN_OR_RETURN(auto r, Query(c,
                                    "INSERT INTO performers (name, slug, category_id, created_at, "
                                    "updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id, slug",
                                    {name, Slug(name, "performer"), P(category), Now()}));
  json::object o;
  o["id"] = r.GetInt(0, 0);
  o["name"] = name;
  o["slug"] = r.GetString(0, 1);
  o["category_id"] = category ? json::value(*category) : json::value(nullptr);
  return o;
}

Result<json::object> Market::AdminGetEvent(int64_t id) {
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(
      auto r,
      Query(c,
            "SELECT e.id, e.venue_id, e.category_id, tq_iso(e.starts_at), tq_iso(e.ends_at), "
            "e.status, tq_iso(e.created_at), tq_iso(e.updated_at), "
            "coalesce((SELECT json_agg(site_code ORDER BY site_code) FROM event_sites WHERE "
            "event_id = e.id), '[]'), "
            "coalesce((SELECT json_agg(performer_id ORDER BY position) FROM event_performers WHERE "
            "event_id = e.id), '[]'), "
            "coalesce((SELECT json_object_agg(language_code, json_build_object('title', title, "
            "'description', description, 'slug', slug)) FROM event_translations WHERE event_id = "
            "e.id), '{}') FROM events e WHERE e.id = $1",
            {P(id)}));
  if (r.rows() == 0) return MakeReason(ErrorCode::kNotFound, "not_found", "No such event.");
  json::object o;
  o["id"] = r.GetInt(0, 0);
  o["venue_id"] = r.GetInt(0, 1);
  o["category_id"] = r.GetInt(0, 2);
  o["starts_at"] = r.GetString(0, 3);
  o["ends_at"] = r.IsNull(0, 4) ? json::value(nullptr) : json::value(r.GetString(0, 4));
  o["status"] = r.GetString(0, 5);
  o["created_at"] = r.GetString(0, 6);
  o["updated_at"] = r.GetString(0, 7);
  o["sites"] = json::parse(r.Get(0, 8));
  o["performer_ids"] = json::parse(r.Get(0, 9));
  o["translations"] = json::parse(r.Get(0, 10));
  return o;
}

Result<json::object> Market::AdminListEvents(const std::string& q, const Page& page) {
  TQ_LEASE(c);
  std::string pattern;
  for (char ch : q) {
    if (ch == '%' || ch == '_' || ch == '\\') pattern += '\\';
    pattern += ch;
  }
  TQ_ASSIGN_OR_RETURN(
      auto r,
      Query(c,
            "SELECT e.id, tq_iso(e.starts_at), e.status, coalesce((SELECT title FROM "
            "event_translations t WHERE t.event_id = e.id ORDER BY t.language_code <> 'en', "
            "t.language_code LIMIT 1), ''), count(*) OVER () FROM events e WHERE $1 = '' OR "
            "EXISTS (SELECT 1 FROM event_translations t WHERE t.event_id = e.id AND t.title "
            "ILIKE '%' || $1 || '%') ORDER BY e.starts_at DESC, e.id DESC LIMIT $2 OFFSET $3",
            {pattern, P(page.per_page), P((page.page - 1) * page.per_page)}));
  json::array items;
  for (int i = 0; i < r.rows(); ++i) {
    json::object o;
    o["id"] = r.GetInt(i, 0);
    o["starts_at"] = r.GetString(i, 1);
    o["status"] = r.GetString(i, 2);
    o["title"] = r.GetString(i, 3);
    items.push_back(std::move(o));
  }
  TQ_ASSIGN_OR_RETURN(int64_t total,
                      TotalOf(c, r, 4, page,
                              "SELECT count(*) FROM events e WHERE $1 = '' OR EXISTS (SELECT 1 "
                              "FROM event_translations t WHERE t.event_id = e.id AND t.title "
                              "ILIKE '%' || $1 || '%')",
                              {pattern}));
  return PageOf(std::move(items), page, total);
}

namespace {

struct EventFields {
  std::optional<int64_t> venue_id, category_id;
  std::optional<std::string> starts_at, ends_at, status;
  bool set_ends_at = false;
  std::optional<std::vector<int64_t>> performer_ids;
  std::optional<std::vector<std::string>> sites;
};

Status ReadEventFields(http::Fields& f, bool create, EventFields& e) {
  e.venue_id =
      create ? std::optional(f.Int("venue_id", 1, INT64_MAX)) : f.OptInt("venue_id", 1, INT64_MAX);
  e.category_id = create ? std::optional(f.Int("category_id", 1, INT64_MAX))
                         : f.OptInt("category_id", 1, INT64_MAX);
  e.starts_at = create ? std::optional(f.Str("starts_at", 1, 40)) : f.OptStr("starts_at", 1, 40);
  e.set_ends_at = f.Present("ends_at");
  e.ends_at = f.OptStr("ends_at", 1, 40);
  if (f.Has("status")) e.status = f.Enum("status", {"scheduled", "cancelled", "postponed"});
  f.Allow("status");
  if (create || f.Has("performer_ids")) e.performer_ids = ReadIds(f, "performer_ids", false);
  if (create || f.Has("sites")) e.sites = ReadStrings(f, "sites", create);
  if (e.starts_at && !f.failed() && !IsIsoDateTime(*e.starts_at)) {
    f.Fail("starts_at", "must be an ISO 8601 date-time with offset (2026-05-01T20:00:00+02:00)");
  }
  if (e.ends_at && !f.failed() && !IsIsoDateTime(*e.ends_at)) {
    f.Fail("ends_at", "must be an ISO 8601 date-time with offset");
  }
  if (e.sites && create && e.sites->empty() && !f.failed()) {
    f.Fail("sites", "must name at least one site");
  }
  return Ok();
}

Status WriteEventLinks(db::Connection& tx, int64_t id, const EventFields& e) {
  if (e.sites) {
    TQ_RETURN_IF_ERROR(tx.ExecParams("DELETE FROM event_sites WHERE event_id = $1", {P(id)}));
    for (const auto& s : *e.sites) {
      TQ_RETURN_IF_ERROR(tx.ExecParams(
          "INSERT INTO event_sites (event_id, site_code) VALUES ($1, $2) ON CONFLICT DO NOTHING",
          {P(id), s}));
    }
  }
  if (e.performer_ids) {
    TQ_RETURN_IF_ERROR(tx.ExecParams("DELETE FROM event_performers WHERE event_id = $1", {P(id)}));
    for (size_t i = 0; i < e.performer_ids->size(); ++i) {
      TQ_RETURN_IF_ERROR(tx.ExecParams(
          "INSERT INTO event_performers (event_id, performer_id, position) VALUES ($1, $2, $3) "
          "ON CONFLICT DO NOTHING",
          {P(id), P((*e.performer_ids)[i]), P(static_cast<int64_t>(i))}));
    }
  }
  return Ok();
}

}  // namespace

Result<json::object> Market::AdminCreateEvent(const json::object& body) {
  http::Fields f(body);
  EventFields e;
  TQ_RETURN_IF_ERROR(ReadEventFields(f, true, e));
  const json::object* tr = f.Object("translations");
  TQ_RETURN_IF_ERROR(f.Finish());
  TQ_ASSIGN_OR_RETURN(auto translations, ReadTranslations(tr, "title", 300, true));
  if (translations.empty()) return Invalid("translations", "must have at least one language");
  int64_t id = 0;
  {
    TQ_LEASE(c);
    TQ_RETURN_IF_ERROR(TxOrError(c, [&](db::Connection& tx) -> Status {
      TQ_ASSIGN_OR_RETURN(
          auto r, tx.ExecParams(
                      "INSERT INTO events (venue_id, category_id, starts_at, ends_at, "
                      "status, created_at, updated_at) VALUES ($1, $2, $3, $4, "
                      "coalesce($5, 'scheduled'), $6, $6) RETURNING id",
                      {P(e.venue_id), P(e.category_id), *e.starts_at, e.ends_at, e.status, Now()}));
      id = r.GetInt(0, 0);
      TQ_RETURN_IF_ERROR(WriteEventLinks(tx, id, e));
      for (const auto& t : translations) {
        TQ_RETURN_IF_ERROR(tx.ExecParams(
            "INSERT INTO event_translations (event_id, language_code, title, description, "
            "slug) VALUES ($1, $2, $3, $4, $5)",
            {P(id), t.lang, t.title, t.description, Slug(t.title, fmt::format("event-{}", id))}));
      }
      return Ok();
    }));
  }
  return AdminGetEvent(id);
}

Result<json::object> Market::AdminUpdateEvent(int64_t id, const json::object& body) {
  http::Fields f(body);
  EventFields e;
  TQ_RETURN_IF_ERROR(ReadEventFields(f, false, e));
  TQ_RETURN_IF_ERROR(f.Finish());
  {
    TQ_LEASE(c);
    bool found = false;
    TQ_RETURN_IF_ERROR(TxOrError(c, [&](db::Connection& tx) -> Status {
      TQ_ASSIGN_OR_RETURN(
          auto r, tx.ExecParams("UPDATE events SET venue_id = coalesce($2, venue_id), "
                                "category_id = coalesce($3, category_id), starts_at = "
                                "coalesce($4::timestamptz, starts_at), ends_at = CASE WHEN $5 "
                                "THEN $6::timestamptz ELSE ends_at END, status = coalesce($7, "
                                "status), updated_at = $8 WHERE id = $1 RETURNING id",
                                {P(id), P(e.venue_id), P(e.category_id), e.starts_at,
                                 e.set_ends_at ? "true" : "false", e.ends_at, e.status, Now()}));
      found = r.rows() == 1;
      if (!found) return Ok();
      return WriteEventLinks(tx, id, e);
    }));
    if (!found) return MakeReason(ErrorCode::kNotFound, "not_found", "No such event.");
  }
  return AdminGetEvent(id);
}

Result<json::object> Market::AdminPutEventTranslation(int64_t id, const std::string& lang,
                                                      const json::object& body) {
  http::Fields f(body);
  std::string title = f.Str("title", 1, 300);
  std::string description = f.OptStr("description", 0, 20000).value_or("");
  TQ_RETURN_IF_ERROR(f.Finish());
  {
    TQ_LEASE(c);
    TQ_ASSIGN_OR_RETURN(auto ev, Query(c, "SELECT 1 FROM events WHERE id = $1", {P(id)}));
    if (ev.rows() == 0) return MakeReason(ErrorCode::kNotFound, "not_found", "No such event.");
    TQ_ASSIGN_OR_RETURN(auto l, Query(c, "SELECT 1 FROM languages WHERE code = $1", {lang}));
    if (l.rows() == 0) return MakeReason(ErrorCode::kNotFound, "not_found", "No such language.");
    TQ_RETURN_IF_ERROR(TxOrError(c, [&](db::Connection& tx) -> Status {
      TQ_RETURN_IF_ERROR(tx.ExecParams(
          "INSERT INTO event_translations (event_id, language_code, title, description, slug) "
          "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id, language_code) DO UPDATE SET "
          "title = excluded.title, description = excluded.description, slug = excluded.slug",
          {P(id), lang, title, description, Slug(title, fmt::format("event-{}", id))}));
      return tx.ExecParams("UPDATE events SET updated_at = $2 WHERE id = $1", {P(id), Now()}).ok()
                 ? Ok()
                 : MakeError(ErrorCode::kUnavailable, "event update failed");
    }));
  }
  return AdminGetEvent(id);
}

Result<json::object> Market::AdminPutExchangeRate(const std::string& base, const std::string& quote,
                                                  const json::object& body) {
  http::Fields f(body);
  std::string rate = f.Str("rate", 1, 30);
  TQ_RETURN_IF_ERROR(f.Finish());
  static const std::regex dec(R"(^\d{1,12}(\.\d{1,12})?$)");
  if (!std::regex_match(rate, dec) || rate.find_first_not_of("0.") == std::string::npos) {
    return Invalid("rate", "must be a positive decimal string such as \"1.0823\"");
  }
  if (base == quote) return Invalid("quote", "must differ from the base currency");
  TQ_LEASE(c);
  for (const auto& code : {base, quote}) {
    TQ_ASSIGN_OR_RETURN(auto cur, Query(c, "SELECT 1 FROM currencies WHERE code = $1", {code}));
    if (cur.rows() == 0) return MakeReason(ErrorCode::kNotFound, "not_found", "No such currency.");
  }
  TQ_ASSIGN_OR_RETURN(
      auto r,
      Query(c,
            "INSERT INTO exchange_rates (base_currency, quote_currency, rate, updated_at) "
            "VALUES ($1, $2, $3::numeric, $4) ON CONFLICT (base_currency, quote_currency) DO "
            "UPDATE SET rate = excluded.rate, updated_at = excluded.updated_at RETURNING "
            "rate::text, tq_iso(updated_at)",
            {base, quote, rate, Now()}));
  json::object o;
  o["base"] = base;
  o["quote"] = quote;
  o["rate"] = r.GetString(0, 0);
  o["updated_at"] = r.GetString(0, 1);
  return o;
}

Result<json::object> Market::AdminListExchangeRates() {
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(auto r, Query(c,
                                    "SELECT base_currency, quote_currency, rate::text, "
                                    "tq_iso(updated_at) FROM exchange_rates ORDER BY 1, 2",
                                    {}));
  json::array items;
  for (int i = 0; i < r.rows(); ++i) {
    json::object o;
    o["base"] = r.GetString(i, 0);
    o["quote"] = r.GetString(i, 1);
    o["rate"] = r.GetString(i, 2);
    o["updated_at"] = r.GetString(i, 3);
    items.push_back(std::move(o));
  }
  json::object out;
  out["rates"] = std::move(items);
  return out;
}

Result<json::object> Market::AdminUpdateUser(int64_t id, const json::object& body) {
  http::Fields f(body);
  std::optional<std::string> role;
  if (f.Has("role")) role = f.Enum("role", {"buyer", "seller", "admin"});
  f.Allow("role");
  auto disabled = f.OptBool("disabled");
  TQ_RETURN_IF_ERROR(f.Finish());
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(
      auto r,
      Query(c,
            "UPDATE users SET role = coalesce($2, role), disabled = coalesce($3::boolean, "
            "disabled), updated_at = $4 WHERE id = $1 RETURNING id, email, display_name, "
            "locale, role, disabled",
            {P(id), role,
             disabled ? std::optional<std::string>(*disabled ? "true" : "false") : std::nullopt,
             Now()}));
  if (r.rows() == 0) return MakeReason(ErrorCode::kNotFound, "not_found", "No such user.");
  ForgetSessions(std::nullopt, id);  // the new role or the disable applies at once here
  if (disabled && *disabled) {
    // A disabled account is logged out everywhere at once.
    TQ_RETURN_IF_ERROR(
        Query(c,
              "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at "
              "IS NULL",
              {P(id), Now()}));
  }
  json::object o;
  o["id"] = r.GetInt(0, 0);
  o["email"] = r.GetString(0, 1);
  o["display_name"] = r.GetString(0, 2);
  o["locale"] = r.GetString(0, 3);
  o["role"] = r.GetString(0, 4);
  o["disabled"] = r.Get(0, 5) == "t";
  return o;
}

}  // namespace taquilla::secure
