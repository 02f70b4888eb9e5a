#include "sync/projector.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <unordered_map>

namespace taquilla::sync {

namespace json = boost::json;

struct Projector::Context {
  struct Language {
    std::string code, name, direction;
  };
  struct Site {
    std::string code, name, country, currency, timezone, default_language;
    std::vector<Language> languages;
  };
  struct Category {
    int64_t id = 0;
    std::optional<int64_t> parent;
    std::string slug;
  };
  struct Names {
    std::string name, slug;
  };
  std::vector<Site> sites;
  std::map<std::string, size_t> site_index;
  std::vector<std::string> languages;  // offered by some active site, sorted
  std::vector<Category> categories;    // by position, id
  std::unordered_map<int64_t, size_t> category_index;
  std::map<std::pair<int64_t, std::string>, Names> category_names;
  std::map<std::pair<std::string, std::string>, std::string> country_names;
  std::unordered_map<std::string, int> minor_units;
  std::map<std::pair<std::string, std::string>, std::string> rates;

  // Names of a category in the first language of `chain` that has one.
  const Names* CategoryNames(int64_t id, const std::vector<std::string>& chain) const {
    for (const auto& l : chain) {
      auto it = category_names.find({id, l});
      if (it != category_names.end()) return &it->second;
    }
    return nullptr;
  }
  std::vector<int64_t> CategoryAndAncestors(int64_t id) const {
    std::vector<int64_t> out;
    std::optional<int64_t> cur = id;
    while (cur && out.size() < 64) {
      out.push_back(*cur);
      auto it = category_index.find(*cur);
      if (it == category_index.end()) break;
      cur = categories[it->second].parent;
    }
    return out;
  }
  int Minor(const std::string& currency) const {
    auto it = minor_units.find(currency);
    return it == minor_units.end() ? 2 : it->second;
  }
};

namespace {

std::string Str(const db::PgResult& r, int row, int col) { return r.GetString(row, col); }

std::optional<int64_t> OptInt(const db::PgResult& r, int row, int col) {
  if (r.IsNull(row, col)) return std::nullopt;
  return r.GetInt(row, col);
}

std::string IdArray(const std::vector<int64_t>& ids) {
  std::string s = "{";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(ids[i]);
  }
  return s + "}";
}

// The language chain of a site language: the language, the site's default, English.
std::vector<std::string> Chain(const std::string& lang, const std::string& site_default) {
  std::vector<std::string> chain{lang};
  if (site_default != lang) chain.push_back(site_default);
  if (lang != "en" && site_default != "en") chain.push_back("en");
  return chain;
}

// Money as the projections store it: the read side adds "formatted" for the reader's
// locale (compose.h), so one offers document serves every language of a site.
json::value Money(int64_t amount, const std::string& currency, json::storage_ptr sp = {}) {
  return json::object({{"amount_minor", amount}, {"currency", currency}}, std::move(sp));
}

std::string Offset(int seconds) {
  char sign = seconds < 0 ? '-' : '+';
  int a = std::abs(seconds) / 60;
  return fmt::format("{}{:02}:{:02}", sign, a / 60, a % 60);
}

std::string Serialize(const json::value& v) { return json::serialize(v); }

}  // namespace

std::string SiteLocale(const std::string& lang, const std::string& country) {
  // A region is an upper-case or numeric subtag after the language (pt-BR, es-419).
  auto dash = lang.rfind('-');
  if (dash != std::string::npos) {
    std::string_view last(lang.c_str() + dash + 1);
    bool region = last.size() == 3 ? std::isdigit(static_cast<unsigned char>(last[0])) != 0
                                   : last.size() == 2;
    if (region) return lang;
  }
  return lang + "-" + country;
}

