#include "seed/generate.h"

#include <unicode/locid.h>
#include <unicode/timezone.h>
#include <unicode/ucurr.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <set>

#include "seed/alloc.h"
#include "seed/rng.h"
#include "seed/text.h"

namespace taquilla::seed {

const char* const kIdentityTables[7] = {"categories", "cities", "venues",  "performers",
                                        "events",     "users",  "listings"};
const char* const kMarketplaceTables[20] = {"languages",
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
                                            "event_sites",
                                            "event_performers",
                                            "event_translations",
                                            "users",
                                            "listings",
                                            "holds",
                                            "orders",
                                            "exchange_rates"};

namespace {

constexpr int64_t kDay = 86400;

// The civil date of a day number (days since 1970-01-01, UTC).
std::chrono::year_month_day CivilDate(int64_t day) {
  return std::chrono::year_month_day{std::chrono::sys_days{std::chrono::days{day}}};
}

struct CurrencyInfo {
  const char* code;
  double per_eur;  // approximate units per 1 EUR
};
// Approximate, fixed rates (not market data): the seed must be reproducible.
constexpr CurrencyInfo kCurrencies[] = {
    {"AED", 3.97},    {"ARS", 1000.0}, {"AUD", 1.65},    {"BGN", 1.9558}, {"BRL", 5.9},
    {"CAD", 1.48},    {"CHF", 0.95},   {"CLP", 1010.0},  {"CNY", 7.8},    {"COP", 4400.0},
    {"CZK", 25.2},    {"DKK", 7.46},   {"EUR", 1.0},     {"GBP", 0.85},   {"HUF", 395.0},
    {"IDR", 17500.0}, {"ILS", 4.0},    {"INR", 90.0},    {"JPY", 162.0},  {"KRW", 1470.0},
    {"MXN", 18.5},    {"NOK", 11.6},   {"NZD", 1.8},     {"PEN", 4.05},   {"PLN", 4.3},
    {"RON", 4.97},    {"RUB", 100.0},  {"SEK", 11.4},    {"THB", 38.5},   {"TRY", 35.0},
    {"UAH", 44.0},    {"USD", 1.08},   {"VND", 27000.0}, {"ZAR", 20.0},
};

// nullptr for a currency without a hard-coded rate.
const CurrencyInfo* FindCurrency(std::string_view code) {
  for (const auto& c : kCurrencies) {
    if (code == c.code) return &c;
  }
  return nullptr;
}

// Unknown currencies price like EUR (magnitudes only; the row keeps its own code).
const CurrencyInfo& Currency(std::string_view code) {
  static const CurrencyInfo kUnknown{"EUR", 1.0};
  const CurrencyInfo* c = FindCurrency(code);
  return c ? *c : kUnknown;
}

// Rounds a positive amount of major units to a "shop price" with two significant digits
// (three above 1000), returned in minor units.
// Digits after the decimal point of a currency, from ICU (as the currencies table).
int MinorUnits(std::string_view code) {
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(code);
  UErrorCode status = U_ZERO_ERROR;
  int digits = ucurr_getDefaultFractionDigits(u.getTerminatedBuffer(), &status);
  return U_SUCCESS(status) ? digits : 2;
}

int64_t NicePriceMinor(double major, int minor_units) {
  if (major < 1) major = 1;
  double mag = std::pow(10.0, std::floor(std::log10(major)) - (major >= 1000 ? 2 : 1));
  if (mag < 1) mag = 1;
  double rounded = std::round(major / mag) * mag;
  if (rounded < 1) rounded = 1;
  int64_t minor = static_cast<int64_t>(std::llround(rounded));
  for (int i = 0; i < minor_units; ++i) minor *= 10;
  return minor;
}

std::string IcuToUtf8(const icu::UnicodeString& u) {
  std::string out;
  u.toUTF8String(out);
  return out;
}

// Latin-script name parts for performers.
constexpr std::string_view kSyllables[] = {
    "ka",  "vi",  "ra", "lo", "me", "na", "so",  "ta",   "ri",  "do",  "ve",  "la",
    "mi",  "no",  "sa", "ze", "lu", "ko", "da",  "ne",   "bel", "mar", "tor", "len",
    "qui", "zan", "ro", "li", "va", "te", "sol", "dian", "ca",  "mo",  "ga",  "ni"};
constexpr std::string_view kSurnames[] = {
    "Moreno", "Quintana", "Vidal",    "Herrera", "Castell",   "Duran",  "Navarro", "Soler",
    "Ferrer", "Blanco",   "Ortega",   "Rivas",   "Lindqvist", "Weber",  "Rossi",   "Dubois",
    "Costa",  "Novak",    "Kowalski", "Silva",   "Marin",     "Santos", "Keller",  "Berg"};

class Gen {
 public:
  Gen(const GenerateInput& in, TableWriter& w, SeedCounts* counts)
      : in_(in), d_(*in.data), w_(w), counts_(counts) {
    base_ = in.base_day * kDay;
    base_ts_ = FormatTimestamp(base_);
  }

