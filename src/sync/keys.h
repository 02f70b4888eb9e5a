// The Redis key schema of the projections, shared by the writer (sync), the readers (read
// servers, the indexer) and the tools (rebuild, verify). Every key starts with one
// configurable prefix (default "tq:"). A value type; thread-safe to share.
//
//   {p}sites                          {"sites":[...]}: every active site and its languages
//   {p}cats:{site}:{lang}             {"categories":[tree]} with names for that site language
//   {p}ev:{site}:{lang}:{id}          an event's content in a site language: the Event of
//                                     API.md without min_price, tickets_available, listings
//   {p}eo:{site}:{id}                 its offers on a site, in every language: listings
//                                     sorted by price in the site's currency, min price,
//                                     tickets; Money without "formatted" (compose.h joins
//                                     the two and formats money for the reader's locale)
//   {p}venue:{lang}:{id}              a venue, names in that language
//   {p}perf:{lang}:{id}               a performer
//   {p}z:{site}:date                  upcoming events of a site, score = start (epoch s)
//   {p}z:{site}:price                 the same with tickets on sale, score = min price
//                                     (owned by the offers unit)
//   {p}z:{site}:cat:{id}              upcoming events in a category or its subcategories
//   {p}z:{site}:venue:{id}            upcoming events at a venue
//   {p}z:{site}:perf:{id}             upcoming events of a performer
//   {p}v:{unit}, {p}own:{unit}        a projection unit's LSN and the keys it owns
//   {p}lsn                            the commit LSN (16 hex digits) sync has applied
//   {p}sync                           hash: replication id of the master it wrote to, slot
//   {p}zsets                          set of every sorted-set key (for the sweeper)
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace taquilla::sync {

class Keys {
 public:
  explicit Keys(std::string prefix = "tq:") : p_(std::move(prefix)) {}
  const std::string& prefix() const { return p_; }

  std::string Sites() const { return p_ + "sites"; }
  std::string Categories(std::string_view site, std::string_view lang) const {
    return fmt::format("{}cats:{}:{}", p_, site, lang);
  }
  std::string Event(std::string_view site, std::string_view lang, int64_t id) const {
    return fmt::format("{}ev:{}:{}:{}", p_, site, lang, id);
  }
  std::string Offers(std::string_view site, int64_t id) const {
    return fmt::format("{}eo:{}:{}", p_, site, id);
  }
  std::string Venue(std::string_view lang, int64_t id) const {
    return fmt::format("{}venue:{}:{}", p_, lang, id);
  }
  std::string Performer(std::string_view lang, int64_t id) const {
    return fmt::format("{}perf:{}:{}", p_, lang, id);
  }
  std::string ByDate(std::string_view site) const { return fmt::format("{}z:{}:date", p_, site); }
  std::string ByPrice(std::string_view site) const { return fmt::format("{}z:{}:price", p_, site); }
  std::string InCategory(std::string_view site, int64_t id) const {
    return fmt::format("{}z:{}:cat:{}", p_, site, id);
  }
  std::string AtVenue(std::string_view site, int64_t id) const {
    return fmt::format("{}z:{}:venue:{}", p_, site, id);
  }
  std::string OfPerformer(std::string_view site, int64_t id) const {
    return fmt::format("{}z:{}:perf:{}", p_, site, id);
  }
  std::string Version(std::string_view unit) const { return fmt::format("{}v:{}", p_, unit); }
  std::string Owned(std::string_view unit) const { return fmt::format("{}own:{}", p_, unit); }
  std::string AppliedLsn() const { return p_ + "lsn"; }
  std::string SyncState() const { return p_ + "sync"; }
  std::string ZsetRegistry() const { return p_ + "zsets"; }

  // SCAN patterns of every projection key kind (for verify and reconcile).
  std::string Pattern(std::string_view kind) const { return fmt::format("{}{}:*", p_, kind); }

 private:
  std::string p_;
};

}  // namespace taquilla::sync