std::optional<int64_t> ConvertMinor(int64_t amount_minor, int from_minor_units,
                                    const std::string& rate, int to_minor_units) {
  // rate as an integer numerator over 10^scale.
  __int128 num = 0;
  int scale = 0;
  bool dot = false;
  for (char ch : rate) {
    if (ch == '.') {
      if (dot) return std::nullopt;
      dot = true;
      continue;
    }
    if (ch < '0' || ch > '9') return std::nullopt;
    if (num > (static_cast<__int128>(1) << 100)) return std::nullopt;
    num = num * 10 + (ch - '0');
    if (dot) ++scale;
  }
  // result = amount * num * 10^(to - from) / 10^scale, rounded half up.
  int exp = to_minor_units - from_minor_units - scale;
  constexpr __int128 kLimit = (static_cast<__int128>(1) << 124);
  if (amount_minor < 0) return std::nullopt;
  if (num != 0 && static_cast<__int128>(amount_minor) > kLimit / num) return std::nullopt;
  __int128 value = static_cast<__int128>(amount_minor) * num;
  for (; exp > 0; --exp) {
    if (value > (static_cast<__int128>(1) << 120)) return std::nullopt;
    value *= 10;
  }
  // value < 2^124 < 10^38 / 2: dividing by 10^38 or more rounds to zero.
  if (exp <= -38) return 0;
  if (exp < 0) {
    __int128 div = 1;
    for (; exp < 0; ++exp) div *= 10;
    value = (value + div / 2) / div;
  }
  if (value > static_cast<__int128>(INT64_MAX)) return std::nullopt;
  return static_cast<int64_t>(value);
}

Projector::Projector(ProjectorOptions options) : options_(std::move(options)) {}
Projector::~Projector() = default;

void Projector::Invalidate() { ctx_.reset(); }

Result<const Projector::Context*> Projector::Load(db::Connection& c) {
  if (ctx_) return ctx_.get();
  auto ctx = std::make_unique<Context>();
  TQ_ASSIGN_OR_RETURN(auto sites, c.Exec("SELECT code, name, country, currency, timezone, "
                                         "default_language FROM sites WHERE active ORDER BY code"));
  for (int i = 0; i < sites.rows(); ++i) {
    ctx->site_index[Str(sites, i, 0)] = ctx->sites.size();
    ctx->sites.push_back({Str(sites, i, 0),
                          Str(sites, i, 1),
                          Str(sites, i, 2),
                          Str(sites, i, 3),
                          Str(sites, i, 4),
                          Str(sites, i, 5),
                          {}});
  }
  TQ_ASSIGN_OR_RETURN(auto langs,
                      c.Exec("SELECT sl.site_code, l.code, l.name, l.direction "
                             "FROM site_languages sl JOIN languages l ON l.code = sl.language_code "
                             "ORDER BY sl.site_code, sl.position, l.code"));
  std::set<std::string> all;
  for (int i = 0; i < langs.rows(); ++i) {
    auto it = ctx->site_index.find(Str(langs, i, 0));
    if (it == ctx->site_index.end()) continue;
    ctx->sites[it->second].languages.push_back(
        {Str(langs, i, 1), Str(langs, i, 2), Str(langs, i, 3)});
    all.insert(Str(langs, i, 1));
  }
  ctx->languages.assign(all.begin(), all.end());
  TQ_ASSIGN_OR_RETURN(auto cats,
                      c.Exec("SELECT id, parent_id, slug FROM categories ORDER BY position, id"));
  for (int i = 0; i < cats.rows(); ++i) {
    ctx->category_index[cats.GetInt(i, 0)] = ctx->categories.size();
    ctx->categories.push_back({cats.GetInt(i, 0), OptInt(cats, i, 1), Str(cats, i, 2)});
  }
  TQ_ASSIGN_OR_RETURN(
      auto names,
      c.Exec("SELECT category_id, language_code, name, slug FROM category_translations"));
  for (int i = 0; i < names.rows(); ++i) {
    ctx->category_names[{names.GetInt(i, 0), Str(names, i, 1)}] = {Str(names, i, 2),
                                                                   Str(names, i, 3)};
  }
  TQ_ASSIGN_OR_RETURN(auto countries,
                      c.Exec("SELECT country_code, language_code, name FROM country_translations"));
  for (int i = 0; i < countries.rows(); ++i) {
    ctx->country_names[{Str(countries, i, 0), Str(countries, i, 1)}] = Str(countries, i, 2);
  }
  TQ_ASSIGN_OR_RETURN(auto currencies, c.Exec("SELECT code, minor_units FROM currencies"));
  for (int i = 0; i < currencies.rows(); ++i) {
    ctx->minor_units[Str(currencies, i, 0)] = static_cast<int>(currencies.GetInt(i, 1));
  }
  TQ_ASSIGN_OR_RETURN(
      auto rates, c.Exec("SELECT base_currency, quote_currency, rate::text FROM exchange_rates"));
  for (int i = 0; i < rates.rows(); ++i) {
    ctx->rates[{Str(rates, i, 0), Str(rates, i, 1)}] = Str(rates, i, 2);
  }
  ctx_ = std::move(ctx);
  return ctx_.get();
}

