#include "seed/data.h"

#include <boost/json.hpp>

#include "seed/text.h"

namespace taquilla_seed_data {
std::string_view Get(std::string_view path);
}  // namespace taquilla_seed_data

namespace taquilla::seed {

const std::array<std::string_view, kNumCategories> kCategoryKeys = {"concerts",
                                                                    "rock",
                                                                    "pop",
                                                                    "jazz",
                                                                    "classical",
                                                                    "electronic",
                                                                    "hip_hop",
                                                                    "latin",
                                                                    "sports",
                                                                    "football",
                                                                    "basketball",
                                                                    "tennis",
                                                                    "motorsport",
                                                                    "rugby",
                                                                    "theatre",
                                                                    "musicals",
                                                                    "opera",
                                                                    "ballet",
                                                                    "comedy",
                                                                    "drama",
                                                                    "festivals",
                                                                    "music_festivals",
                                                                    "food_festivals",
                                                                    "family",
                                                                    "circus",
                                                                    "kids_shows"};

const std::array<std::string_view, kNumKinds> kKindKeys = {
    "concert", "festival", "match", "race", "show", "tour", "opera", "play", "musical", "ballet"};

int CategoryParent(int i) {
  static constexpr std::array<int, 5> kParents = {0, 8, 14, 20, 23};
  int parent = -1;
  for (int p : kParents) {
    if (p == i) return -1;
    if (p < i) parent = p;
  }
  return parent;
}

int SeedData::LanguageIndex(std::string_view code) const {
  for (size_t i = 0; i < languages.size(); ++i) {
    if (languages[i].code == code) return static_cast<int>(i);
  }
  return -1;
}

namespace {

namespace json = boost::json;

std::string Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string(v->get_string());
}

std::vector<std::string> StrList(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_array()) return out;
  for (const auto& x : v->get_array()) {
    if (x.is_string() && !x.get_string().empty()) out.emplace_back(x.get_string());
  }
  return out;
}

Result<json::value> ParseJson(std::string_view text, std::string_view name) {
  if (text.empty()) return MakeError(ErrorCode::kInternal, "seed data {} is missing", name);
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return MakeError(ErrorCode::kInternal, "seed data {}: {}", name, ec.message());
  return v;
}

Result<Vocab> ParseVocab(std::string_view text, std::string_view name, const Vocab* fallback) {
  TQ_ASSIGN_OR_RETURN(json::value v, ParseJson(text, name));
  if (!v.is_object()) return MakeError(ErrorCode::kInternal, "seed data {}: not an object", name);
  const auto& o = v.get_object();
  Vocab out;
  out.code = Str(o, "code");
  const json::object* cats = nullptr;
  if (auto* c = o.if_contains("categories"); c && c->is_object()) cats = &c->get_object();
  for (int i = 0; i < kNumCategories; ++i) {
    std::string s = cats ? Str(*cats, kCategoryKeys[i]) : "";
    if (s.empty()) s = fallback ? fallback->categories[i] : std::string(kCategoryKeys[i]);
    out.categories[i] = s;
  }
  const json::object* kinds = nullptr;
  if (auto* k = o.if_contains("kinds"); k && k->is_object()) kinds = &k->get_object();
  for (int i = 0; i < kNumKinds; ++i) {
    KindWords w;
    if (kinds) {
      if (auto* k = kinds->if_contains(kKindKeys[i]); k && k->is_object()) {
        w.singular = Str(k->get_object(), "singular");
        w.plural = Str(k->get_object(), "plural");
      }
    }
    if (w.singular.empty()) {
      w.singular = fallback ? fallback->kinds[i].singular : std::string(kKindKeys[i]);
    }
    if (w.plural.empty()) w.plural = fallback ? fallback->kinds[i].plural : w.singular;
    w.Singular = CapitalizeFirst(w.singular);
    w.Plural = CapitalizeFirst(w.plural);
    out.kinds[i] = std::move(w);
  }
  auto list = [&](std::string_view key, std::vector<std::string> Vocab::*field) {
    out.*field = StrList(o, key);
    if ((out.*field).empty() && fallback) out.*field = fallback->*field;
  };
  list("title_patterns", &Vocab::title_patterns);
  list("description_patterns", &Vocab::description_patterns);
  list("venue_patterns", &Vocab::venue_patterns);
  list("first_names", &Vocab::first_names);
  list("last_names", &Vocab::last_names);
  if (out.title_patterns.empty()) out.title_patterns = {"{performer} - {city}"};
  if (out.description_patterns.empty()) out.description_patterns = {"{performer}, {venue}, {city}"};
  if (out.venue_patterns.empty()) out.venue_patterns = {"{city} Arena"};
  if (out.first_names.empty()) out.first_names = {"Alex"};
  if (out.last_names.empty()) out.last_names = {"Taquilla"};
  return out;
}

}  // namespace