  void Run() {
    Languages();
    Countries();
    Sites();
    Categories();
    Cities();
    Venues();
    Performers();
    Events();
    Users();
    Listings();
    ExchangeRates();
  }

 private:
  Rng Stream(std::string_view name) const { return Rng(DeriveSeed(in_.seed, name)); }

  void Languages() {
    w_.Begin("COPY languages (code, name, direction, created_at) FROM STDIN");
    for (const auto& l : d_.languages) {
      w_.Str(l.code).Str(l.name).Str(l.direction).Raw(base_ts_).EndRow();
    }
    w_.End();
    counts_->languages = static_cast<int64_t>(d_.languages.size());
  }

  void Countries() {
    std::set<std::string> countries;
    for (const auto& s : d_.sites) countries.insert(s.country);
    for (const auto& c : d_.cities) countries.insert(c.country);
    countries_.assign(countries.begin(), countries.end());
    w_.Begin("COPY countries (code) FROM STDIN");
    for (const auto& c : countries_) w_.Str(c).EndRow();
    w_.End();
    std::vector<icu::Locale> locales;
    for (const auto& l : d_.languages) {
      UErrorCode st = U_ZERO_ERROR;
      icu::Locale loc = icu::Locale::forLanguageTag(l.code, st);
      locales.push_back(U_FAILURE(st) ? icu::Locale(l.code.c_str()) : loc);
    }
    w_.Begin("COPY country_translations (country_code, language_code, name) FROM STDIN");
    for (const auto& c : countries_) {
      icu::Locale region("", c.c_str());
      auto& names = country_names_[c];
      for (size_t li = 0; li < d_.languages.size(); ++li) {
        icu::UnicodeString u;
        region.getDisplayCountry(locales[li], u);
        std::string name = IcuToUtf8(u);
        if (name.empty()) name = c;
        w_.Str(c).Str(d_.languages[li].code).Str(name).EndRow();
        names.push_back(std::move(name));
      }
    }
    w_.End();
  }

  void Sites() {
    w_.Begin(
        "COPY sites (code, name, country, default_language, currency, timezone, active, "
        "created_at, updated_at) FROM STDIN");
    for (const auto& s : d_.sites) {
      int li = d_.LanguageIndex(s.languages[0]);
      std::string name = "Taquilla " + country_names_[s.country][static_cast<size_t>(li)];
      w_.Str(s.code)
          .Str(name)
          .Str(s.country)
          .Str(s.languages[0])
          .Str(s.currency)
          .Str(s.timezone)
          .Raw("t")
          .Raw(base_ts_)
          .Raw(base_ts_)
          .EndRow();
    }
    w_.End();
    counts_->sites = static_cast<int64_t>(d_.sites.size());
    w_.Begin("COPY site_languages (site_code, language_code, position, created_at) FROM STDIN");
    for (const auto& s : d_.sites) {
      for (size_t i = 0; i < s.languages.size(); ++i) {
        w_.Str(s.code).Str(s.languages[i]).Int(static_cast<int64_t>(i)).Raw(base_ts_).EndRow();
      }
    }
    w_.End();
    counts_->site_languages = w_.table_rows();
  }

  void Categories() {
    w_.Begin("COPY categories (id, parent_id, slug, position, created_at, updated_at) FROM STDIN");
    std::map<int, int> sibling;
    for (int i = 0; i < kNumCategories; ++i) {
      int parent = CategoryParent(i);
      std::string slug(kCategoryKeys[i]);
      std::replace(slug.begin(), slug.end(), '_', '-');
      category_slugs_[i] = slug;
      w_.Int(i + 1);
      if (parent < 0)
        w_.Null();
      else
        w_.Int(parent + 1);
      w_.Str(slug).Int(sibling[parent]++).Raw(base_ts_).Raw(base_ts_).EndRow();
    }
    w_.End();
    counts_->categories = kNumCategories;
    w_.Begin("COPY category_translations (category_id, language_code, name, slug) FROM STDIN");
    for (int i = 0; i < kNumCategories; ++i) {
      for (size_t li = 0; li < d_.languages.size(); ++li) {
        const std::string& name = d_.vocab[li].categories[static_cast<size_t>(i)];
        std::string slug = slugger_.Slug(name, 200);
        if (slug.empty()) slug = category_slugs_[i];
        w_.Int(i + 1).Str(d_.languages[li].code).Str(name).Str(slug).EndRow();
      }
    }
    w_.End();
  }