Result<std::vector<UnitState>> Projector::Build(db::Connection& c, const std::vector<Unit>& units,
                                                int64_t now_epoch) {
  TQ_ASSIGN_OR_RETURN(const Context* ctx, Load(c));
  std::vector<UnitState> out;
  std::vector<int64_t> events, offers, venues, performers;
  for (const Unit& u : units) {
    switch (u.kind) {
      case Unit::Kind::kSites:
        out.push_back(BuildSites(*ctx));
        break;
      case Unit::Kind::kCategories:
        out.push_back(BuildCategories(*ctx));
        break;
      case Unit::Kind::kEvent:
        events.push_back(u.id);
        break;
      case Unit::Kind::kOffers:
        offers.push_back(u.id);
        break;
      case Unit::Kind::kVenue:
        venues.push_back(u.id);
        break;
      case Unit::Kind::kPerformer:
        performers.push_back(u.id);
        break;
    }
  }
  if (!events.empty() || !offers.empty()) {
    TQ_RETURN_IF_ERROR(BuildEvents(c, *ctx, events, offers, now_epoch, out));
  }
  if (!venues.empty()) TQ_RETURN_IF_ERROR(BuildVenues(c, *ctx, venues, out));
  if (!performers.empty()) TQ_RETURN_IF_ERROR(BuildPerformers(c, *ctx, performers, out));
  return out;
}

UnitState Projector::BuildSites(const Context& ctx) {
  json::array sites;
  for (const auto& s : ctx.sites) {
    json::array langs;
    for (const auto& l : s.languages) {
      langs.push_back(json::object{{"code", l.code}, {"name", l.name}, {"direction", l.direction}});
    }
    sites.push_back(json::object{{"code", s.code},
                                 {"name", s.name},
                                 {"country", s.country},
                                 {"currency", s.currency},
                                 {"timezone", s.timezone},
                                 {"default_language", s.default_language},
                                 {"languages", std::move(langs)}});
  }
  UnitState st{Unit::Sites(), 0, {}, {}};
  st.docs.emplace_back(keys().Sites(), Serialize(json::object{{"sites", std::move(sites)}}));
  return st;
}

UnitState Projector::BuildCategories(const Context& ctx) {
  UnitState st{Unit::Categories(), 0, {}, {}};
  // children by parent, in (position, id) order.
  std::map<std::optional<int64_t>, std::vector<size_t>> children;
  for (size_t i = 0; i < ctx.categories.size(); ++i) {
    children[ctx.categories[i].parent].push_back(i);
  }
  for (const auto& s : ctx.sites) {
    for (const auto& l : s.languages) {
      auto chain = Chain(l.code, s.default_language);
      std::function<json::array(std::optional<int64_t>, int)> tree =
          [&](std::optional<int64_t> parent, int depth) {
            json::array out;
            auto it = children.find(parent);
            if (it == children.end() || depth > 32) return out;
            for (size_t i : it->second) {
              const auto& cat = ctx.categories[i];
              const auto* names = ctx.CategoryNames(cat.id, chain);
              out.push_back(json::object{{"id", cat.id},
                                         {"slug", names ? names->slug : cat.slug},
                                         {"name", names ? names->name : cat.slug},
                                         {"children", tree(cat.id, depth + 1)}});
            }
            return out;
          };
      st.docs.emplace_back(keys().Categories(s.code, l.code),
                           Serialize(json::object{{"categories", tree(std::nullopt, 0)}}));
    }
  }
  return st;
}

