#include "sync/deps.h"

#include <charconv>

namespace taquilla::sync {

namespace {

std::optional<int64_t> IntOf(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc() || p != s->data() + s->size()) return std::nullopt;
  return v;
}

// Calls fn with each distinct value of `column` in the new and old row.
template <typename Fn>
void EachInt(const ColumnFn& now, const ColumnFn& old, std::string_view column, Fn fn) {
  int64_t values[2];
  int n = 0;
  for (const ColumnFn* f : {&now, &old}) {
    if (!*f) continue;
    auto v = IntOf((*f)(column));
    if (!v.has_value()) continue;
    const int64_t x = *v;
    if (n == 1 && values[0] == x) continue;
    values[n++] = x;
  }
  for (int i = 0; i < n; ++i) fn(values[i]);
}

template <typename Fn>
void EachStr(const ColumnFn& now, const ColumnFn& old, std::string_view column, Fn fn) {
  auto a = now ? now(column) : std::nullopt;
  auto b = old ? old(column) : std::nullopt;
  if (a) fn(*a);
  if (b && b != a) fn(*b);
}

}  // namespace

void Targets::Merge(const Targets& other) {
  units.insert(other.units.begin(), other.units.end());
  fanouts.insert(other.fanouts.begin(), other.fanouts.end());
  context_changed = context_changed || other.context_changed;
}

const std::vector<std::string>& ProjectedTables() {
  static const std::vector<std::string> kTables = {"languages",
                                                   "countries",
                                                   "country_translations",
                                                   "sites",
                                                   "site_languages",
                                                   "categories",
                                                   "category_translations",
                                                   "cities",
                                                   "city_translations",
                                                   "venues",
                                                   "performers",
                                                   "events",
                                                   "event_translations",
                                                   "event_sites",
                                                   "event_performers",
                                                   "listings",
                                                   "exchange_rates"};
  return kTables;
}

Targets DependenciesOf(std::string_view table, const ColumnFn& now, const ColumnFn& old,
                       bool truncate) {
  using K = Fanout::Kind;
  Targets t;
  auto fan = [&](K kind, int64_t id = 0, std::string code = "") {
    t.fanouts.insert(Fanout{kind, id, std::move(code)});
  };
  if (truncate) {
    t.context_changed = true;
    fan(K::kEverything);
    return t;
  }
  auto both = [&](int64_t id) {
    t.units.insert(Unit::Event(id));
    t.units.insert(Unit::Offers(id));
  };
  if (table == "listings") {
    // The hot path: a listing touches only its event's offers.
    EachInt(now, old, "event_id", [&](int64_t id) { t.units.insert(Unit::Offers(id)); });
  } else if (table == "events") {
    // Status and dates decide both halves (listed, expiry); the rest is content.
    EachInt(now, old, "id", both);
  } else if (table == "event_translations" || table == "event_sites") {
    // Which sites show the event: both halves.
    EachInt(now, old, "event_id", both);
  } else if (table == "event_performers") {
    EachInt(now, old, "event_id", [&](int64_t id) { t.units.insert(Unit::Event(id)); });
  } else if (table == "venues") {
    EachInt(now, old, "id", [&](int64_t id) {
      t.units.insert(Unit::Venue(id));
      fan(K::kEventsOfVenue, id);
    });
  } else if (table == "performers") {
    EachInt(now, old, "id", [&](int64_t id) {
      t.units.insert(Unit::Performer(id));
      fan(K::kEventsOfPerformer, id);
    });
  } else if (table == "cities") {
    EachInt(now, old, "id", [&](int64_t id) {
      fan(K::kVenuesOfCity, id);
      fan(K::kEventsOfCity, id);
    });
  } else if (table == "city_translations") {
    EachInt(now, old, "city_id", [&](int64_t id) {
      fan(K::kVenuesOfCity, id);
      fan(K::kEventsOfCity, id);
    });
  } else if (table == "categories" || table == "category_translations") {
    t.context_changed = true;
    t.units.insert(Unit::Categories());
    EachInt(now, old, table == "categories" ? "id" : "category_id", [&](int64_t id) {
      fan(K::kEventsOfCategory, id);
      fan(K::kPerformersOfCategory, id);
    });
    // A new parent moves the category's events into another subtree.
    EachInt(now, old, "parent_id", [&](int64_t id) { fan(K::kEventsOfCategory, id); });
  } else if (table == "sites") {
    t.context_changed = true;
    t.units.insert(Unit::Sites());
    t.units.insert(Unit::Categories());
    EachStr(now, old, "code", [&](const std::string& code) { fan(K::kEventsOfSite, 0, code); });
    // Activating or deactivating a site can add or remove a language from those venue and
    // performer documents exist in.
    fan(K::kAllVenues);
    fan(K::kAllPerformers);
  } else if (table == "site_languages") {
    t.context_changed = true;
    t.units.insert(Unit::Sites());
    t.units.insert(Unit::Categories());
    EachStr(now, old, "site_code",
            [&](const std::string& code) { fan(K::kEventsOfSite, 0, code); });
    // Venue and performer documents exist per language of the marketplace.
    fan(K::kAllVenues);
    fan(K::kAllPerformers);
  } else if (table == "languages") {
    t.context_changed = true;
    t.units.insert(Unit::Sites());
  } else if (table == "countries" || table == "country_translations") {
    t.context_changed = true;
    EachStr(now, old, table == "countries" ? "code" : "country_code",
            [&](const std::string& code) { fan(K::kVenuesOfCountry, 0, code); });
  } else if (table == "exchange_rates") {
    t.context_changed = true;
    EachStr(now, old, "base_currency",
            [&](const std::string& code) { fan(K::kEventsWithCurrency, 0, code); });
    EachStr(now, old, "quote_currency",
            [&](const std::string& code) { fan(K::kEventsWithCurrency, 0, code); });
  }
  return t;
}

