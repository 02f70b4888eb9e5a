// The read-only lists the HTML pages need beside the API's own: backoffice lists of
// venues, cities, categories and performers, upcoming events to sell tickets for, and
// the public facts of a listing for the checkout page.
#include "db/pg.h"
#include "secure/db_errors.h"
#include "secure/market.h"
#include "secure/sql.h"

namespace taquilla::secure {

using db::Param;
using db::PgResult;

namespace {

// The SQL of an event's title in $lang, else English, else any language.
constexpr const char* kTitleSql =
    "coalesce((SELECT title FROM event_translations t WHERE t.event_id = e.id ORDER BY "
    "t.language_code <> $1, t.language_code <> 'en', t.language_code LIMIT 1), '')";

}  // namespace

Result<json::object> Market::AdminListVenues(const Page& page) {
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(
      auto r, Query(c,
                    "SELECT v.id, v.name, v.city_id, ci.name, ci.country, v.timezone, v.capacity, "
                    "count(*) OVER () FROM venues v JOIN cities ci ON ci.id = v.city_id ORDER BY "
                    "v.id DESC LIMIT $1 OFFSET $2",
                    {P(page.per_page), P((page.page - 1) * page.per_page)}));
  json::array items;
  for (int i = 0; i < r.rows(); ++i) {
    items.push_back(json::object{{"id", r.GetInt(i, 0)},
                                 {"name", r.GetString(i, 1)},
                                 {"city_id", r.GetInt(i, 2)},
                                 {"city", r.GetString(i, 3)},
                                 {"country", r.GetString(i, 4)},
                                 {"timezone", r.GetString(i, 5)},
                                 {"capacity", IntOrNull(r, i, 6)}});
  }
  TQ_ASSIGN_OR_RETURN(int64_t total, TotalOf(c, r, 7, page, "SELECT count(*) FROM venues", {}));
  return PageOf(std::move(items), page, total);
}

Result<json::object> Market::AdminListCities() {
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(auto r, Query(c,
                                    "SELECT id, name, country, timezone FROM cities ORDER BY "
                                    "country, name LIMIT 2000",
                                    {}));
  json::array items;
  for (int i = 0; i < r.rows(); ++i) {
    items.push_back(json::object{{"id", r.GetInt(i, 0)},
                                 {"name", r.GetString(i, 1)},
                                 {"country", r.GetString(i, 2)},
                                 {"timezone", r.GetString(i, 3)}});
  }
  return json::object{{"cities", std::move(items)}};
}

Result<json::object> Market::AdminListCategories(const std::string& lang) {
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(
      auto r, Query(c,
                    "SELECT c.id, c.parent_id, c.slug, c.position, coalesce((SELECT name FROM "
                    "category_translations t WHERE t.category_id = c.id ORDER BY t.language_code "
                    "<> $1, t.language_code <> 'en', t.language_code LIMIT 1), c.slug) FROM "
                    "categories c ORDER BY coalesce(c.parent_id, c.id), c.parent_id IS NOT NULL, "
                    "c.position, c.id LIMIT 2000",
                    {lang}));
  json::array items;
  for (int i = 0; i < r.rows(); ++i) {
    items.push_back(json::object{{"id", r.GetInt(i, 0)},
                                 {"parent_id", IntOrNull(r, i, 1)},
                                 {"slug", r.GetString(i, 2)},
                                 {"position", r.GetInt(i, 3)},
                                 {"name", r.GetString(i, 4)}});
  }
  return json::object{{"categories", std::move(items)}};
}

Result<json::object> Market::AdminListPerformers(const Page& page) {
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(auto r, Query(c,
                                    "SELECT id, name, slug, category_id, count(*) OVER () FROM "
                                    "performers ORDER BY id DESC LIMIT $1 OFFSET $2",
                                    {P(page.per_page), P((page.page - 1) * page.per_page)}));
  json::array items;
  for (int i = 0; i < r.rows(); ++i) {
    items.push_back(json::object{{"id", r.GetInt(i, 0)},
                                 {"name", r.GetString(i, 1)},
                                 {"slug", r.GetString(i, 2)},
                                 {"category_id", IntOrNull(r, i, 3)}});
  }
  TQ_ASSIGN_OR_RETURN(int64_t total, TotalOf(c, r, 4, page, "SELECT count(*) FROM performers", {}));
  return PageOf(std::move(items), page, total);
}

Result<json::object> Market::UpcomingEvents(const std::string& lang, int64_t limit) {
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(
      auto r, Query(c,
                    fmt::format("SELECT e.id, {}, tq_iso(e.starts_at), v.name FROM events e JOIN "
                                "venues v ON v.id = e.venue_id WHERE e.status = 'scheduled' AND "
                                "e.starts_at > $2::timestamptz ORDER BY e.starts_at, e.id LIMIT $3",
                                kTitleSql),
                    {lang, Now(), P(limit)}));
  json::array items;
  for (int i = 0; i < r.rows(); ++i) {
    items.push_back(json::object{{"id", r.GetInt(i, 0)},
                                 {"title", r.GetString(i, 1)},
                                 {"starts_at", r.GetString(i, 2)},
                                 {"venue", r.GetString(i, 3)}});
  }
  return json::object{{"items", std::move(items)}};
}

Result<json::object> Market::ListingSummary(int64_t listing_id, const std::string& lang) {
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(
      auto r, Query(c,
                    fmt::format("SELECT l.id, e.id, {}, tq_iso(e.starts_at), v.name, ci.name, "
                                "l.section, l.\"row\", l.seat_from, l.seat_to, l.delivery, "
                                "l.split, l.quantity_available, l.status, e.status FROM listings "
                                "l JOIN events e ON e.id = l.event_id JOIN venues v ON v.id = "
                                "e.venue_id JOIN cities ci ON ci.id = v.city_id WHERE l.id = $2",
                                kTitleSql),
                    {lang, P(listing_id)}));
  if (r.rows() == 0) return MakeReason(ErrorCode::kNotFound, "not_found", "No such listing.");
  return json::object{{"listing_id", r.GetInt(0, 0)},
                      {"event_id", r.GetInt(0, 1)},
                      {"title", r.GetString(0, 2)},
                      {"starts_at", r.GetString(0, 3)},
                      {"venue", r.GetString(0, 4)},
                      {"city", r.GetString(0, 5)},
                      {"section", r.GetString(0, 6)},
                      {"row", r.GetString(0, 7)},
                      {"seat_from", IntOrNull(r, 0, 8)},
                      {"seat_to", IntOrNull(r, 0, 9)},
                      {"delivery", r.GetString(0, 10)},
                      {"split", r.GetString(0, 11)},
                      {"quantity_available", r.GetInt(0, 12)},
                      {"listing_status", r.GetString(0, 13)},
                      {"event_status", r.GetString(0, 14)}};
}

}  // namespace taquilla::secure
