// taquilla-searchbench: query latency of the search index (taquilla::search::Searcher)
// beside PostgreSQL full-text search over the same documents (bench/search/run.sh).
//
// The PostgreSQL side is the table search_docs that run.sh fills from the source tables:
// one row per (site, language, event) the index holds a document for, with a tsvector
// built with the language's text search configuration (search_cfg), a GIN index on it and
// a btree on (site, lang, starts_at). The documents are the query pool: a fixed mix of
// queries (seeded) is drawn from them, so every query's words and filters come from a
// real document of the site language it is asked in:
//   - 15% browse queries without words (a category, sometimes dates, a place or a price
//     range; sorted by date or price), 85% text queries of 1-3 words of one title (not
//     PostgreSQL stopwords), 10% of them with the last word typed halfway (prefix);
//   - filters drawn independently on text queries: category subtree 20%, date range 20%,
//     price range 15%, near + radius 10%, tickets on sale 15%; sorts: relevance 70%,
//     date 20%, price 10%.
//
// Each query runs, single-threaded and one after the other (the order of the three rotates
// from query to query), as
//   xapian     Searcher::Search on the live index: the first 20 hits with their stored
//              data, the exact total, the category and month facets;
//   pg         one SQL statement: the first 20 rows (event_id, title, starts_at, min_price,
//              tickets) in the same order (ts_rank with title > performers > the rest, or
//              date, or price) and the exact total (count(*) of the matches);
//   pg_facets  the same plus the category and month facets, i.e. everything Xapian's
//              answer carries.
// The whole mix runs once untimed (warm-up), then --passes times timed; every timed run of
// a query is one sample. Last, 1,000 round trips of SELECT 1 give PostgreSQL's floor.
//
//   taquilla-searchbench --postgres URL --index-dir DIR [--queries 2000] [--passes 1]
//                        [--seed 1] [--per-page 20] [--out queries.tsv]
// Prints one JSON object on stdout: queries, passes, browse_queries, pool_docs, index_docs,
// xapian / pg / pg_facets / pg_select1 {p50_ms, p90_ms, p99_ms, max_ms, mean_ms}, and the
// shares of queries with results on each side, on both, and with the same total on both.
// --out writes every query with its totals and the last pass's times. Exits 1 when a query
// fails on either side.

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "redis/client.h"
#include "search/searcher.h"

namespace {

using namespace taquilla;
using Steady = std::chrono::steady_clock;

struct Args {
  std::string postgres, index_dir, out;
  std::string redis;  // --freshness: the Redis master (to see when sync made a change visible)
  int freshness = 0;  // --freshness N: measure N title changes instead of the query mix
  int queries = 2000;
  int passes = 1;
  uint64_t seed = 1;
  int per_page = 20;
};

[[noreturn]] void Usage(const std::string& why) {
  std::cerr << "taquilla-searchbench: " << why
            << "\nusage: taquilla-searchbench --postgres URL --index-dir DIR [--queries N] "
               "[--passes P] [--seed S] [--per-page K] [--out FILE]\n";
  std::exit(2);
}

[[noreturn]] void Die(const std::string& msg) {
  std::cerr << "taquilla-searchbench: " << msg << "\n";
  std::exit(1);
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string_view k = argv[i];
    if (i + 1 >= argc) Usage(std::string(k) + " needs a value");
    std::string v = argv[++i];
    if (k == "--postgres") {
      a.postgres = v;
    } else if (k == "--index-dir") {
      a.index_dir = v;
    } else if (k == "--out") {
      a.out = v;
    } else if (k == "--queries") {
      a.queries = std::atoi(v.c_str());
    } else if (k == "--passes") {
      a.passes = std::atoi(v.c_str());
    } else if (k == "--seed") {
      a.seed = std::strtoull(v.c_str(), nullptr, 10);
    } else if (k == "--freshness") {
      a.freshness = std::atoi(v.c_str());
    } else if (k == "--redis") {
      a.redis = v;
    } else if (k == "--per-page") {
      a.per_page = std::atoi(v.c_str());
    } else {
      Usage("unknown flag " + std::string(k));
    }
  }
  if (a.postgres.empty() || a.index_dir.empty()) Usage("--postgres and --index-dir are required");
  if (a.queries < 1 || a.passes < 1 || a.per_page < 1 || a.per_page > search::kMaxPerPage)
    Usage("bad count");
  return a;
}