Status Projector::BuildEvents(db::Connection& c, const Context& ctx,
                              const std::vector<int64_t>& content_ids,
                              const std::vector<int64_t>& offer_ids, int64_t now_epoch,
                              std::vector<UnitState>& out) {
  std::vector<int64_t> all = content_ids;
  all.insert(all.end(), offer_ids.begin(), offer_ids.end());
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  const std::string arr = IdArray(all), content_arr = IdArray(content_ids),
                    offer_arr = IdArray(offer_ids);
  // One round trip: the events and their sites for both kinds; what only content needs
  // (translations, performers, city names) and what only offers need (listings, which
  // languages have a translation) for their own ids.
  // What both halves need (status, times, sites) for every id; the rest for its own
  // half's ids only: an offers-only batch (the hot path) reads no venue, city, translation
  // or performer.
  std::vector<db::Connection::Statement> statements{
      {"SELECT e.id, e.status, extract(epoch FROM e.starts_at)::bigint, "
       "extract(epoch FROM coalesce(e.ends_at, e.starts_at))::bigint "
       "FROM events e WHERE e.id = ANY($1::bigint[]) ORDER BY e.id",
       {arr}},
      {"SELECT event_id, site_code FROM event_sites "
       "WHERE event_id = ANY($1::bigint[]) ORDER BY 1, 2",
       {arr}}};
  const bool content = !content_ids.empty(), offers = !offer_ids.empty();
  if (content) {
    statements.push_back(
        {"SELECT e.id, e.venue_id, e.category_id, v.name, v.timezone, v.city_id, "
         "ci.country, ci.name, "
         "to_char(e.starts_at AT TIME ZONE v.timezone, 'YYYY-MM-DD\"T\"HH24:MI:SS'), "
         "extract(epoch FROM (e.starts_at AT TIME ZONE v.timezone) - "
         "(e.starts_at AT TIME ZONE 'UTC'))::int "
         "FROM unnest($1::bigint[]) q(id) JOIN events e ON e.id = q.id "
         "JOIN LATERAL (SELECT * FROM venues WHERE venues.id = e.venue_id) v ON true "
         "JOIN LATERAL (SELECT * FROM cities WHERE cities.id = v.city_id) ci ON true",
         {content_arr}});
    // Only the languages a reader can be shown: the event's sites' languages (their
    // defaults among them) and English, the last fallback.
    statements.push_back(
        {"WITH langs AS (SELECT es.event_id, sl.language_code FROM unnest($1::bigint[]) "
         "q(id) JOIN event_sites es ON es.event_id = q.id JOIN LATERAL (SELECT language_code "
         "FROM site_languages WHERE site_languages.site_code = es.site_code) sl ON true "
         "UNION SELECT e, 'en' FROM unnest($1::bigint[]) e) "
         "SELECT et.event_id, et.language_code, et.title, et.description, et.slug "
         "FROM langs JOIN LATERAL (SELECT * FROM event_translations t WHERE t.event_id = "
         "langs.event_id AND t.language_code = langs.language_code) et ON true",
         {content_arr}});
    statements.push_back(
        {"SELECT ep.event_id, p.id, p.name, p.slug FROM unnest($1::bigint[]) q(id) "
         "JOIN event_performers ep ON ep.event_id = q.id "
         "JOIN LATERAL (SELECT * FROM performers WHERE performers.id = ep.performer_id) p "
         "ON true ORDER BY ep.event_id, ep.position, p.id",
         {content_arr}});
    statements.push_back(
        {"SELECT DISTINCT ct.city_id, ct.language_code, ct.name FROM unnest($1::bigint[]) "
         "q(id) JOIN events e ON e.id = q.id JOIN venues v ON v.id = e.venue_id "
         "JOIN city_translations ct ON ct.city_id = v.city_id",
         {content_arr}});
  }
  if (offers) {
    statements.push_back(
        {"SELECT event_id, id, section, \"row\", seat_from, seat_to, quantity_available, "
         "split, delivery, price_minor, face_value_minor, currency FROM listings "
         "WHERE event_id = ANY($1::bigint[]) AND status = 'active' "
         "AND quantity_available > 0 ORDER BY event_id, id",
         {offer_arr}});
    statements.push_back(
        {"SELECT event_id, language_code FROM event_translations "
         "WHERE event_id = ANY($1::bigint[])",
         {offer_arr}});
  }
  TQ_ASSIGN_OR_RETURN(auto rs, c.ExecPipeline(statements));
  const db::PgResult& ev = rs[0];
  const db::PgResult& es = rs[1];
  std::map<int64_t, std::vector<std::string>> sites_of;
  for (int i = 0; i < es.rows(); ++i) sites_of[es.GetInt(i, 0)].push_back(Str(es, i, 1));

  struct Tr {
    std::string title, description, slug;
  };
  std::map<std::pair<int64_t, std::string>, Tr> trans;
  struct Perf {
    int64_t id;
    std::string name, slug;
  };
  std::map<int64_t, std::vector<Perf>> perfs;
  std::map<std::pair<int64_t, std::string>, std::string> city_names;
  struct Place {
    int64_t venue_id, category_id, city_id;
    std::string venue_name, timezone, country, city_default, starts_at;
  };
  std::unordered_map<int64_t, Place> places;
  size_t next = 2;
  if (content) {
    const db::PgResult& pl = rs[next++];
    for (int i = 0; i < pl.rows(); ++i) {
      places[pl.GetInt(i, 0)] = {
          pl.GetInt(i, 1), pl.GetInt(i, 2),
          pl.GetInt(i, 5), Str(pl, i, 3),
          Str(pl, i, 4),   Str(pl, i, 6),
          Str(pl, i, 7),   Str(pl, i, 8) + Offset(static_cast<int>(pl.GetInt(i, 9)))};
    }
    const db::PgResult& tr = rs[next++];
    const db::PgResult& pf = rs[next++];
    const db::PgResult& ct = rs[next++];
    for (int i = 0; i < tr.rows(); ++i) {
      trans[{tr.GetInt(i, 0), Str(tr, i, 1)}] = {Str(tr, i, 2), Str(tr, i, 3), Str(tr, i, 4)};
    }
    for (int i = 0; i < pf.rows(); ++i) {
      perfs[pf.GetInt(i, 0)].push_back({pf.GetInt(i, 1), Str(pf, i, 2), Str(pf, i, 3)});
    }
    for (int i = 0; i < ct.rows(); ++i) {
      city_names[{ct.GetInt(i, 0), Str(ct, i, 1)}] = Str(ct, i, 2);
    }
  }
  struct Listing {
    int64_t id;
    std::string section, row;
    std::optional<int64_t> seat_from, seat_to, face;
    int64_t available;
    std::string split, delivery;
    int64_t price;
    std::string currency;
  };
  std::map<int64_t, std::vector<Listing>> listings;
  std::set<std::pair<int64_t, std::string>> translated;  // (event, language), for offers
  if (offers) {
    const db::PgResult& ls = rs[next++];
    const db::PgResult& tl = rs[next++];
    for (int i = 0; i < ls.rows(); ++i) {
      listings[ls.GetInt(i, 0)].push_back({ls.GetInt(i, 1), Str(ls, i, 2), Str(ls, i, 3),
                                           OptInt(ls, i, 4), OptInt(ls, i, 5), OptInt(ls, i, 10),
                                           ls.GetInt(i, 6), Str(ls, i, 7), Str(ls, i, 8),
                                           ls.GetInt(i, 9), Str(ls, i, 11)});
    }
    for (int i = 0; i < tl.rows(); ++i) translated.insert({tl.GetInt(i, 0), Str(tl, i, 1)});
  }
  const std::set<int64_t> want_content(content_ids.begin(), content_ids.end());
  const std::set<int64_t> want_offers(offer_ids.begin(), offer_ids.end());

  std::set<int64_t> found;
  for (int i = 0; i < ev.rows(); ++i) {
    const int64_t id = ev.GetInt(i, 0);
    found.insert(id);
    const std::string status = Str(ev, i, 1);
    const int64_t starts = ev.GetInt(i, 2), ends = ev.GetInt(i, 3);
    const int64_t expire_at = std::max(starts, ends) + options_.grace_seconds;
    const bool expired = expire_at <= now_epoch;
    const bool upcoming = status != "cancelled" && starts > now_epoch;

    if (auto place = places.find(id); want_content.count(id) && place != places.end()) {
      UnitState st{Unit::Event(id), expired ? 0 : expire_at, {}, {}};
      const auto& [venue_id, category_id, city_id, venue_name, timezone, country, city_default,
                   starts_at] = place->second;
      for (const auto& site_code : expired ? std::vector<std::string>{} : sites_of[id]) {
        auto si = ctx.site_index.find(site_code);
        if (si == ctx.site_index.end()) continue;  // inactive site
        const auto& site = ctx.sites[si->second];
        bool shown = false;
        for (const auto& lang : site.languages) {
          const auto chain = Chain(lang.code, site.default_language);
          const Tr* t = nullptr;
          std::string title_lang;
          for (const auto& l : chain) {
            auto it = trans.find({id, l});
            if (it != trans.end()) {
              t = &it->second;
              title_lang = l;
              break;
            }
          }
          if (t == nullptr) continue;  // no translation a reader could be shown
          shown = true;
          std::string city = city_default;
          for (const auto& l : chain) {
            auto it = city_names.find({city_id, l});
            if (it != city_names.end()) {
              city = it->second;
              break;
            }
          }
          const auto* cat = ctx.CategoryNames(category_id, chain);
          auto ci = ctx.category_index.find(category_id);
          std::string cat_name = cat                              ? cat->name
                                 : ci != ctx.category_index.end() ? ctx.categories[ci->second].slug
                                                                  : "";
          json::monotonic_resource arena(4 * 1024);
          json::storage_ptr sp(&arena);
          json::array performers(sp);
          for (const auto& p : perfs[id]) {
            performers.push_back(
                json::object({{"id", p.id}, {"name", p.name}, {"slug", p.slug}}, sp));
          }
          json::object doc(
              {{"id", id},
               {"slug", t->slug},
               {"title", t->title},
               {"title_lang", title_lang},
               {"starts_at", starts_at},
               {"timezone", timezone},
               {"status", status},
               {"venue",
                {{"id", venue_id}, {"name", venue_name}, {"city", city}, {"country", country}}},
               {"category", {{"id", category_id}, {"name", cat_name}}},
               {"url", fmt::format("/{}/{}/events/{}-{}", site.code, lang.code, id, t->slug)},
               {"description", t->description},
               {"performers", std::move(performers)}},
              sp);
          st.docs.emplace_back(keys().Event(site.code, lang.code, id), Serialize(doc));
        }
        // A site with no document of the event (no translation a reader could be shown)
        // does not list it either.
        if (upcoming && shown) {
          st.zsets.emplace_back(keys().ByDate(site.code), starts);
          for (int64_t cat : ctx.CategoryAndAncestors(category_id)) {
            st.zsets.emplace_back(keys().InCategory(site.code, cat), starts);
          }
          st.zsets.emplace_back(keys().AtVenue(site.code, venue_id), starts);
          for (const auto& p : perfs[id]) {
            st.zsets.emplace_back(keys().OfPerformer(site.code, p.id), starts);
          }
        }
      }
      out.push_back(std::move(st));
    }

    if (want_offers.count(id)) {
      UnitState st{Unit::Offers(id), expired ? 0 : expire_at, {}, {}};
      const auto& evl = listings[id];
      int64_t tickets = 0;
      for (const auto& l : evl) tickets += l.available;
      for (const auto& site_code : expired ? std::vector<std::string>{} : sites_of[id]) {
        auto si = ctx.site_index.find(site_code);
        if (si == ctx.site_index.end()) continue;  // inactive site
        const auto& site = ctx.sites[si->second];
        // Shown on the site exactly when the content unit writes a document for some
        // language of it: a translation somewhere in that language's chain.
        bool shown = false;
        for (const auto& lang : site.languages) {
          for (const auto& l : Chain(lang.code, site.default_language)) {
            shown = shown || translated.count({id, l}) > 0;
          }
        }
        if (!shown) continue;
        // Prices in the site's currency, for the minimum and the order of listings.
        struct Priced {
          const Listing* l;
          std::optional<int64_t> site_price;
        };
        std::vector<Priced> priced;
        std::optional<int64_t> min_price;
        for (const auto& l : evl) {
          std::optional<int64_t> p;
          if (l.currency == site.currency) {
            p = l.price;
          } else if (auto r = ctx.rates.find({l.currency, site.currency}); r != ctx.rates.end()) {
            p = ConvertMinor(l.price, ctx.Minor(l.currency), r->second, ctx.Minor(site.currency));
          }
          priced.push_back({&l, p});
          if (p && (!min_price || *p < *min_price)) min_price = p;
        }
        std::stable_sort(priced.begin(), priced.end(), [](const Priced& a, const Priced& b) {
          if (a.site_price.has_value() != b.site_price.has_value()) return a.site_price.has_value();
          if (a.site_price && *a.site_price != *b.site_price) return *a.site_price < *b.site_price;
          return a.l->id < b.l->id;
        });
        json::monotonic_resource arena(16 * 1024);
        json::storage_ptr sp(&arena);
        json::array items(sp);
        items.reserve(priced.size());
        for (const auto& pr : priced) {
          const Listing& l = *pr.l;
          json::value display(sp);
          if (l.currency != site.currency && pr.site_price) {
            display = Money(*pr.site_price, site.currency, sp);
          }
          items.push_back(json::object(
              {{"id", l.id},
               {"section", l.section},
               {"row", l.row},
               {"seat_from", l.seat_from ? json::value(*l.seat_from, sp) : json::value(sp)},
               {"seat_to", l.seat_to ? json::value(*l.seat_to, sp) : json::value(sp)},
               {"quantity_available", l.available},
               {"split", l.split},
               {"delivery", l.delivery},
               {"price", Money(l.price, l.currency, sp)},
               {"face_value", l.face ? Money(*l.face, l.currency, sp) : json::value(sp)},
               {"display_price", std::move(display)}},
              sp));
        }
        json::object doc(
            {{"min_price", min_price ? Money(*min_price, site.currency, sp) : json::value(sp)},
             {"tickets_available", tickets},
             {"listings", std::move(items)}},
            sp);
        st.docs.emplace_back(keys().Offers(site.code, id), Serialize(doc));
        if (upcoming && min_price) st.zsets.emplace_back(keys().ByPrice(site.code), *min_price);
      }
      out.push_back(std::move(st));
    }
  }
  for (int64_t id : content_ids) {
    if (!found.count(id) || !places.count(id))
      out.push_back(UnitState{Unit::Event(id), 0, {}, {}});  // deleted
  }
  for (int64_t id : offer_ids) {
    if (!found.count(id)) out.push_back(UnitState{Unit::Offers(id), 0, {}, {}});
  }
  return Ok();
}

