// The seed generator's input data: languages, sites, cities and per-language
// vocabularies (category names, event kinds, title/description/venue patterns, first
// and last names), parsed from JSON files compiled into the binary. Immutable once
// loaded; safe to read from any thread.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace taquilla::seed {

// The 26 category keys in vocabulary order; the 5 parents are followed by their
// children (concerts: rock..latin, sports: football..rugby, theatre: musicals..drama,
// festivals: music_festivals, food_festivals, family: circus, kids_shows).
inline constexpr int kNumCategories = 26;
extern const std::array<std::string_view, kNumCategories> kCategoryKeys;
// Index of the parent of category i, or -1 for a parent.
int CategoryParent(int i);

enum Kind { kConcert, kFestival, kMatch, kRace, kShow, kTour, kOpera, kPlay, kMusical, kBallet };
inline constexpr int kNumKinds = 10;
extern const std::array<std::string_view, kNumKinds> kKindKeys;

struct KindWords {
  std::string singular, plural, Singular, Plural;  // capitalised forms for {Kind} {Kinds}
};

struct Vocab {
  std::string code;
  std::array<std::string, kNumCategories> categories;
  std::array<KindWords, kNumKinds> kinds;
  std::vector<std::string> title_patterns, description_patterns, venue_patterns;
  std::vector<std::string> first_names, last_names;
};

struct LanguageDef {
  std::string code, name, direction;
};

struct SiteDef {
  std::string code, country, currency, timezone;
  std::vector<std::string> languages;  // first = default
};

struct CityDef {
  std::string country, name, timezone;
  double lat = 0, lon = 0;
  std::map<std::string, std::string> names;  // language code -> name
};

struct SeedData {
  std::vector<LanguageDef> languages;
  std::vector<SiteDef> sites;
  std::vector<CityDef> cities;
  std::vector<Vocab> vocab;  // aligned with languages (a missing file falls back to en)
  int LanguageIndex(std::string_view code) const;
};

// Parses the data; `get(relpath)` returns a file's content or "" when absent.
Result<SeedData> ParseSeedData(const std::function<std::string_view(std::string_view)>& get);
// The data compiled into the binary.
Result<SeedData> BuiltinSeedData();

}  // namespace taquilla::seed
