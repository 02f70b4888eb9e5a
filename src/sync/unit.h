// A projection unit: the group of Redis keys that one rebuild writes together, under one
// LSN compare-and-set. `sites` (the site list), `cats` (every category tree), one event
// (its documents in every site language plus its sorted-set memberships), one venue or one
// performer (documents in every language). Plain value type.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace taquilla::sync {

struct Unit {
  enum class Kind { kSites, kCategories, kEvent, kVenue, kPerformer };
  Kind kind = Kind::kSites;
  int64_t id = 0;  // for events, venues and performers

  static Unit Sites() { return {Kind::kSites, 0}; }
  static Unit Categories() { return {Kind::kCategories, 0}; }
  static Unit Event(int64_t id) { return {Kind::kEvent, id}; }
  static Unit Venue(int64_t id) { return {Kind::kVenue, id}; }
  static Unit Performer(int64_t id) { return {Kind::kPerformer, id}; }

  // "sites", "cats", "event:12", "venue:3", "performer:4": its name in version keys and
  // in the change queues.
  std::string Name() const;
  static std::optional<Unit> Parse(std::string_view name);

  auto operator<=>(const Unit&) const = default;
};

}  // namespace taquilla::sync