Result<std::set<Unit>> ResolveFanouts(db::Connection& c, const std::set<Fanout>& fanouts,
                                      int64_t now_epoch, int64_t grace_seconds) {
  using K = Fanout::Kind;
  std::set<Unit> units;
  const std::string live =
      " AND extract(epoch FROM greatest(e.starts_at, coalesce(e.ends_at, e.starts_at)))::bigint"
      " + $2::bigint > $3::bigint";
  const std::string now_s = std::to_string(now_epoch), grace_s = std::to_string(grace_seconds);
  // Which halves of the matching events: content (names), offers (prices) or both.
  enum Half { kContent = 1, kOffers = 2, kBoth = 3 };
  auto add = [&](int64_t id, Half half) {
    if (half & kContent) units.insert(Unit::Event(id));
    if (half & kOffers) units.insert(Unit::Offers(id));
  };
  auto events = [&](const std::string& where, const std::string& arg, Half half) -> Status {
    TQ_ASSIGN_OR_RETURN(auto r,
                        c.ExecParams("SELECT e.id FROM events e WHERE (" + where + ")" + live,
                                     {arg, grace_s, now_s}));
    for (int i = 0; i < r.rows(); ++i) add(r.GetInt(i, 0), half);
    return Ok();
  };
  auto ids = [&](Unit (*make)(int64_t), const std::string& sql, const db::Param& arg) -> Status {
    TQ_ASSIGN_OR_RETURN(auto r, arg ? c.ExecParams(sql, {arg}) : c.Exec(sql));
    for (int i = 0; i < r.rows(); ++i) units.insert(make(r.GetInt(i, 0)));
    return Ok();
  };
  const std::string subtree =
      "WITH RECURSIVE sub(id) AS (SELECT $1::bigint UNION SELECT c.id FROM categories c "
      "JOIN sub ON c.parent_id = sub.id) ";
  for (const Fanout& f : fanouts) {
    const std::string id = std::to_string(f.id);
    switch (f.kind) {
      case K::kEventsOfVenue:
        TQ_RETURN_IF_ERROR(events("e.venue_id = $1::bigint", id, kContent));
        break;
      case K::kEventsOfCity:
        TQ_RETURN_IF_ERROR(events(
            "e.venue_id IN (SELECT id FROM venues WHERE city_id = $1::bigint)", id, kContent));
        break;
      case K::kEventsOfPerformer:
        TQ_RETURN_IF_ERROR(events(
            "e.id IN (SELECT event_id FROM event_performers WHERE performer_id = $1::bigint)", id,
            kContent));
        break;
      case K::kEventsOfCategory: {
        TQ_ASSIGN_OR_RETURN(auto r,
                            c.ExecParams(subtree +
                                             "SELECT e.id FROM events e WHERE e.category_id IN "
                                             "(SELECT id FROM sub)" +
                                             live,
                                         {id, grace_s, now_s}));
        for (int i = 0; i < r.rows(); ++i) add(r.GetInt(i, 0), kContent);
        break;
      }
      case K::kEventsOfSite:
        TQ_RETURN_IF_ERROR(events("e.id IN (SELECT event_id FROM event_sites WHERE site_code = $1)",
                                  f.code, kBoth));
        break;
      case K::kEventsWithCurrency:
        TQ_RETURN_IF_ERROR(events(
            "e.id IN (SELECT event_id FROM listings WHERE currency = $1 AND status = 'active')",
            f.code, kOffers));
        break;
      case K::kVenuesOfCity:
        TQ_RETURN_IF_ERROR(
            ids(&Unit::Venue, "SELECT id FROM venues WHERE city_id = $1::bigint", id));
        break;
      case K::kVenuesOfCountry:
        TQ_RETURN_IF_ERROR(ids(&Unit::Venue,
                               "SELECT v.id FROM venues v JOIN cities ci ON ci.id = v.city_id "
                               "WHERE ci.country = $1",
                               f.code));
        break;
      case K::kPerformersOfCategory:
        TQ_RETURN_IF_ERROR(ids(&Unit::Performer,
                               subtree + "SELECT id FROM performers WHERE category_id IN "
                                         "(SELECT id FROM sub)",
                               id));
        break;
      case K::kAllVenues:
        TQ_RETURN_IF_ERROR(ids(&Unit::Venue, "SELECT id FROM venues", std::nullopt));
        break;
      case K::kAllPerformers:
        TQ_RETURN_IF_ERROR(ids(&Unit::Performer, "SELECT id FROM performers", std::nullopt));
        break;
      case K::kEverything:
        units.insert(Unit::Sites());
        units.insert(Unit::Categories());
        TQ_RETURN_IF_ERROR(events("$1 = ''", "", kBoth));
        TQ_RETURN_IF_ERROR(ids(&Unit::Venue, "SELECT id FROM venues", std::nullopt));
        TQ_RETURN_IF_ERROR(ids(&Unit::Performer, "SELECT id FROM performers", std::nullopt));
        break;
    }
  }
  return units;
}

}  // namespace taquilla::sync