  int SiteOfCountry(std::string_view country) const {
    for (size_t i = 0; i < d_.sites.size(); ++i) {
      if (d_.sites[i].country == country) return static_cast<int>(i);
    }
    return -1;
  }

  void Cities() {
    std::set<std::pair<std::string, std::string>> seen;
    for (const auto& c : d_.cities) {
      if (SiteOfCountry(c.country) < 0) continue;  // only cities of a site's country
      if (!seen.insert({c.country, c.name}).second) continue;
      cities_.push_back(&c);
    }
    w_.Begin("COPY cities (id, country, name, latitude, longitude, timezone) FROM STDIN");
    for (size_t i = 0; i < cities_.size(); ++i) {
      const CityDef& c = *cities_[i];
      w_.Int(static_cast<int64_t>(i + 1))
          .Str(c.country)
          .Str(c.name)
          .Raw(fmt::format("{:.6f}", c.lat))
          .Raw(fmt::format("{:.6f}", c.lon))
          .Str(c.timezone)
          .EndRow();
    }
    w_.End();
    counts_->cities = static_cast<int64_t>(cities_.size());
    city_names_.resize(cities_.size());
    w_.Begin("COPY city_translations (city_id, language_code, name) FROM STDIN");
    for (size_t i = 0; i < cities_.size(); ++i) {
      const CityDef& c = *cities_[i];
      for (const auto& l : d_.languages) {
        auto it = c.names.find(l.code);
        if (it == c.names.end()) it = c.names.find("en");
        const std::string& name = it == c.names.end() ? c.name : it->second;
        city_names_[i].push_back(name);
        w_.Int(static_cast<int64_t>(i + 1)).Str(l.code).Str(name).EndRow();
      }
    }
    w_.End();
  }

  struct Venue {
    int city;
    int site;  // the site of the venue's country
    std::string name;
    const icu::TimeZone* tz;
  };

  const icu::TimeZone* Zone(const std::string& id) {
    auto& z = zones_[id];
    if (!z) {
      z.reset(icu::TimeZone::createTimeZone(icu::UnicodeString::fromUTF8(id)));
    }
    return z.get();
  }

  void Venues() {
    Rng rng = Stream("venues");
    w_.Begin(
        "COPY venues (id, name, slug, city_id, latitude, longitude, timezone, capacity, "
        "created_at, updated_at) FROM STDIN");
    for (size_t ci = 0; ci < cities_.size(); ++ci) {
      const CityDef& c = *cities_[ci];
      int site = SiteOfCountry(c.country);
      size_t li =
          static_cast<size_t>(d_.LanguageIndex(d_.sites[static_cast<size_t>(site)].languages[0]));
      const Vocab& v = d_.vocab[li];
      std::vector<size_t> order(v.venue_patterns.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.Below(i)]);
      size_t n = std::min<size_t>(static_cast<size_t>(rng.Range(2, 5)), order.size());
      for (size_t k = 0; k < n; ++k) {
        PatternVars vars;
        vars.city = city_names_[ci][li];
        Venue venue{static_cast<int>(ci), site, Substitute(v.venue_patterns[order[k]], vars),
                    Zone(c.timezone)};
        int64_t id = static_cast<int64_t>(venues_.size() + 1);
        std::string slug = slugger_.Slug(venue.name, 200);
        if (slug.empty()) slug = fmt::format("venue-{}", id);
        double lat = std::clamp(c.lat + (rng.Unit() * 2 - 1) * 0.049, -90.0, 90.0);
        double lon = std::clamp(c.lon + (rng.Unit() * 2 - 1) * 0.049, -180.0, 180.0);
        static constexpr int kCap[3][2] = {{300, 3000}, {3000, 15000}, {15000, 80000}};
        const auto& cap = kCap[rng.Weighted(std::array<int, 3>{45, 40, 15})];
        int64_t capacity = rng.Range(cap[0], cap[1]) / 50 * 50;
        w_.Int(id)
            .Str(venue.name)
            .Str(slug)
            .Int(static_cast<int64_t>(ci + 1))
            .Raw(fmt::format("{:.6f}", lat))
            .Raw(fmt::format("{:.6f}", lon))
            .Str(c.timezone)
            .Int(capacity)
            .Raw(base_ts_)
            .Raw(base_ts_)
            .EndRow();
        venues_.push_back(std::move(venue));
      }
    }
    w_.End();
    counts_->venues = static_cast<int64_t>(venues_.size());
  }