// --- PostgreSQL -----------------------------------------------------------------------------

class Pg {
 public:
  explicit Pg(const std::string& url) : c_(PQconnectdb(url.c_str())) {
    if (PQstatus(c_) != CONNECTION_OK) Die("cannot connect to PostgreSQL: " + Error());
    // Quiet: a query of stopwords only draws a NOTICE (the mix leaves such words out).
    PQsetNoticeProcessor(
        c_, [](void*, const char*) {}, nullptr);
  }
  ~Pg() { PQfinish(c_); }
  Pg(const Pg&) = delete;
  Pg& operator=(const Pg&) = delete;

  // Runs `sql` with text parameters; the result is owned by the caller (PQclear).
  PGresult* Exec(const std::string& sql, const std::vector<std::string>& params = {}) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p.c_str());
    PGresult* r = PQexecParams(c_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0);
    const auto st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      std::string e = PQresultErrorMessage(r);
      PQclear(r);
      Die("SQL failed: " + e + "  in: " + sql);
    }
    return r;
  }
  void Run(const std::string& sql) { PQclear(Exec(sql)); }
  std::string Error() const { return PQerrorMessage(c_); }

 private:
  PGconn* c_;
};

std::optional<int64_t> OptInt(PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return std::nullopt;
  return std::strtoll(PQgetvalue(r, row, col), nullptr, 10);
}
std::optional<double> OptDouble(PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return std::nullopt;
  return std::strtod(PQgetvalue(r, row, col), nullptr);
}

// --- The query mix --------------------------------------------------------------------------

struct Doc {
  std::string site, lang, cfg, title;
  int64_t id = 0, starts = 0, category = 0;
  std::optional<int64_t> price;
  std::optional<double> lat, lon;
};

struct Query {
  std::string site, lang, cfg;
  std::vector<std::string> words;  // complete words
  std::string partial;             // the last word typed halfway (prefix search), or ""
  std::optional<int64_t> category, from, to, price_min, price_max;
  std::vector<int64_t> subtree;  // the category and its descendants
  bool available = false;
  std::optional<double> lat, lon;
  double radius_km = 50;
  std::string sort;  // "" (default), relevance, date, price

  bool blank() const { return words.empty() && partial.empty(); }
  std::string Text() const {
    std::string s;
    for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
    if (!partial.empty()) s += (s.empty() ? "" : " ") + partial;
    return s;
  }
  std::string Shape() const {
    std::string s = blank() ? "browse" : std::to_string(words.size() + !partial.empty()) + "w";
    if (!partial.empty()) s += "+prefix";
    if (category) s += "+cat";
    if (from) s += "+dates";
    if (price_min) s += "+price";
    if (lat) s += "+near";
    if (available) s += "+avail";
    if (!sort.empty()) s += "/" + sort;
    return s;
  }
};

std::string IsoUtc(int64_t epoch) {
  std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

size_t Utf8Chars(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// The first `n` characters of `s`.
std::string Utf8Prefix(const std::string& s, size_t n) {
  size_t i = 0, chars = 0;
  while (i < s.size()) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (chars == n) break;
      ++chars;
    }
    ++i;
  }
  return s.substr(0, i);
}

// Only code points below U+0580 (Latin, Greek, Cyrillic, most of Armenian): prefix search
// is asked in those scripts only, where a half-typed word is a prefix of a term on both
// sides (no word breaking, no n-grams).
bool SimpleScript(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0xD6 && (c & 0xC0) == 0xC0) return false;  // a lead byte of U+0580 or above
  }
  return true;
}

