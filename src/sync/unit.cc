#include "sync/unit.h"

#include <charconv>

namespace taquilla::sync {

std::string Unit::Name() const {
  switch (kind) {
    case Kind::kSites:
      return "sites";
    case Kind::kCategories:
      return "cats";
    case Kind::kEvent:
      return "event:" + std::to_string(id);
    case Kind::kOffers:
      return "offers:" + std::to_string(id);
    case Kind::kVenue:
      return "venue:" + std::to_string(id);
    case Kind::kPerformer:
      return "performer:" + std::to_string(id);
  }
  return "";
}

std::string Unit::Entity() const {
  return kind == Kind::kOffers ? "event:" + std::to_string(id) : Name();
}

std::optional<Unit> Unit::Parse(std::string_view name) {
  if (name == "sites") return Sites();
  if (name == "cats") return Categories();
  auto colon = name.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view kind = name.substr(0, colon), rest = name.substr(colon + 1);
  int64_t id = 0;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), id);
  if (ec != std::errc() || p != rest.data() + rest.size() || id <= 0) return std::nullopt;
  if (kind == "event") return Event(id);
  if (kind == "offers") return Offers(id);
  if (kind == "venue") return Venue(id);
  if (kind == "performer") return Performer(id);
  return std::nullopt;
}

}  // namespace taquilla::sync
