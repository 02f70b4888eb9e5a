// Projector: computes projection units from PostgreSQL, exactly as the read half of the
// API serves them. It reads; it never writes (Writer puts its output into Redis). The same
// code serves sync (the units a batch of changes touched), rebuild and verify (every unit),
// so what verify expects is by construction what sync writes.
//
// Build() expects its connection inside a REPEATABLE READ transaction, so every query of
// one build sees one snapshot. The Projector caches small, rarely changing tables (sites,
// languages, categories, countries, exchange rates); Invalidate() drops the cache, and
// sync calls it whenever a change touches one of those tables. Owned by one thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "db/pg.h"
#include "sync/keys.h"
#include "sync/unit.h"

namespace taquilla::sync {

// One unit's computed state: the documents it owns, its sorted-set memberships (member =
// the unit's id) and the time its keys expire (0 = never).
struct UnitState {
  Unit unit;
  int64_t expire_at = 0;
  std::vector<std::pair<std::string, std::string>> docs;  // key -> JSON
  std::vector<std::pair<std::string, int64_t>> zsets;     // key -> score
};

struct ProjectorOptions {
  Keys keys;
  int64_t grace_seconds = 86400;  // event documents live until the event's end + grace
};

// Which units a full rebuild or verify covers.
struct Scope {
  std::string site;  // "" = every site
  std::string lang;  // "" = every language
};

class Projector {
 public:
  explicit Projector(ProjectorOptions options);
  ~Projector();

  // Computes `units` (any mix of kinds) at the connection's snapshot. now_epoch decides
  // which events are upcoming or expired.
  Result<std::vector<UnitState>> Build(db::Connection& c, const std::vector<Unit>& units,
                                       int64_t now_epoch);

  // Every unit that a complete projection set within `scope` has (events that have not
  // expired and are listed on an active site, every venue and performer, sites, cats).
  Result<std::vector<Unit>> AllUnits(db::Connection& c, const Scope& scope, int64_t now_epoch);

  void Invalidate();
  const Keys& keys() const { return options_.keys; }

 private:
  struct Context;
  Result<const Context*> Load(db::Connection& c);
  // Event content units for content_ids and offers units for offer_ids, in one round trip.
  Status BuildEvents(db::Connection& c, const Context& ctx, const std::vector<int64_t>& content_ids,
                     const std::vector<int64_t>& offer_ids, int64_t now_epoch,
                     std::vector<UnitState>& out);
  Status BuildVenues(db::Connection& c, const Context& ctx, const std::vector<int64_t>& ids,
                     std::vector<UnitState>& out);
  Status BuildPerformers(db::Connection& c, const Context& ctx, const std::vector<int64_t>& ids,
                         std::vector<UnitState>& out);
  UnitState BuildSites(const Context& ctx);
  UnitState BuildCategories(const Context& ctx);

  ProjectorOptions options_;
  std::unique_ptr<Context> ctx_;
};

// The locale ICU formats money with for a site language: the language with the site's
// country as region unless the language names its own ("es" on mx -> "es-MX").
std::string SiteLocale(const std::string& lang, const std::string& country);

// amount (minor units of `from`) converted at `rate` (an exact decimal string, units of
// `to` per unit of `from`), rounded half up to minor units of `to`; nullopt on overflow.
std::optional<int64_t> ConvertMinor(int64_t amount_minor, int from_minor_units,
                                    const std::string& rate, int to_minor_units);

}  // namespace taquilla::sync