// The words of a title: split at spaces, ASCII punctuation and common Unicode punctuation;
// digits-only pieces dropped.
std::vector<std::string> Words(const std::string& title) {
  static const std::vector<std::string> kSeparators = {
      "\xE2\x80\x93", "\xE2\x80\x94", "\xC2\xAB",     "\xC2\xBB",     "\xE2\x80\x9C",
      "\xE2\x80\x9D", "\xE2\x80\x9E", "\xE2\x80\x98", "\xE2\x80\x99", "\xC2\xB7",
      "\xE3\x83\xBB", "\xE3\x80\x8C", "\xE3\x80\x8D", "\xE3\x80\x8E", "\xE3\x80\x8F",
      "\xE3\x80\x81", "\xE3\x80\x82", "\xEF\xBC\x8C", "\xEF\xBC\x9A", "\xEF\xBC\x81",
      "\xEF\xBC\x9F", "\xEF\xBC\x88", "\xEF\xBC\x89", "\xD8\x8C",     "\xD8\x9B",
      "\xD8\x9F",     "\xE3\x80\x80"};
  std::string s = title;
  for (const auto& sep : kSeparators) {
    for (size_t p = s.find(sep); p != std::string::npos; p = s.find(sep, p)) {
      s.replace(p, sep.size(), " ");
    }
  }
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty() && cur.find_first_not_of("0123456789") != std::string::npos) {
      out.push_back(cur);
    }
    cur.clear();
  };
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x80 && !std::isalnum(c)) {
      flush();
    } else {
      cur += ch;
    }
  }
  flush();
  return out;
}

class MixBuilder {
 public:
  MixBuilder(Pg& pg, uint64_t seed) : pg_(pg), rng_(seed) {}

  void Load() {
    PGresult* r = pg_.Exec(
        "SELECT d.site, d.lang, c.cfg::text, d.title, d.event_id, "
        "extract(epoch FROM d.starts_at)::bigint, d.category_id, d.min_price, d.lat, d.lon "
        "FROM search_docs d JOIN search_cfg c ON c.lang = d.lang "
        "ORDER BY d.site, d.lang, d.event_id");
    for (int i = 0; i < PQntuples(r); ++i) {
      Doc d;
      d.site = PQgetvalue(r, i, 0);
      d.lang = PQgetvalue(r, i, 1);
      d.cfg = PQgetvalue(r, i, 2);
      d.title = PQgetvalue(r, i, 3);
      d.id = std::strtoll(PQgetvalue(r, i, 4), nullptr, 10);
      d.starts = std::strtoll(PQgetvalue(r, i, 5), nullptr, 10);
      d.category = std::strtoll(PQgetvalue(r, i, 6), nullptr, 10);
      d.price = OptInt(r, i, 7);
      d.lat = OptDouble(r, i, 8);
      d.lon = OptDouble(r, i, 9);
      docs_.push_back(std::move(d));
    }
    PQclear(r);
    if (docs_.empty()) Die("search_docs is empty");
    r = pg_.Exec("SELECT id, parent_id FROM categories");
    for (int i = 0; i < PQntuples(r); ++i) {
      const int64_t id = std::strtoll(PQgetvalue(r, i, 0), nullptr, 10);
      if (auto p = OptInt(r, i, 1)) {
        parent_[id] = *p;
        children_[*p].push_back(id);
      }
    }
    PQclear(r);
  }

  size_t docs() const { return docs_.size(); }

  std::vector<Query> Build(int n) {
    std::vector<Query> out;
    out.reserve(static_cast<size_t>(n));
    std::uniform_int_distribution<size_t> pick_doc(0, docs_.size() - 1);
    while (static_cast<int>(out.size()) < n) {
      const Doc& d = docs_[pick_doc(rng_)];
      Query q;
      q.site = d.site;
      q.lang = d.lang;
      q.cfg = d.cfg;
      if (Chance(0.15)) {
        // Browsing: a category page, sometimes narrowed by dates, place or price.
        if (Chance(0.6)) SetCategory(q, d);
        if (Chance(0.3)) SetDates(q, d);
        if (Chance(0.2)) SetNear(q, d);
        if (Chance(0.2)) SetPrice(q, d);
        if (Chance(0.2)) q.sort = "price";
      } else {
        std::vector<std::string> words;
        for (auto& w : Words(d.title)) {
          if (Utf8Chars(w) >= 3 && !Stopword(d.cfg, w)) words.push_back(std::move(w));
        }
        if (words.empty()) continue;
        const double u = Uniform();
        size_t k = u < 0.55 ? 1 : u < 0.9 ? 2 : 3;
        k = std::min(k, words.size());
        // k distinct words of the title, in title order.
        std::vector<size_t> idx(words.size());
        for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
        std::shuffle(idx.begin(), idx.end(), rng_);
        idx.resize(k);
        std::sort(idx.begin(), idx.end());
        for (size_t i : idx) q.words.push_back(words[i]);
        const std::string& last = q.words.back();
        const size_t chars = Utf8Chars(last);
        if (Chance(0.1) && chars >= 5 && SimpleScript(last)) {
          std::string partial = Utf8Prefix(last, std::max<size_t>(3, (chars + 1) / 2));
          if (!Stopword(d.cfg, partial)) {
            q.partial = partial;
            q.words.pop_back();
          }
        }
        if (Chance(0.2)) SetCategory(q, d);
        if (Chance(0.2)) SetDates(q, d);
        if (Chance(0.15)) SetPrice(q, d);
        if (Chance(0.1)) SetNear(q, d);
        if (Chance(0.15)) q.available = true;
        const double s = Uniform();
        q.sort = s < 0.7 ? "" : s < 0.9 ? "date" : "price";
      }
      out.push_back(std::move(q));
    }
    return out;
  }