Status Projector::BuildVenues(db::Connection& c, const Context& ctx,
                              const std::vector<int64_t>& ids, std::vector<UnitState>& out) {
  const std::string arr = IdArray(ids);
  TQ_ASSIGN_OR_RETURN(auto v,
                      c.ExecPrepared("SELECT v.id, v.name, v.slug, v.address, v.city_id, ci.name, "
                                     "ci.country, v.latitude, v.longitude, v.timezone, v.capacity "
                                     "FROM venues v JOIN cities ci ON ci.id = v.city_id "
                                     "WHERE v.id = ANY($1::bigint[]) ORDER BY v.id",
                                     {arr}));
  TQ_ASSIGN_OR_RETURN(
      auto ct,
      c.ExecPrepared("SELECT city_id, language_code, name FROM city_translations "
                     "WHERE city_id IN (SELECT city_id FROM venues WHERE id = ANY($1::bigint[]))",
                     {arr}));
  std::map<std::pair<int64_t, std::string>, std::string> city_names;
  for (int i = 0; i < ct.rows(); ++i) city_names[{ct.GetInt(i, 0), Str(ct, i, 1)}] = Str(ct, i, 2);
  std::set<int64_t> found;
  for (int i = 0; i < v.rows(); ++i) {
    const int64_t id = v.GetInt(i, 0), city_id = v.GetInt(i, 4);
    found.insert(id);
    const std::string country = Str(v, i, 6);
    UnitState st{Unit::Venue(id), 0, {}, {}};
    for (const auto& lang : ctx.languages) {
      std::vector<std::string> chain{lang};
      if (lang != "en") chain.push_back("en");
      std::string city = Str(v, i, 5), country_name = country;
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        if (auto c1 = city_names.find({city_id, *it}); c1 != city_names.end()) city = c1->second;
        if (auto c2 = ctx.country_names.find({country, *it}); c2 != ctx.country_names.end()) {
          country_name = c2->second;
        }
      }
      json::object doc{
          {"id", id},
          {"name", Str(v, i, 1)},
          {"slug", Str(v, i, 2)},
          {"address", Str(v, i, 3)},
          {"city", json::object{{"id", city_id}, {"name", city}}},
          {"country", json::object{{"code", country}, {"name", country_name}}},
          {"latitude", std::strtod(Str(v, i, 7).c_str(), nullptr)},
          {"longitude", std::strtod(Str(v, i, 8).c_str(), nullptr)},
          {"timezone", Str(v, i, 9)},
          {"capacity", v.IsNull(i, 10) ? json::value() : json::value(v.GetInt(i, 10))}};
      st.docs.emplace_back(keys().Venue(lang, id), Serialize(doc));
    }
    out.push_back(std::move(st));
  }
  for (int64_t id : ids) {
    if (!found.count(id)) out.push_back(UnitState{Unit::Venue(id), 0, {}, {}});
  }
  return Ok();
}