Result<SeedData> ParseSeedData(const std::function<std::string_view(std::string_view)>& get) {
  SeedData d;
  TQ_ASSIGN_OR_RETURN(json::value langs, ParseJson(get("languages.json"), "languages.json"));
  if (!langs.is_array()) return MakeError(ErrorCode::kInternal, "languages.json: not an array");
  for (const auto& l : langs.get_array()) {
    if (!l.is_object()) continue;
    LanguageDef def{Str(l.get_object(), "code"), Str(l.get_object(), "name"),
                    Str(l.get_object(), "direction")};
    if (def.direction.empty()) def.direction = "ltr";
    if (def.name.empty()) def.name = def.code;
    d.languages.push_back(std::move(def));
  }
  TQ_ASSIGN_OR_RETURN(json::value sites, ParseJson(get("sites.json"), "sites.json"));
  if (!sites.is_array()) return MakeError(ErrorCode::kInternal, "sites.json: not an array");
  for (const auto& s : sites.get_array()) {
    if (!s.is_object()) continue;
    const auto& o = s.get_object();
    SiteDef def{Str(o, "code"), Str(o, "country"), Str(o, "currency"), Str(o, "timezone"),
                StrList(o, "languages")};
    if (def.languages.empty()) {
      return MakeError(ErrorCode::kInternal, "sites.json: site {} has no languages", def.code);
    }
    for (const auto& l : def.languages) {
      if (d.LanguageIndex(l) < 0) {
        return MakeError(ErrorCode::kInternal, "sites.json: site {} uses unknown language {}",
                         def.code, l);
      }
    }
    d.sites.push_back(std::move(def));
  }
  TQ_ASSIGN_OR_RETURN(json::value cities, ParseJson(get("cities.json"), "cities.json"));
  if (!cities.is_array()) return MakeError(ErrorCode::kInternal, "cities.json: not an array");
  for (const auto& c : cities.get_array()) {
    if (!c.is_object()) continue;
    const auto& o = c.get_object();
    CityDef def;
    def.country = Str(o, "country");
    def.name = Str(o, "name");
    def.timezone = Str(o, "timezone");
    if (auto* v = o.if_contains("lat"); v && v->is_number()) def.lat = v->to_number<double>();
    if (auto* v = o.if_contains("lon"); v && v->is_number()) def.lon = v->to_number<double>();
    if (auto* n = o.if_contains("names"); n && n->is_object()) {
      for (const auto& [k, v] : n->get_object()) {
        if (v.is_string() && !v.get_string().empty()) {
          def.names.emplace(std::string(k), std::string(v.get_string()));
        }
      }
    }
    if (def.name.empty() || def.country.empty()) continue;
    d.cities.push_back(std::move(def));
  }
  for (const auto& s : d.sites) {
    bool has = false;
    for (const auto& c : d.cities) has = has || c.country == s.country;
    if (!has) {
      return MakeError(ErrorCode::kInternal, "cities.json: no city in {} (site {})", s.country,
                       s.code);
    }
  }
  TQ_ASSIGN_OR_RETURN(Vocab en, ParseVocab(get("vocab/en.json"), "vocab/en.json", nullptr));
  for (const auto& l : d.languages) {
    std::string name = "vocab/" + l.code + ".json";
    std::string_view text = get(name);
    if (l.code == "en" || text.empty()) {
      Vocab v = en;
      v.code = l.code;
      d.vocab.push_back(std::move(v));
    } else {
      TQ_ASSIGN_OR_RETURN(Vocab v, ParseVocab(text, name, &en));
      v.code = l.code;
      d.vocab.push_back(std::move(v));
    }
  }
  return d;
}

Result<SeedData> BuiltinSeedData() {
  return ParseSeedData([](std::string_view p) { return taquilla_seed_data::Get(p); });
}

}  // namespace taquilla::seed