 private:
  double Uniform() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  bool Chance(double p) { return Uniform() < p; }
  int64_t Between(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }

  // The document's category or one of its ancestors, and the subtree under it.
  void SetCategory(Query& q, const Doc& d) {
    std::vector<int64_t> path{d.category};
    for (auto it = parent_.find(d.category); it != parent_.end() && path.size() < 32;
         it = parent_.find(it->second)) {
      path.push_back(it->second);
    }
    q.category = path[static_cast<size_t>(Between(0, static_cast<int64_t>(path.size()) - 1))];
    std::vector<int64_t> stack{*q.category};
    while (!stack.empty()) {
      const int64_t c = stack.back();
      stack.pop_back();
      q.subtree.push_back(c);
      if (auto it = children_.find(c); it != children_.end()) {
        stack.insert(stack.end(), it->second.begin(), it->second.end());
      }
    }
    std::sort(q.subtree.begin(), q.subtree.end());
  }
  // A window of 1 to 13 weeks around the document's start.
  void SetDates(Query& q, const Doc& d) {
    constexpr int64_t kDay = 86400;
    q.from = d.starts - Between(0, 30) * kDay;
    q.to = d.starts + Between(0, 60) * kDay;
  }
  void SetPrice(Query& q, const Doc& d) {
    if (!d.price) return;
    const double p = static_cast<double>(*d.price);
    q.price_min = static_cast<int64_t>(p * std::uniform_real_distribution<double>(0.3, 1)(rng_));
    q.price_max = static_cast<int64_t>(p * std::uniform_real_distribution<double>(1, 3)(rng_));
  }
  void SetNear(Query& q, const Doc& d) {
    if (!d.lat || !d.lon) return;
    q.lat = *d.lat;
    q.lon = *d.lon;
    q.radius_km = static_cast<double>(Between(10, 200));
  }
  // True when PostgreSQL's configuration drops the word (a stopword): such a word would
  // make the PostgreSQL query match nothing, which is no comparison.
  bool Stopword(const std::string& cfg, const std::string& w) {
    auto key = cfg + "\x1f" + w;
    if (auto it = stop_cache_.find(key); it != stop_cache_.end()) return it->second;
    PGresult* r = pg_.Exec("SELECT numnode(plainto_tsquery($1::regconfig, $2)) = 0", {cfg, w});
    const bool stop = std::string_view(PQgetvalue(r, 0, 0)) == "t";
    PQclear(r);
    stop_cache_[key] = stop;
    return stop;
  }

  Pg& pg_;
  std::mt19937_64 rng_;
  std::vector<Doc> docs_;
  std::map<int64_t, int64_t> parent_;
  std::map<int64_t, std::vector<int64_t>> children_;
  std::map<std::string, bool> stop_cache_;
};

// --- The two sides ----------------------------------------------------------------------------

search::SearchRequest XapianRequest(const Query& q, int per_page) {
  std::map<std::string, std::string> p;
  p["q"] = q.Text();
  if (!q.partial.empty()) p["prefix"] = "1";
  if (q.category) p["category"] = std::to_string(*q.category);
  if (q.from) p["from"] = IsoUtc(*q.from);
  if (q.to) p["to"] = IsoUtc(*q.to);
  if (q.price_min) p["price_min"] = std::to_string(*q.price_min);
  if (q.price_max) p["price_max"] = std::to_string(*q.price_max);
  if (q.available) p["available"] = "1";
  if (q.lat) {
    char near[64];
    std::snprintf(near, sizeof near, "%.6f,%.6f", *q.lat, *q.lon);
    p["near"] = near;
    p["radius_km"] = std::to_string(q.radius_km);
  }
  if (!q.sort.empty()) p["sort"] = q.sort;
  p["per_page"] = std::to_string(per_page);
  auto r = search::ParseSearchRequest(p);
  if (!r.ok()) Die("ParseSearchRequest: " + r.error().message);
  r->site = q.site;
  r->lang = q.lang;
  return *r;
}