  std::string Word(Rng& rng) {
    std::string s;
    int n = static_cast<int>(rng.Range(2, 3));
    for (int i = 0; i < n; ++i) s += rng.Pick(kSyllables);
    s[0] = static_cast<char>(s[0] - 'a' + 'A');
    return s;
  }

  std::string PerformerName(Rng& rng, int cat) {
    std::string_view key = kCategoryKeys[static_cast<size_t>(cat)];
    std::string w = Word(rng);
    auto person = [&] { return w + " " + std::string(rng.Pick(kSurnames)); };
    auto pick = [&](std::initializer_list<std::string> options) {
      std::vector<std::string> v(options);
      return v[rng.Below(v.size())];
    };
    if (key == "football")
      return pick({"FC " + w, "Real " + w, w + " United", "Atletico " + w, "Sporting " + w});
    if (key == "basketball") return pick({w + " Titans", "CB " + w, w + " Hoops", w + " Giants"});
    if (key == "tennis" || key == "comedy") return person();
    if (key == "motorsport") return pick({w + " Racing", "Team " + w, w + " Motorsport"});
    if (key == "rugby") return pick({w + " RFC", w + " Lions", w + " Rugby Club"});
    if (key == "jazz")
      return pick({std::string(rng.Pick(kSurnames)) + " Quintet", w + " Trio", person()});
    if (key == "classical")
      return pick({w + " Philharmonic", "Orquesta " + w, w + " String Quartet", person()});
    if (key == "electronic") return pick({"DJ " + w, w, w + " & " + Word(rng)});
    if (key == "hip_hop") return pick({"MC " + w, "Lil " + w, w});
    if (key == "latin") return pick({"Los " + w, w + " y su Orquesta", person()});
    if (key == "musicals")
      return pick({w + " Musical Company", "Compania " + w, w + " Productions"});
    if (key == "opera") return pick({w + " Opera Company", "Teatro " + w + " Opera", person()});
    if (key == "ballet") return pick({w + " Ballet", "Ballet " + w, w + " Dance Company"});
    if (key == "drama") return pick({w + " Theatre Company", "Compagnie " + w, "Teatro " + w});
    if (key == "music_festivals") return pick({w + " Fest", w + " Sound", "Festival " + w});
    if (key == "food_festivals")
      return pick({w + " Food Fest", "Sabores de " + w, w + " Street Food"});
    if (key == "circus") return pick({"Circo " + w, "Cirque " + w, w + " Circus"});
    if (key == "kids_shows")
      return pick({w + " Kids", "The " + w + " Puppets", w + " Family Show"});
    // rock, pop
    return pick({"Los " + w, "The " + w + "s", person(), w, w + " & The " + Word(rng) + "s"});
  }

  void Performers() {
    Rng rng = Stream("performers");
    std::vector<int> leaves, weights;
    for (int i = 0; i < kNumCategories; ++i) {
      if (CategoryParent(i) < 0) continue;
      leaves.push_back(i);
      int parent = CategoryParent(i);
      weights.push_back(parent == 0 ? 6 : parent == 8 ? 5 : parent == 14 ? 4 : 3);
    }
    int n = std::max(10, in_.scale.events / 8);
    by_category_.assign(kNumCategories, {});
    w_.Begin("COPY performers (id, name, slug, category_id, created_at, updated_at) FROM STDIN");
    for (int i = 0; i < n; ++i) {
      int cat = leaves[rng.Weighted(weights)];
      std::string name = PerformerName(rng, cat);
      std::string slug = slugger_.Slug(name, 200);
      if (slug.empty()) slug = fmt::format("performer-{}", i + 1);
      w_.Int(i + 1).Str(name).Str(slug).Int(cat + 1).Raw(base_ts_).Raw(base_ts_).EndRow();
      by_category_[static_cast<size_t>(cat)].push_back(i);
      performers_.push_back({std::move(name), cat});
    }
    w_.End();
    counts_->performers = n;
  }

