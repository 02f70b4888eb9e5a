// The dependency map: which projection units a changed row affects. Pure logic (no I/O):
// DependenciesOf maps one row change to units and to fan-outs ("every upcoming event at
// venue 7"); ResolveFanouts turns fan-outs into units with one query per kind. Examples:
// a venue rename touches the venue and every upcoming event there (in every language); a
// listing change touches its event's offers; a translation touches its event; a new site language
// touches the site list, the category trees, every event of the site and every venue and
// performer (their documents exist per language). Thread-safe (stateless).
#pragma once

#include <compare>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/result.h"
#include "db/pg.h"
#include "sync/unit.h"

namespace taquilla::sync {

struct Fanout {
  enum class Kind {
    kEventsOfVenue,
    kEventsOfCity,
    kEventsOfPerformer,
    kEventsOfCategory,    // events in the category or any category below it (content)
    kEventsOfSite,        // content and offers
    kEventsWithCurrency,  // events with a listing in that currency (offers)
    kVenuesOfCity,
    kVenuesOfCountry,
    kPerformersOfCategory,  // performers of the category or any category below it
    kAllVenues,
    kAllPerformers,
    kEverything,  // TRUNCATE or an unknown table: every unit
  };
  Kind kind;
  int64_t id = 0;
  std::string code;
  auto operator<=>(const Fanout&) const = default;
};

struct Targets {
  std::set<Unit> units;
  std::set<Fanout> fanouts;
  // The change touched a table the Projector caches (sites, languages, categories...).
  bool context_changed = false;

  void Merge(const Targets& other);
  bool empty() const { return units.empty() && fanouts.empty() && !context_changed; }
};

// Reads a column of the changed row: the new row's value, else the old key's; nullopt when
// the column is absent or NULL.
using ColumnFn = std::function<std::optional<std::string>(std::string_view column)>;

// The tables whose changes can affect a projection (the slot streams only these).
const std::vector<std::string>& ProjectedTables();

// What a change of `table` affects. `now` reads the new row (insert, update), `old` the
// old row or key (update, delete; may know only the primary key). truncate: the whole table.
Targets DependenciesOf(std::string_view table, const ColumnFn& now, const ColumnFn& old,
                       bool truncate = false);

// Expands fan-outs into units with queries on `c` (inside the build's snapshot). Events
// whose documents have expired (end + grace before now_epoch) are left out.
Result<std::set<Unit>> ResolveFanouts(db::Connection& c, const std::set<Fanout>& fanouts,
                                      int64_t now_epoch, int64_t grace_seconds);

}  // namespace taquilla::sync