struct PgQuery {
  std::string sql;
  std::vector<std::string> params;
};

// The SQL of a query. One statement: the matches are computed once (a MATERIALIZED CTE),
// then the page (ORDER BY ... LIMIT), the exact total and, with `facets`, the category and
// month counts are read from them.
PgQuery BuildSql(const Query& q, int64_t now, int per_page, bool facets) {
  PgQuery out;
  auto param = [&](std::string v) {
    out.params.push_back(std::move(v));
    return "$" + std::to_string(out.params.size());
  };
  // Parameters are numbered in the order param() is called, so each call is a statement
  // of its own (the operands of + are not sequenced).
  std::string from = "search_docs d";
  const std::string site = param(q.site);
  const std::string lang = param(q.lang);
  const std::string now_p = param(std::to_string(now));
  std::string where = "d.site = " + site + " AND d.lang = " + lang +
                      " AND d.starts_at > to_timestamp(" + now_p + ")";
  std::string rank = "0::real";
  if (!q.blank()) {
    const std::string cfg = param(q.cfg) + "::regconfig";
    std::string tsq;
    if (!q.words.empty()) {
      std::string w;
      for (const auto& x : q.words) w += (w.empty() ? "" : " ") + x;
      const std::string wp = param(w);
      tsq = "websearch_to_tsquery(" + cfg + ", " + wp + ")";
    }
    if (!q.partial.empty()) {
      const std::string pp = param("'" + q.partial + "':*");
      std::string p = "to_tsquery(" + cfg + ", " + pp + ")";
      tsq = tsq.empty() ? p : "tsquery_and(" + tsq + ", " + p + ")";  // the && operator
    }
    from += ", " + tsq + " tq";
    where += " AND d.tsv @@ tq";
    // Weights D, C, B, A: the rest 1/3, performers 2/3, title 1 (the index: 1, 2, 3).
    rank = "ts_rank('{0.1, 0.3333, 0.6667, 1.0}', d.tsv, tq)";
  }
  if (q.category) {
    std::string ids = "{";
    for (size_t i = 0; i < q.subtree.size(); ++i) {
      ids += (i ? "," : "") + std::to_string(q.subtree[i]);
    }
    const std::string p = param(ids + "}");
    where += " AND d.category_id = ANY(" + p + "::bigint[])";
  }
  if (q.from) {
    const std::string p = param(std::to_string(*q.from));
    where += " AND d.starts_at >= to_timestamp(" + p + ")";
  }
  if (q.to) {
    const std::string p = param(std::to_string(*q.to));
    where += " AND d.starts_at <= to_timestamp(" + p + ")";
  }
  if (q.price_min) {
    const std::string p = param(std::to_string(*q.price_min));
    where += " AND d.min_price >= " + p;
  }
  if (q.price_max) {
    const std::string p = param(std::to_string(*q.price_max));
    where += " AND d.min_price <= " + p;
  }
  if (q.available) where += " AND d.tickets > 0";
  if (q.lat) {
    // Great-circle distance on the sphere Xapian's LatLongDistancePostingSource uses
    // (radius 6,372,797.6 m), after a bounding box that only saves trigonometry.
    constexpr double kEarthKm = 6372.7976;
    const double dlat = q.radius_km / kEarthKm * 180 / M_PI;
    const std::string la = param(std::to_string(*q.lat));
    const std::string lo = param(std::to_string(*q.lon));
    const std::string rp = param(std::to_string(q.radius_km));
    where += " AND d.lat BETWEEN " + la + "::float8 - " + std::to_string(dlat) + " AND " + la +
             "::float8 + " + std::to_string(dlat);
    const double coslat = std::cos(*q.lat * M_PI / 180);
    if (std::abs(*q.lat) + dlat < 85) {
      const double dlon = dlat / coslat;
      if (*q.lon - dlon > -180 && *q.lon + dlon < 180) {
        where += " AND d.lon BETWEEN " + lo + "::float8 - " + std::to_string(dlon) + " AND " + lo +
                 "::float8 + " + std::to_string(dlon);
      }
    }
    where += " AND 2 * " + std::to_string(kEarthKm) + " * asin(sqrt(power(sin(radians(d.lat - " +
             la + "::float8) / 2), 2) + cos(radians(" + la +
             "::float8)) * cos(radians(d.lat)) * power(sin(radians(d.lon - " + lo +
             "::float8) / 2), 2))) <= " + rp + "::float8";
  }
  std::string sort = q.sort.empty() ? (q.blank() ? "date" : "relevance") : q.sort;
  if (sort == "relevance" && q.blank()) sort = "date";
  const std::string order = sort == "relevance" ? "r DESC, starts_at"
                            : sort == "date"    ? "starts_at, r DESC"
                                                : "min_price NULLS LAST, r DESC";
  const std::string limit = std::to_string(per_page);
  std::string sql =
      "WITH m AS MATERIALIZED (SELECT d.event_id, d.title, d.starts_at, d.min_price, d.tickets, "
      "d.category_id, d.month, " +
      rank + " AS r FROM " + from + " WHERE " + where + ") ";
  if (!facets) {
    sql +=
        "SELECT event_id, title, starts_at, min_price, tickets, (SELECT count(*) FROM m) "
        "FROM m ORDER BY " +
        order + " LIMIT " + limit;
  } else {
    sql +=
        "(SELECT 0 AS kind, event_id, title, starts_at, min_price, tickets, NULL::text AS key, "
        "NULL::bigint AS n FROM m ORDER BY " +
        order + " LIMIT " + limit +
        ") UNION ALL SELECT 1, NULL, NULL, NULL, NULL, NULL, category_id::text, count(*) FROM m "
        "GROUP BY category_id UNION ALL SELECT 2, NULL, NULL, NULL, NULL, NULL, month, count(*) "
        "FROM m GROUP BY month";
  }
  out.sql = std::move(sql);
  return out;
}