  struct Event {
    int venue, category, kind;
    int64_t starts, ends, created;
    int year;
    uint32_t title_pick, desc_pick;
    bool upcoming, cancelled;
    const char* status;
    std::vector<int> performers;
    std::vector<int> sites;  // first = primary
    double base_eur;
  };

  int KindFor(int cat, Rng& rng) {
    std::string_view key = kCategoryKeys[static_cast<size_t>(cat)];
    int parent = CategoryParent(cat);
    if (key == "motorsport") return kRace;
    if (parent == 8) return kMatch;
    if (key == "musicals") return kMusical;
    if (key == "opera") return kOpera;
    if (key == "ballet") return kBallet;
    if (key == "drama") return kPlay;
    if (key == "comedy") return kShow;
    if (parent == 20) return kFestival;
    if (parent == 23) return kShow;
    return rng.Chance(0.25) ? kTour : kConcert;
  }

  // UTC seconds of a local wall time (days since epoch + minutes) in `tz`.
  static int64_t LocalToUtc(const icu::TimeZone* tz, int64_t day, int minutes) {
    double local_ms = static_cast<double>((day * kDay + minutes * 60) * 1000);
    int32_t raw = 0, dst = 0;
    UErrorCode st = U_ZERO_ERROR;
    if (tz) tz->getOffset(local_ms, true, raw, dst, st);
    if (U_FAILURE(st)) raw = dst = 0;
    return day * kDay + minutes * 60 - (raw + dst) / 1000;
  }

