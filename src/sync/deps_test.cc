// The dependency map (deps.h): which projection units and fan-outs each kind of row change
// of every projected table affects. Pure logic: rows are given as column maps, exactly as
// the daemon reads them from a wal2json change (the new row, and the old row's replica
// identity for UPDATE and DELETE).
#include "sync/deps.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sync/unit.h"

namespace taquilla::sync {
namespace {

using K = Fanout::Kind;
using Row = std::map<std::string, std::string>;

// A column reader over `row`; a null function for no row at all.
ColumnFn Reader(std::optional<Row> row) {
  if (!row) return nullptr;
  return [row = std::move(*row)](std::string_view column) -> std::optional<std::string> {
    auto it = row.find(std::string(column));
    if (it == row.end()) return std::nullopt;
    return it->second;
  };
}

Targets Insert(std::string_view table, Row row) {
  return DependenciesOf(table, Reader(std::move(row)), nullptr);
}
Targets Update(std::string_view table, Row now, Row old_key) {
  return DependenciesOf(table, Reader(std::move(now)), Reader(std::move(old_key)));
}
// A DELETE as the daemon hands it over: no new row; the old row's identity.
Targets Delete(std::string_view table, Row old_key) {
  return DependenciesOf(table, nullptr, Reader(std::move(old_key)));
}
// The same DELETE read the way SyncDaemon reads it: its `now` falls back to the identity.
Targets DeleteAsDaemon(std::string_view table, const Row& old_key) {
  return DependenciesOf(table, Reader(old_key), Reader(old_key));
}

Fanout F(K kind, int64_t id = 0, std::string code = "") { return Fanout{kind, id, code}; }

void ExpectTargets(const Targets& t, std::set<Unit> units, std::set<Fanout> fanouts,
                   bool context_changed) {
  EXPECT_EQ(t.units, units);
  EXPECT_EQ(t.fanouts, fanouts);
  EXPECT_EQ(t.context_changed, context_changed);
}

std::string Names(const std::set<Unit>& units) {
  std::string out;
  for (const Unit& u : units) out += u.Name() + " ";
  return out;
}

TEST(ProjectedTablesTest, ListsEveryTableAProjectionReads) {
  const auto& tables = ProjectedTables();
  const std::set<std::string> got(tables.begin(), tables.end());
  EXPECT_EQ(got.size(), tables.size()) << "duplicates";
  const std::set<std::string> want = {"languages",
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
  EXPECT_EQ(got, want);
  // Write-side tables no projection reads are not streamed.
  for (const char* t : {"users", "holds", "orders", "sessions", "currencies"}) {
    EXPECT_FALSE(got.count(t)) << t;
  }
}

TEST(ProjectedTablesTest, EveryProjectedTableHasDependencies) {
  // Any row of a projected table affects something; a table mapped to nothing would
  // silently leave its projections stale.
  const std::map<std::string, Row> rows = {
      {"languages", {{"code", "es"}}},
      {"countries", {{"code", "ES"}}},
      {"country_translations", {{"country_code", "ES"}, {"language_code", "en"}}},
      {"sites", {{"code", "es"}}},
      {"site_languages", {{"site_code", "es"}, {"language_code", "en"}}},
      {"categories", {{"id", "1"}}},
      {"category_translations", {{"category_id", "1"}, {"language_code", "en"}}},
      {"cities", {{"id", "1"}}},
      {"city_translations", {{"city_id", "1"}, {"language_code", "en"}}},
      {"venues", {{"id", "1"}}},
      {"performers", {{"id", "1"}}},
      {"events", {{"id", "1"}}},
      {"event_translations", {{"event_id", "1"}, {"language_code", "en"}}},
      {"event_sites", {{"event_id", "1"}, {"site_code", "es"}}},
      {"event_performers", {{"event_id", "1"}, {"performer_id", "1"}}},
      {"listings", {{"id", "1"}, {"event_id", "1"}}},
      {"exchange_rates", {{"base_currency", "USD"}, {"quote_currency", "EUR"}}},
  };
  for (const auto& table : ProjectedTables()) {
    auto it = rows.find(table);
    ASSERT_NE(it, rows.end()) << "no sample row for " << table;
    EXPECT_FALSE(Insert(table, it->second).empty()) << "insert " << table;
    EXPECT_FALSE(Delete(table, it->second).empty()) << "delete " << table;
  }
}

// --- listings: only the offers of the listing's event (the hot path: holds and sales) ---

TEST(DependenciesTest, ListingInsertTouchesItsEventsOffers) {
  ExpectTargets(Insert("listings", {{"id", "10"}, {"event_id", "5"}, {"price_minor", "4500"}}),
                {Unit::Offers(5)}, {}, false);
}

TEST(DependenciesTest, ListingPriceUpdateTouchesItsEventsOffers) {
  // The key did not change: the identity repeats (id, event_id).
  ExpectTargets(Update("listings", {{"id", "10"}, {"event_id", "5"}, {"price_minor", "4000"}},
                       {{"id", "10"}, {"event_id", "5"}}),
                {Unit::Offers(5)}, {}, false);
}

TEST(DependenciesTest, ListingMovedToAnotherEventTouchesBothEventsOffers) {
  // The replica identity (id, event_id) names the old event; the new row the new one.
  ExpectTargets(
      Update("listings", {{"id", "10"}, {"event_id", "6"}}, {{"id", "10"}, {"event_id", "5"}}),
      {Unit::Offers(5), Unit::Offers(6)}, {}, false);
}

TEST(DependenciesTest, ListingDeleteTouchesTheOffersItsIdentityNames) {
  ExpectTargets(Delete("listings", {{"id", "10"}, {"event_id", "5"}}), {Unit::Offers(5)}, {},
                false);
  ExpectTargets(DeleteAsDaemon("listings", {{"id", "10"}, {"event_id", "5"}}), {Unit::Offers(5)},
                {}, false);
}

TEST(DependenciesTest, ListingDeleteWithoutEventInIdentityTouchesNothing) {
  // With a primary-key-only identity the event would be unknown: that is why migration
  // 0003 makes (id, event_id) the replica identity.
  EXPECT_TRUE(Delete("listings", {{"id", "10"}}).units.empty());
}

// --- events and their rows ---

TEST(DependenciesTest, EventChangesTouchOnlyTheEventsContentAndOffers) {
  // Status and dates decide whether the offers are listed and when they expire.
  const std::set<Unit> both = {Unit::Event(7), Unit::Offers(7)};
  ExpectTargets(Insert("events", {{"id", "7"}, {"venue_id", "1"}, {"category_id", "2"}}), both, {},
                false);
  // Moving an event to another venue or category rebuilds the event unit, which drops its
  // old sorted-set memberships itself: no fan-out needed.
  ExpectTargets(
      Update("events", {{"id", "7"}, {"venue_id", "3"}, {"category_id", "4"}}, {{"id", "7"}}), both,
      {}, false);
  ExpectTargets(Update("events", {{"id", "7"}, {"status", "cancelled"}}, {{"id", "7"}}), both, {},
                false);
  ExpectTargets(Delete("events", {{"id", "7"}}), both, {}, false);
}

TEST(DependenciesTest, EventIdChangeTouchesOldAndNewEvent) {
  ExpectTargets(Update("events", {{"id", "8"}}, {{"id", "7"}}),
                {Unit::Event(7), Unit::Event(8), Unit::Offers(7), Unit::Offers(8)}, {}, false);
}

TEST(DependenciesTest, EventRowsTouchTheirEvent) {
  const Row row = {
      {"event_id", "9"}, {"language_code", "es"}, {"site_code", "mx"}, {"performer_id", "4"}};
  // Translations and sites decide which sites show the event: both halves. Performers
  // are content only.
  for (const char* table : {"event_translations", "event_sites", "event_performers"}) {
    SCOPED_TRACE(table);
    std::set<Unit> want = {Unit::Event(9)};
    if (std::string_view(table) != "event_performers") want.insert(Unit::Offers(9));
    ExpectTargets(Insert(table, row), want, {}, false);
    ExpectTargets(Update(table, row, row), want, {}, false);
    ExpectTargets(Delete(table, row), want, {}, false);
    ExpectTargets(DeleteAsDaemon(table, row), want, {}, false);
  }
}

TEST(DependenciesTest, EventPerformerMovedToAnotherEventTouchesBoth) {
  ExpectTargets(Update("event_performers", {{"event_id", "2"}, {"performer_id", "4"}},
                       {{"event_id", "1"}, {"performer_id", "4"}}),
                {Unit::Event(1), Unit::Event(2)}, {}, false);
}

// --- entities an event document embeds ---

TEST(DependenciesTest, VenueTouchesItselfAndItsEvents) {
  ExpectTargets(
      Update("venues", {{"id", "3"}, {"name", "New name"}, {"city_id", "1"}}, {{"id", "3"}}),
      {Unit::Venue(3)}, {F(K::kEventsOfVenue, 3)}, false);
  ExpectTargets(Delete("venues", {{"id", "3"}}), {Unit::Venue(3)}, {F(K::kEventsOfVenue, 3)},
                false);
}

TEST(DependenciesTest, PerformerTouchesItselfAndItsEvents) {
  ExpectTargets(Insert("performers", {{"id", "4"}, {"name", "X"}, {"category_id", "2"}}),
                {Unit::Performer(4)}, {F(K::kEventsOfPerformer, 4)}, false);
  ExpectTargets(Delete("performers", {{"id", "4"}}), {Unit::Performer(4)},
                {F(K::kEventsOfPerformer, 4)}, false);
}

TEST(DependenciesTest, CityTouchesItsVenuesAndTheirEvents) {
  const std::set<Fanout> want = {F(K::kVenuesOfCity, 2), F(K::kEventsOfCity, 2)};
  ExpectTargets(Update("cities", {{"id", "2"}, {"name", "Sevilla"}}, {{"id", "2"}}), {}, want,
                false);
  ExpectTargets(
      Insert("city_translations", {{"city_id", "2"}, {"language_code", "en"}, {"name", "Seville"}}),
      {}, want, false);
  ExpectTargets(Delete("city_translations", {{"city_id", "2"}, {"language_code", "en"}}), {}, want,
                false);
}

TEST(DependenciesTest, CategoryTouchesTreesEventsAndPerformers) {
  // A rename: the trees, the events and performers of the subtree; the cache is stale.
  ExpectTargets(Update("category_translations",
                       {{"category_id", "2"}, {"language_code", "en"}, {"name", "Rock and Roll"}},
                       {{"category_id", "2"}, {"language_code", "en"}}),
                {Unit::Categories()}, {F(K::kEventsOfCategory, 2), F(K::kPerformersOfCategory, 2)},
                true);
  // A new parent: the category's subtree moves under another ancestor.
  ExpectTargets(
      Update("categories", {{"id", "2"}, {"parent_id", "4"}, {"slug", "rock"}}, {{"id", "2"}}),
      {Unit::Categories()},
      {F(K::kEventsOfCategory, 2), F(K::kPerformersOfCategory, 2), F(K::kEventsOfCategory, 4)},
      true);
  ExpectTargets(Insert("categories", {{"id", "9"}, {"slug", "jazz"}}), {Unit::Categories()},
                {F(K::kEventsOfCategory, 9), F(K::kPerformersOfCategory, 9)}, true);
  ExpectTargets(Delete("categories", {{"id", "9"}}), {Unit::Categories()},
                {F(K::kEventsOfCategory, 9), F(K::kPerformersOfCategory, 9)}, true);
}

// --- sites and languages ---

TEST(DependenciesTest, SiteTouchesSiteListTreesAndItsEvents) {
  Targets t = Update("sites", {{"code", "es"}, {"currency", "EUR"}}, {{"code", "es"}});
  EXPECT_EQ(t.units, (std::set<Unit>{Unit::Sites(), Unit::Categories()}));
  EXPECT_TRUE(t.fanouts.count(F(K::kEventsOfSite, 0, "es")));
  EXPECT_TRUE(t.context_changed);
  // A new site: the same for its code.
  t = Insert("sites", {{"code", "fr"}, {"active", "t"}});
  EXPECT_TRUE(t.fanouts.count(F(K::kEventsOfSite, 0, "fr")));
  EXPECT_TRUE(t.units.count(Unit::Sites()));
}

TEST(DependenciesTest, SiteActivationTouchesVenueAndPerformerDocuments) {
  // Venue and performer documents exist for every language some *active* site offers
  // (Projector::Load), so activating or deactivating a site can add or remove a language
  // from that set: their documents in it must be built or removed.
  Targets t = Update("sites", {{"code", "fr"}, {"active", "f"}}, {{"code", "fr"}});
  EXPECT_TRUE(t.fanouts.count(F(K::kAllVenues))) << "deactivating a site";
  EXPECT_TRUE(t.fanouts.count(F(K::kAllPerformers))) << "deactivating a site";
}

TEST(DependenciesTest, SiteLanguageTouchesEverythingOfThatSiteAndEveryVenueAndPerformer) {
  const std::set<Unit> units = {Unit::Sites(), Unit::Categories()};
  const std::set<Fanout> fanouts = {F(K::kEventsOfSite, 0, "es"), F(K::kAllVenues),
                                    F(K::kAllPerformers)};
  ExpectTargets(
      Insert("site_languages", {{"site_code", "es"}, {"language_code", "ca"}, {"position", "2"}}),
      units, fanouts, true);
  ExpectTargets(Delete("site_languages", {{"site_code", "es"}, {"language_code", "ca"}}), units,
                fanouts, true);
}

TEST(DependenciesTest, LanguageTouchesTheSiteList) {
  ExpectTargets(Update("languages", {{"code", "ca"}, {"name", "Catalan"}}, {{"code", "ca"}}),
                {Unit::Sites()}, {}, true);
}

TEST(DependenciesTest, CountryTouchesItsVenues) {
  ExpectTargets(Insert("countries", {{"code", "FR"}}), {}, {F(K::kVenuesOfCountry, 0, "FR")}, true);
  ExpectTargets(Update("country_translations",
                       {{"country_code", "ES"}, {"language_code", "en"}, {"name", "Spain"}},
                       {{"country_code", "ES"}, {"language_code", "en"}}),
                {}, {F(K::kVenuesOfCountry, 0, "ES")}, true);
}

TEST(DependenciesTest, ExchangeRateTouchesEventsWithListingsInEitherCurrency) {
  const std::set<Fanout> want = {F(K::kEventsWithCurrency, 0, "USD"),
                                 F(K::kEventsWithCurrency, 0, "EUR")};
  ExpectTargets(Update("exchange_rates",
                       {{"base_currency", "USD"}, {"quote_currency", "EUR"}, {"rate", "0.93"}},
                       {{"base_currency", "USD"}, {"quote_currency", "EUR"}}),
                {}, want, true);
  ExpectTargets(Delete("exchange_rates", {{"base_currency", "USD"}, {"quote_currency", "EUR"}}), {},
                want, true);
}

// --- TRUNCATE and the rest ---

TEST(DependenciesTest, TruncateOfAnyProjectedTableIsEverything) {
  for (const auto& table : ProjectedTables()) {
    SCOPED_TRACE(table);
    ExpectTargets(DependenciesOf(table, nullptr, nullptr, /*truncate=*/true), {},
                  {F(K::kEverything)}, true);
  }
}

TEST(DependenciesTest, NonIntegerKeysAreIgnored) {
  EXPECT_TRUE(Insert("listings", {{"id", "1"}, {"event_id", "x"}}).units.empty());
  EXPECT_TRUE(Insert("events", {{"id", ""}}).units.empty());
  EXPECT_TRUE(Insert("events", {{"id", "12abc"}}).units.empty());
  EXPECT_TRUE(DependenciesOf("events", nullptr, nullptr).empty());
}

TEST(TargetsTest, MergeUnitesUnitsFanoutsAndContext) {
  Targets a = Insert("listings", {{"id", "1"}, {"event_id", "5"}});
  a.Merge(Insert("listings", {{"id", "2"}, {"event_id", "5"}}));
  a.Merge(Update("venues", {{"id", "3"}}, {{"id", "3"}}));
  EXPECT_EQ(a.units, (std::set<Unit>{Unit::Offers(5), Unit::Venue(3)})) << Names(a.units);
  EXPECT_EQ(a.fanouts, (std::set<Fanout>{F(K::kEventsOfVenue, 3)}));
  EXPECT_FALSE(a.context_changed);
  a.Merge(Insert("languages", {{"code", "ca"}}));
  EXPECT_TRUE(a.context_changed);
  EXPECT_TRUE(a.units.count(Unit::Sites()));
  EXPECT_TRUE(Targets{}.empty());
  Targets ctx;
  ctx.context_changed = true;
  EXPECT_FALSE(ctx.empty());
}

}  // namespace
}  // namespace taquilla::sync