struct Outcome {
  int64_t total = 0;
  size_t items = 0;
  double ms = 0;
};

Outcome RunXapian(search::Searcher& s, const search::SearchRequest& req, int64_t now) {
  const auto t0 = Steady::now();
  auto r = s.Search(req, now);
  const auto t1 = Steady::now();
  if (!r.ok()) Die("Searcher::Search: " + r.error().message);
  return {r->total, r->items.size(), std::chrono::duration<double, std::milli>(t1 - t0).count()};
}

Outcome RunPg(Pg& pg, const PgQuery& q, bool facets) {
  const auto t0 = Steady::now();
  PGresult* r = pg.Exec(q.sql, q.params);
  const auto t1 = Steady::now();
  Outcome o;
  o.ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  for (int i = 0; i < PQntuples(r); ++i) {
    if (!facets) {
      ++o.items;
      o.total = std::strtoll(PQgetvalue(r, i, 5), nullptr, 10);
    } else if (std::string_view(PQgetvalue(r, i, 0)) == "0") {
      ++o.items;
    } else if (std::string_view(PQgetvalue(r, i, 0)) == "1") {
      o.total += std::strtoll(PQgetvalue(r, i, 7), nullptr, 10);  // one category per doc
    }
  }
  PQclear(r);
  return o;
}

struct Stats {
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};

Stats StatsOf(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    // Nearest rank.
    size_t k = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
    return v[std::min(v.size() - 1, k == 0 ? 0 : k - 1)];
  };
  s.p50 = at(0.5);
  s.p90 = at(0.9);
  s.p99 = at(0.99);
  s.max = v.back();
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  return s;
}

std::string Json(const Stats& s) {
  char buf[256];
  std::snprintf(
      buf, sizeof buf,
      "{\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"mean_ms\":%.3f}", s.p50,
      s.p90, s.p99, s.max, s.mean);
  return buf;
}

std::string Tsv(std::string s) {
  for (char& c : s) {
    if (c == '\t' || c == '\n') c = ' ';
  }
  return s;
}

}  // namespace