  void Events() {
    Rng rng = Stream("events");
    std::vector<int> site_count(d_.sites.size());
    events_.reserve(static_cast<size_t>(in_.scale.events));
    for (int i = 0; i < in_.scale.events; ++i) {
      Event e;
      int lead = static_cast<int>(rng.Below(performers_.size()));
      e.category = performers_[static_cast<size_t>(lead)].category;
      e.kind = KindFor(e.category, rng);
      e.venue = static_cast<int>(rng.Below(venues_.size()));
      const Venue& v = venues_[static_cast<size_t>(e.venue)];
      double r = rng.Unit();
      e.cancelled = r < 0.03;
      e.status = e.cancelled ? "cancelled" : r < 0.04 ? "postponed" : "scheduled";
      bool past = rng.Chance(0.10);
      int64_t day = in_.base_day + (past ? -rng.Range(1, 60) : rng.Range(1, 365));
      e.upcoming = !past;
      int parent = CategoryParent(e.category);
      static constexpr int kEvening[] = {1140, 1170, 1200, 1230, 1260, 1290, 1320};
      static constexpr int kSports[] = {720, 960, 1050, 1080, 1140, 1200, 1260};
      static constexpr int kDaytime[] = {660, 720, 1020, 1080};
      int minutes = parent == 8    ? rng.Pick(kSports)
                    : parent >= 20 ? rng.Pick(kDaytime)
                                   : rng.Pick(kEvening);
      e.starts = LocalToUtc(v.tz, day, minutes);
      e.ends = e.starts + rng.Range(4, 8) * 1800;
      e.year = static_cast<int>(CivilDate(day).year());
      e.created = (std::min(day, in_.base_day) - rng.Range(1, 120)) * kDay;
      e.title_pick = static_cast<uint32_t>(rng.Next() >> 32);
      e.desc_pick = static_cast<uint32_t>(rng.Next() >> 32);
      e.performers.push_back(lead);
      const auto& same = by_category_[static_cast<size_t>(e.category)];
      int extra = parent == 8 && e.kind == kMatch &&
                          kCategoryKeys[static_cast<size_t>(e.category)] != "tennis"
                      ? 1
                      : static_cast<int>(rng.Weighted(std::array<int, 3>{70, 22, 8}));
      if (kCategoryKeys[static_cast<size_t>(e.category)] == "tennis") extra = 1;
      for (int k = 0; k < extra && e.performers.size() < same.size(); ++k) {
        for (int tries = 0; tries < 8; ++tries) {
          int p = same[rng.Below(same.size())];
          if (std::find(e.performers.begin(), e.performers.end(), p) == e.performers.end()) {
            e.performers.push_back(p);
            break;
          }
        }
      }
      e.sites.push_back(v.site);
      if (rng.Chance(0.20)) {
        int more = static_cast<int>(rng.Range(1, 3));
        for (int k = 0; k < more; ++k) {
          int s = static_cast<int>(rng.Below(d_.sites.size()));
          if (std::find(e.sites.begin(), e.sites.end(), s) == e.sites.end()) e.sites.push_back(s);
        }
      }
      e.base_eur = 22.0 * std::exp(rng.Unit() * std::log(300.0 / 22.0));  // 22..300 EUR
      events_.push_back(std::move(e));
    }

    w_.Begin(
        "COPY events (id, venue_id, category_id, starts_at, ends_at, status, created_at, "
        "updated_at) FROM STDIN");
    for (size_t i = 0; i < events_.size(); ++i) {
      const Event& e = events_[i];
      std::string created = FormatTimestamp(e.created);
      w_.Int(static_cast<int64_t>(i + 1))
          .Int(e.venue + 1)
          .Int(e.category + 1)
          .Raw(FormatTimestamp(e.starts))
          .Raw(FormatTimestamp(e.ends))
          .Raw(e.status)
          .Raw(created)
          .Raw(created)
          .EndRow();
    }
    w_.End();
    counts_->events = static_cast<int64_t>(events_.size());

    w_.Begin("COPY event_sites (event_id, site_code) FROM STDIN");
    for (size_t i = 0; i < events_.size(); ++i) {
      for (int s : events_[i].sites) {
        w_.Int(static_cast<int64_t>(i + 1)).Str(d_.sites[static_cast<size_t>(s)].code).EndRow();
      }
    }
    w_.End();
    w_.Begin("COPY event_performers (event_id, performer_id, position) FROM STDIN");
    for (size_t i = 0; i < events_.size(); ++i) {
      const auto& ps = events_[i].performers;
      for (size_t k = 0; k < ps.size(); ++k) {
        w_.Int(static_cast<int64_t>(i + 1)).Int(ps[k] + 1).Int(static_cast<int64_t>(k)).EndRow();
      }
    }
    w_.End();

    w_.Begin(
        "COPY event_translations (event_id, language_code, title, description, slug) FROM STDIN");
    std::string title, desc, year;
    std::vector<Span> spans;
    for (size_t i = 0; i < events_.size(); ++i) {
      const Event& e = events_[i];
      const Venue& v = venues_[static_cast<size_t>(e.venue)];
      year = std::to_string(e.year);
      for (size_t li = 0; li < d_.languages.size(); ++li) {
        const Vocab& voc = d_.vocab[li];
        const KindWords& kw = voc.kinds[static_cast<size_t>(e.kind)];
        PatternVars vars;
        vars.performer = performers_[static_cast<size_t>(e.performers[0])].name;
        vars.city = city_names_[static_cast<size_t>(v.city)][li];
        vars.venue = v.name;
        vars.year = year;
        vars.kind = kw.singular;
        vars.Kind = kw.Singular;
        vars.kinds = kw.plural;
        vars.Kinds = kw.Plural;
        vars.category = voc.categories[static_cast<size_t>(e.category)];
        title.clear();
        Substitute(voc.title_patterns[e.title_pick % voc.title_patterns.size()], vars, &title,
                   &spans);
        TruncateUtf8(&title, 300);
        desc.clear();
        Substitute(voc.description_patterns[e.desc_pick % voc.description_patterns.size()], vars,
                   &desc);
        TruncateUtf8(&desc, 20000);
        std::string slug = slugger_.SlugPieces(title, spans, 80);
        if (slug.empty()) slug = fmt::format("event-{}", i + 1);
        if (title.empty()) title = slug;
        w_.Int(static_cast<int64_t>(i + 1))
            .Str(d_.languages[li].code)
            .Str(title)
            .Str(desc)
            .Str(slug)
            .EndRow();
      }
    }
    w_.End();
    counts_->event_translations = w_.table_rows();
  }

  static void TruncateUtf8(std::string* s, size_t max_bytes) {
    if (s->size() <= max_bytes) return;
    size_t n = max_bytes;
    while (n > 0 && (static_cast<unsigned char>((*s)[n]) & 0xC0) == 0x80) --n;
    s->resize(n);
  }