Status Projector::BuildPerformers(db::Connection& c, const Context& ctx,
                                  const std::vector<int64_t>& ids, std::vector<UnitState>& out) {
  TQ_ASSIGN_OR_RETURN(auto p, c.ExecPrepared("SELECT id, name, slug, category_id FROM performers "
                                             "WHERE id = ANY($1::bigint[]) ORDER BY id",
                                             {IdArray(ids)}));
  std::set<int64_t> found;
  for (int i = 0; i < p.rows(); ++i) {
    const int64_t id = p.GetInt(i, 0);
    found.insert(id);
    auto category = OptInt(p, i, 3);
    UnitState st{Unit::Performer(id), 0, {}, {}};
    for (const auto& lang : ctx.languages) {
      std::vector<std::string> chain{lang};
      if (lang != "en") chain.push_back("en");
      json::value cat;
      if (category) {
        const auto* names = ctx.CategoryNames(*category, chain);
        auto ci = ctx.category_index.find(*category);
        cat =
            json::object{{"id", *category},
                         {"name", names                            ? names->name
                                  : ci != ctx.category_index.end() ? ctx.categories[ci->second].slug
                                                                   : ""}};
      }
      json::object doc{
          {"id", id}, {"name", Str(p, i, 1)}, {"slug", Str(p, i, 2)}, {"category", cat}};
      st.docs.emplace_back(keys().Performer(lang, id), Serialize(doc));
    }
    out.push_back(std::move(st));
  }
  for (int64_t id : ids) {
    if (!found.count(id)) out.push_back(UnitState{Unit::Performer(id), 0, {}, {}});
  }
  return Ok();
}