// --freshness N: N times, appends a new word to the title of an upcoming event in its
// site's default language (one autocommitted UPDATE), then polls, every 0.2 ms, the Redis
// master for the event's document with the word (sync's part: commit -> projection) and a
// Searcher with no reopen delay for a hit (the whole pipeline: commit -> sync -> queue ->
// indexer -> committed index). Prints {"samples", "redis": Stats, "index": Stats} (ms after
// the UPDATE returned). A read server adds at most its reopen interval (200 ms default).
int RunFreshness(const Args& args, Pg& pg) {
  PGresult* r = pg.Exec(
      "SELECT es.site_code, s.default_language, e.id FROM events e "
      "JOIN event_sites es ON es.event_id = e.id JOIN sites s ON s.code = es.site_code "
      "JOIN event_translations t ON t.event_id = e.id AND t.language_code = s.default_language "
      "WHERE e.status = 'scheduled' AND e.starts_at > now() + interval '2 days' "
      "ORDER BY md5(e.id::text || es.site_code) LIMIT $1",
      {std::to_string(args.freshness)});
  struct Target {
    std::string site, lang;
    int64_t id;
  };
  std::vector<Target> targets;
  for (int i = 0; i < PQntuples(r); ++i) {
    targets.push_back(
        {PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), std::strtoll(PQgetvalue(r, i, 2), nullptr, 10)});
  }
  PQclear(r);
  if (targets.empty()) Die("no upcoming event to change");
  auto redis = redis::Client::Connect(args.redis);
  if (!redis.ok()) Die("cannot connect to Redis: " + redis.error().message);
  search::SearcherOptions so;
  so.index_dir = args.index_dir;
  so.reopen_interval = std::chrono::milliseconds(0);
  auto searcher = search::Searcher::Open(so);
  if (!searcher.ok()) Die("cannot open the index: " + searcher.error().message);
  std::mt19937_64 rng(args.seed);
  std::vector<double> redis_ms, index_ms;
  for (size_t i = 0; i < targets.size(); ++i) {
    const Target& t = targets[i];
    std::string word = "zqfresh";
    for (int k = 0; k < 8; ++k) word += static_cast<char>('a' + rng() % 26);
    pg.Run("UPDATE event_translations SET title = title || ' " + word +
           "' WHERE event_id = " + std::to_string(t.id) + " AND language_code = '" + t.lang + "'");
    const auto t0 = Steady::now();
    const std::string key = "tq:ev:" + t.site + ":" + t.lang + ":" + std::to_string(t.id);
    search::SearchRequest req;
    req.site = t.site;
    req.lang = t.lang;
    req.q = word;
    double seen_redis = -1, seen_index = -1;
    while (seen_redis < 0 || seen_index < 0) {
      const double ms = std::chrono::duration<double, std::milli>(Steady::now() - t0).count();
      if (ms > 10'000)
        Die("change " + word + " of event " + std::to_string(t.id) + " not seen in 10 s");
      if (seen_redis < 0) {
        auto v = redis->Cmd("GET", key);
        if (v.ok() && v->IsString() && v->str().find(word) != std::string_view::npos)
          seen_redis = ms;
      }
      if (seen_index < 0) {
        auto res = searcher->Search(req, static_cast<int64_t>(std::time(nullptr)));
        if (res.ok() && res->total > 0) seen_index = ms;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    redis_ms.push_back(seen_redis);
    index_ms.push_back(seen_index);
  }
  std::printf("{\"samples\":%zu,\"redis\":%s,\"index\":%s}\n", targets.size(),
              Json(StatsOf(redis_ms)).c_str(), Json(StatsOf(index_ms)).c_str());
  return 0;
}

int main(int argc, char** argv) {
  const Args args = ParseArgs(argc, argv);
  Pg pg(args.postgres);
  if (args.freshness > 0) return RunFreshness(args, pg);
  // The PostgreSQL side at its best for short queries: no JIT compilation (its default
  // jit_above_cost makes the larger matches pay tens of milliseconds of compiling).
  pg.Run("SET jit = off");
  pg.Run("SET statement_timeout = '60s'");

  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  MixBuilder mix(pg, args.seed);
  mix.Load();
  const std::vector<Query> queries = mix.Build(args.queries);

  search::SearcherOptions so;
  so.index_dir = args.index_dir;
  auto searcher = search::Searcher::Open(so);
  if (!searcher.ok()) Die("cannot open the index: " + searcher.error().message);
  const uint64_t index_docs = searcher->DocCount();

  std::vector<search::SearchRequest> xreq;
  std::vector<PgQuery> pq, pqf;
  for (const auto& q : queries) {
    xreq.push_back(XapianRequest(q, args.per_page));
    pq.push_back(BuildSql(q, now, args.per_page, false));
    pqf.push_back(BuildSql(q, now, args.per_page, true));
  }

  const size_t n = queries.size();
  std::vector<Outcome> xo(n), po(n), pfo(n);
  std::vector<double> xms, pms, pfms;
  for (int pass = 0; pass <= args.passes; ++pass) {  // 0: warm-up, then the timed passes
    const auto t0 = Steady::now();
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < 3; ++j) {
        switch ((i + j) % 3) {
          case 0:
            xo[i] = RunXapian(*searcher, xreq[i], now);
            if (pass > 0) xms.push_back(xo[i].ms);
            break;
          case 1:
            po[i] = RunPg(pg, pq[i], false);
            if (pass > 0) pms.push_back(po[i].ms);
            break;
          default:
            pfo[i] = RunPg(pg, pqf[i], true);
            if (pass > 0) pfms.push_back(pfo[i].ms);
            break;
        }
      }
    }
    std::cerr << "taquilla-searchbench: " << (pass == 0 ? "warm-up" : "timed") << " pass of " << n
              << " queries in " << std::chrono::duration<double>(Steady::now() - t0).count()
              << " s\n";
  }
  // The floor of any PostgreSQL answer: a round trip of SELECT 1 on the same connection.
  std::vector<double> floor_ms;
  for (int i = 0; i < 1000; ++i) {
    const auto t0 = Steady::now();
    pg.Run("SELECT 1");
    floor_ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - t0).count());
  }

  size_t x_nonzero = 0, p_nonzero = 0, both_nonzero = 0, same_total = 0, facets_total_differs = 0;
  size_t blank = 0;
  for (size_t i = 0; i < n; ++i) {
    x_nonzero += xo[i].total > 0;
    p_nonzero += po[i].total > 0;
    both_nonzero += xo[i].total > 0 && po[i].total > 0;
    same_total += xo[i].total == po[i].total;
    facets_total_differs += pfo[i].total != po[i].total;
    blank += queries[i].blank();
  }
  if (facets_total_differs > 0) {
    Die(std::to_string(facets_total_differs) +
        " queries: the facet counts do not add up to the "
        "total (a bug in the SQL)");
  }
  if (!args.out.empty()) {
    std::ofstream f(args.out);
    f << "i\tsite\tlang\tcfg\tshape\tq\txapian_total\tpg_total\txapian_ms\tpg_ms\tpg_facets_ms\n";
    for (size_t i = 0; i < n; ++i) {
      const Query& q = queries[i];
      char times[96];
      std::snprintf(times, sizeof times, "%.3f\t%.3f\t%.3f", xo[i].ms, po[i].ms, pfo[i].ms);
      f << i << '\t' << q.site << '\t' << q.lang << '\t' << q.cfg << '\t' << q.Shape() << '\t'
        << Tsv(q.Text()) << '\t' << xo[i].total << '\t' << po[i].total << '\t' << times << '\n';
    }
  }
  const Stats xs = StatsOf(xms), ps = StatsOf(pms), pfs = StatsOf(pfms);
  const Stats fs = StatsOf(floor_ms);
  const double dn = static_cast<double>(n);
  std::printf(
      "{\"queries\":%zu,\"passes\":%d,\"browse_queries\":%zu,\"pool_docs\":%zu,"
      "\"index_docs\":%llu,\"xapian\":%s,\"pg\":%s,\"pg_facets\":%s,\"pg_select1\":%s,"
      "\"xapian_nonzero_share\":%.3f,\"pg_nonzero_share\":%.3f,\"both_nonzero_share\":%.3f,"
      "\"same_total_share\":%.3f}\n",
      n, args.passes, blank, mix.docs(), static_cast<unsigned long long>(index_docs),
      Json(xs).c_str(), Json(ps).c_str(), Json(pfs).c_str(), Json(fs).c_str(),
      static_cast<double>(x_nonzero) / dn, static_cast<double>(p_nonzero) / dn,
      static_cast<double>(both_nonzero) / dn, static_cast<double>(same_total) / dn);
  return 0;
}