  void Users() {
    Rng rng = Stream("users");
    w_.Begin(
        "COPY users (id, email, password_hash, display_name, locale, role, disabled, "
        "created_at, updated_at) FROM STDIN");
    int n = std::max(3, in_.scale.users);
    std::string email, name;
    for (int id = 1; id <= n; ++id) {
      const char* role;
      std::string locale = "en";
      if (id <= 3) {
        static constexpr const char* kFixed[3][3] = {
            {"admin@example.test", "Taquilla Admin", "admin"},
            {"seller@example.test", "Demo Seller", "seller"},
            {"buyer@example.test", "Demo Buyer", "buyer"}};
        email = kFixed[id - 1][0];
        name = kFixed[id - 1][1];
        role = kFixed[id - 1][2];
      } else {
        size_t li = rng.Below(d_.languages.size());
        const Vocab& v = d_.vocab[li];
        locale = d_.languages[li].code;
        email = fmt::format("user{}@example.test", id);
        name = rng.Pick(v.first_names) + " " + rng.Pick(v.last_names);
        role = rng.Chance(0.20) ? "seller" : "buyer";
      }
      if (role[0] == 's') sellers_.push_back(id);
      std::string created = FormatTimestamp((in_.base_day - rng.Range(0, 720)) * kDay);
      w_.Int(id)
          .Str(email)
          .Str(in_.password_hash)
          .Str(name)
          .Str(locale)
          .Raw(role)
          .Raw("f")
          .Raw(created)
          .Raw(created)
          .EndRow();
    }
    w_.End();
    counts_->users = n;
  }

  void Listings() {
    Rng rng = Stream("listings");
    std::vector<ListingQty> alloc = AllocateTickets(rng, in_.scale.tickets);
    std::vector<size_t> eligible;
    std::vector<uint64_t> cumulative;
    uint64_t total_w = 0;
    for (size_t i = 0; i < events_.size(); ++i) {
      if (!events_[i].upcoming || events_[i].cancelled) continue;
      uint64_t wgt = static_cast<uint64_t>(rng.Range(1, 10));
      total_w += wgt * wgt;
      eligible.push_back(i);
      cumulative.push_back(total_w);
    }
    std::vector<int> per_event(eligible.size());
    if (!eligible.empty()) {
      for (size_t k = 0; k < alloc.size(); ++k) {
        uint64_t r = rng.Below(total_w);
        size_t idx = static_cast<size_t>(std::upper_bound(cumulative.begin(), cumulative.end(), r) -
                                         cumulative.begin());
        per_event[idx]++;
      }
    }
    if (sellers_.empty()) sellers_.push_back(2);
    w_.Begin(
        "COPY listings (id, event_id, seller_id, section, \"row\", seat_from, seat_to, quantity, "
        "quantity_available, price_minor, face_value_minor, currency, split, delivery, notes, "
        "status, created_at, updated_at) FROM STDIN");
    static constexpr std::string_view kSections[] = {
        "Floor",       "Pista",       "Block 101", "Block 114",        "Section 203",
        "Grada Norte", "Tribuna Sur", "Stalls",    "Dress Circle",     "Balcony",
        "Upper Tier",  "Lower Tier",  "VIP",       "General Admission"};
    static constexpr std::string_view kNotes[] = {"Aisle seats",
                                                  "Restricted view",
                                                  "Entrance via gate 3",
                                                  "Seats together",
                                                  "E-tickets sent 48h before the event",
                                                  "Great view of the stage",
                                                  "Wheelchair accessible"};
    int64_t id = 0, tickets = 0;
    size_t next = 0;
    char seat_from[16], seat_to[16];
    for (size_t k = 0; k < eligible.size(); ++k) {
      const Event& e = events_[eligible[k]];
      const SiteDef& site = d_.sites[static_cast<size_t>(e.sites[0])];
      const CurrencyInfo& cur = Currency(site.currency);
      const int minor_units = MinorUnits(site.currency);
      int count = per_event[k];
      for (int j = 0; j < count; ++j) {
        bool withdrawn = rng.Chance(0.03);
        ListingQty q;
        if (withdrawn) {
          q.quantity = static_cast<int>(rng.Range(1, 6));
          q.available = q.quantity;
          --j;  // an extra listing; the active one follows
        } else {
          q = alloc[next++];
          tickets += q.available;
        }
        ++id;
        double eur = std::clamp(e.base_eur * (0.9 + rng.Unit() * 0.4), 20.0, 400.0);
        int64_t price = NicePriceMinor(eur * cur.per_eur, minor_units);
        std::string_view section = rng.Pick(kSections);
        bool seated = section != "Floor" && section != "Pista" && section != "General Admission";
        w_.Int(id)
            .Int(static_cast<int64_t>(eligible[k] + 1))
            .Int(sellers_[rng.Below(sellers_.size())])
            .Str(section);
        if (seated) {
          int64_t row = rng.Range(1, 30);
          int64_t from = rng.Range(1, 40);
          w_.Raw(std::to_string(row));
          if (rng.Chance(0.85)) {
            auto a = std::to_chars(seat_from, seat_from + sizeof(seat_from), from);
            auto b = std::to_chars(seat_to, seat_to + sizeof(seat_to), from + q.quantity - 1);
            w_.Raw(std::string_view(seat_from, static_cast<size_t>(a.ptr - seat_from)))
                .Raw(std::string_view(seat_to, static_cast<size_t>(b.ptr - seat_to)));
          } else {
            w_.Null().Null();
          }
        } else {
          w_.Raw("").Null().Null();
        }
        w_.Int(q.quantity).Int(q.available).Int(price);
        if (rng.Chance(0.25)) {
          w_.Null();
        } else {
          w_.Int(std::max<int64_t>(
              1, NicePriceMinor(eur * cur.per_eur * (0.55 + rng.Unit() * 0.45), minor_units)));
        }
        w_.Str(site.currency);
        const char* split = "any";
        double s = rng.Unit();
        if (q.quantity > 1) {
          if (s < 0.45)
            split = "any";
          else if (s < 0.65 && q.quantity % 2 == 0)
            split = "pairs";
          else if (s < 0.85)
            split = "no_single";
          else
            split = "all";
        } else if (s < 0.2) {
          split = "all";
        }
        // A partly sold listing is left in a state its split rule allows: pairs sell in
        // twos, no_single never leaves one ticket, all sells the whole listing at once.
        if (q.available < q.quantity) {
          std::string_view rule = split;
          if ((rule == "pairs" && q.available % 2 != 0) ||
              (rule == "no_single" && q.available == 1) || rule == "all") {
            split = "any";
          }
        }
        w_.Raw(split);
        size_t dsel = rng.Weighted(std::array<int, 3>{50, 40, 10});
        w_.Raw(dsel == 0 ? "eticket" : dsel == 1 ? "mobile" : "paper");
        if (rng.Chance(0.15))
          w_.Str(rng.Pick(kNotes));
        else
          w_.Raw("");
        w_.Raw(withdrawn ? "withdrawn" : "active");
        std::string created = FormatTimestamp((in_.base_day - rng.Range(0, 30)) * kDay);
        w_.Raw(created).Raw(created).EndRow();
      }
    }
    w_.End();
    counts_->listings = id;
    counts_->tickets = tickets;
  }