Result<std::vector<Unit>> Projector::AllUnits(db::Connection& c, const Scope& scope,
                                              int64_t now_epoch) {
  std::vector<Unit> units{Unit::Sites(), Unit::Categories()};
  std::string site_filter;
  std::vector<db::Param> params{std::to_string(now_epoch), std::to_string(options_.grace_seconds)};
  if (!scope.site.empty()) {
    params.push_back(scope.site);
    site_filter += fmt::format(" AND s.code = ${}", params.size());
  }
  if (!scope.lang.empty()) {
    params.push_back(scope.lang);
    site_filter += fmt::format(
        " AND EXISTS (SELECT 1 FROM site_languages sl WHERE sl.site_code = s.code "
        "AND sl.language_code = ${})",
        params.size());
  }
  TQ_ASSIGN_OR_RETURN(
      auto ev,
      c.ExecPrepared("SELECT e.id FROM events e WHERE extract(epoch FROM greatest(e.starts_at, "
                     "coalesce(e.ends_at, e.starts_at)))::bigint + $2::bigint > $1::bigint "
                     "AND EXISTS (SELECT 1 FROM event_sites es JOIN sites s ON s.code = "
                     "es.site_code WHERE es.event_id = e.id AND s.active" +
                         site_filter + ") ORDER BY e.id",
                     params));
  for (int i = 0; i < ev.rows(); ++i) {
    units.push_back(Unit::Event(ev.GetInt(i, 0)));
    units.push_back(Unit::Offers(ev.GetInt(i, 0)));
  }
  if (scope.site.empty()) {
    TQ_ASSIGN_OR_RETURN(auto v, c.Exec("SELECT id FROM venues ORDER BY id"));
    for (int i = 0; i < v.rows(); ++i) units.push_back(Unit::Venue(v.GetInt(i, 0)));
    TQ_ASSIGN_OR_RETURN(auto p, c.Exec("SELECT id FROM performers ORDER BY id"));
    for (int i = 0; i < p.rows(); ++i) units.push_back(Unit::Performer(p.GetInt(i, 0)));
  }
  return units;
}

}  // namespace taquilla::sync
