// A projection unit: the group of Redis keys that one rebuild writes together, under one
// LSN compare-and-set. `sites` (the site list), `cats` (every category tree), one event's
// content (its documents in every site language plus its date, category, venue and
// performer sorted-set memberships), one event's offers (its listings, min price and
// tickets per site, language-independent, plus its price sorted-set memberships: the hot
// path, since every hold changes a listing), one venue or one performer (documents in every
// language). Plain value type.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace taquilla::sync {

struct Unit {
  enum class Kind { kSites, kCategories, kEvent, kOffers, kVenue, kPerformer };
  Kind kind = Kind::kSites;
  int64_t id = 0;  // for events, venues and performers

  static Unit Sites() { return {Kind::kSites, 0}; }
  static Unit Categories() { return {Kind::kCategories, 0}; }
  static Unit Event(int64_t id) { return {Kind::kEvent, id}; }
  static Unit Offers(int64_t id) { return {Kind::kOffers, id}; }
  static Unit Venue(int64_t id) { return {Kind::kVenue, id}; }
  static Unit Performer(int64_t id) { return {Kind::kPerformer, id}; }

  // "sites", "cats", "event:12", "offers:12", "venue:3", "performer:4": its name in
  // version and owned-keys keys.
  std::string Name() const;
  // The entity the change queues carry for it: the name, except that an event's offers
  // are the event ("event:12"), so consumers see one item per changed event.
  std::string Entity() const;
  static std::optional<Unit> Parse(std::string_view name);

  auto operator<=>(const Unit&) const = default;
};

}  // namespace taquilla::sync