  void ExchangeRates() {
    std::set<std::string> used;
    for (const auto& s : d_.sites) {
      if (FindCurrency(s.currency)) used.insert(s.currency);  // no made-up rates
    }
    w_.Begin("COPY exchange_rates (base_currency, quote_currency, rate, updated_at) FROM STDIN");
    for (const auto& a : used) {
      for (const auto& b : used) {
        if (a == b) continue;
        double rate = Currency(b).per_eur / Currency(a).per_eur;
        std::string text = fmt::format("{:.12f}", rate);
        if (text.find_first_not_of("0.") == std::string::npos) text = "0.000000000001";
        w_.Raw(a).Raw(b).Raw(text).Raw(base_ts_).EndRow();
      }
    }
    w_.End();
    counts_->exchange_rates = w_.table_rows();
  }

  const GenerateInput& in_;
  const SeedData& d_;
  TableWriter& w_;
  SeedCounts* counts_;
  int64_t base_ = 0;
  std::string base_ts_;
  Slugger slugger_;
  std::vector<std::string> countries_;
  std::map<std::string, std::vector<std::string>> country_names_;
  std::array<std::string, kNumCategories> category_slugs_;
  std::vector<const CityDef*> cities_;
  std::vector<std::vector<std::string>> city_names_;
  std::map<std::string, std::unique_ptr<icu::TimeZone>> zones_;
  std::vector<Venue> venues_;
  struct Performer {
    std::string name;
    int category;
  };
  std::vector<Performer> performers_;
  std::vector<std::vector<int>> by_category_;
  std::vector<Event> events_;
  std::vector<int> sellers_;
};

}  // namespace

std::string FormatTimestamp(int64_t t) {
  using namespace std::chrono;
  sys_seconds tp{seconds{t}};
  sys_days day = floor<days>(tp);
  year_month_day ymd{day};
  hh_mm_ss hms{tp - day};
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}+00", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count());
}

void Generate(const GenerateInput& in, TableWriter& w, SeedCounts* counts) {
  Gen gen(in, w, counts);
  gen.Run();
}

}  // namespace taquilla::seed
