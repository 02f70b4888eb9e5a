#include "search/searcher.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "search/analyzer.h"
#include "search/document.h"
#include "search/index.h"
#include "search/iso_time.h"

namespace taquilla::search {

namespace {

Error Invalid(std::string_view param, std::string_view problem) {
  return MakeReason(ErrorCode::kInvalidArgument, "invalid_parameter", "Parameter '{}' {}.", param,
                    problem);
}

Result<int64_t> ParseInt(std::string_view name, const std::string& v, int64_t lo, int64_t hi) {
  if (v.empty() || v.size() > 19) return Invalid(name, "must be a whole number");
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (errno != 0 || end != v.c_str() + v.size()) return Invalid(name, "must be a whole number");
  if (n < lo || n > hi) return Invalid(name, fmt::format("must be between {} and {}", lo, hi));
  return static_cast<int64_t>(n);
}

Result<double> ParseDouble(std::string_view name, const std::string& v, double lo, double hi) {
  if (v.empty() || v.size() > 32) return Invalid(name, "must be a number");
  char* end = nullptr;
  errno = 0;
  double d = std::strtod(v.c_str(), &end);
  if (errno != 0 || end != v.c_str() + v.size() || !std::isfinite(d)) {
    return Invalid(name, "must be a number");
  }
  if (d < lo || d > hi) return Invalid(name, fmt::format("must be between {} and {}", lo, hi));
  return d;
}

Result<bool> ParseBool(std::string_view name, const std::string& v) {
  if (v == "1" || v == "true" || v == "yes" || v.empty()) return true;
  if (v == "0" || v == "false" || v == "no") return false;
  return Invalid(name, "must be 0, 1, true or false");
}

// YYYY-MM-DD (the whole day in UTC: its start for `from`, its end for `to`) or an ISO 8601
// time with an offset or Z.
Result<int64_t> ParseTime(std::string_view name, const std::string& v, bool end_of_day) {
  if (auto day = ParseIsoDate(v)) return end_of_day ? *day + 86399 : *day;
  if (auto t = ParseIsoTime(v)) return *t;
  if (v.size() == 10 && v[4] == '-' && v[7] == '-') return Invalid(name, "is not a valid date");
  return Invalid(name, "must be a date (YYYY-MM-DD) or a time (ISO 8601 with an offset)");
}

Error XapianError(const Xapian::Error& e, std::string_view what) {
  return MakeError(ErrorCode::kUnavailable, "{}: {}: {}", what, e.get_type(), e.get_msg());
}

// The date and price ranges of a request, checked on each candidate document (values
// are sortable_serialise'd, so byte order is numeric order).
class RangeDecider : public Xapian::MatchDecider {
 public:
  std::string date_lo, date_hi;  // date_hi empty: no upper bound
  bool price = false;
  std::string price_lo, price_hi;

  bool operator()(const Xapian::Document& doc) const override {
    const std::string date = doc.get_value(kDate);
    if (date < date_lo || (!date_hi.empty() && date > date_hi)) return false;
    if (price) {
      const std::string p = doc.get_value(kPrice);
      if (p.empty() || p < price_lo || p > price_hi) return false;
    }
    return true;
  }
};

}  // namespace

Result<SearchRequest> ParseSearchRequest(const std::map<std::string, std::string>& params) {
  SearchRequest r;
  auto get = [&](const char* k) -> const std::string* {
    auto it = params.find(k);
    return it == params.end() ? nullptr : &it->second;
  };
  if (auto* q = get("q")) {
    // Characters, not bytes: a 256-character Thai query is longer than 256 bytes.
    size_t chars = 0;
    for (unsigned char c : *q) chars += (c & 0xC0) != 0x80;
    if (chars > kMaxQueryChars) {
      return Invalid("q", fmt::format("is longer than {} characters", kMaxQueryChars));
    }
    r.q = *q;
  }
  if (auto* v = get("from")) {
    TQ_ASSIGN_OR_RETURN(r.from, ParseTime("from", *v, false));
  }
  if (auto* v = get("to")) {
    TQ_ASSIGN_OR_RETURN(r.to, ParseTime("to", *v, true));
  }
  if (r.from && r.to && *r.from > *r.to) return Invalid("from", "is after 'to'");
  if (auto* v = get("category")) {
    TQ_ASSIGN_OR_RETURN(r.category, ParseInt("category", *v, 1, INT64_MAX / 2));
  }
  constexpr int64_t kMaxPrice = 1'000'000'000'000LL;
  if (auto* v = get("price_min")) {
    TQ_ASSIGN_OR_RETURN(r.price_min, ParseInt("price_min", *v, 0, kMaxPrice));
  }
  if (auto* v = get("price_max")) {
    TQ_ASSIGN_OR_RETURN(r.price_max, ParseInt("price_max", *v, 0, kMaxPrice));
  }
  if (r.price_min && r.price_max && *r.price_min > *r.price_max) {
    return Invalid("price_min", "is above 'price_max'");
  }
  if (auto* v = get("available")) {
    TQ_ASSIGN_OR_RETURN(r.available, ParseBool("available", *v));
  }
  if (auto* v = get("prefix")) {
    TQ_ASSIGN_OR_RETURN(r.prefix, ParseBool("prefix", *v));
  }
  if (auto* v = get("near")) {
    auto comma = v->find(',');
    if (comma == std::string::npos) return Invalid("near", "must be lat,lon");
    TQ_ASSIGN_OR_RETURN(r.lat, ParseDouble("near", v->substr(0, comma), -90, 90));
    TQ_ASSIGN_OR_RETURN(r.lon, ParseDouble("near", v->substr(comma + 1), -180, 180));
  }
  if (auto* v = get("radius_km")) {
    TQ_ASSIGN_OR_RETURN(r.radius_km, ParseDouble("radius_km", *v, 0.001, 20'100));
    if (!r.lat) return Invalid("radius_km", "needs 'near'");
  }
  if (auto* v = get("sort")) {
    if (*v == "relevance") {
      r.sort = SortOrder::kRelevance;
    } else if (*v == "date") {
      r.sort = SortOrder::kDate;
    } else if (*v == "price") {
      r.sort = SortOrder::kPrice;
    } else {
      return Invalid("sort", "must be relevance, date or price");
    }
  }
  if (auto* v = get("page")) {
    TQ_ASSIGN_OR_RETURN(int64_t p, ParseInt("page", *v, 1, kMaxPage));
    r.page = static_cast<int>(p);
  }
  if (auto* v = get("per_page")) {
    TQ_ASSIGN_OR_RETURN(int64_t p, ParseInt("per_page", *v, 1, kMaxPerPage));
    r.per_page = static_cast<int>(p);
  }
  return r;
}

ShardAddress ParseShardAddress(const std::string& s) {
  ShardAddress a;
  auto colon = s.rfind(':');
  if (colon != std::string::npos && colon + 1 < s.size() && s.find('/') == std::string::npos) {
    char* end = nullptr;
    long port = std::strtol(s.c_str() + colon + 1, &end, 10);
    if (*end == '\0' && port > 0 && port < 65536) {
      a.host = s.substr(0, colon);
      a.port = static_cast<int>(port);
      return a;
    }
  }
  a.path = s;
  return a;
}

Result<Searcher> Searcher::Open(SearcherOptions options) {
  Searcher s(std::move(options));
  TQ_RETURN_IF_ERROR(s.OpenAll());
  return s;
}

Status Searcher::OpenAll() {
  try {
    std::vector<ShardAddress> shards = options_.shards;
    if (shards.empty() && !options_.index_dir.empty()) {
      TQ_ASSIGN_OR_RETURN(int64_t gen, LiveGeneration(options_.index_dir));
      const int n = gen > 0 ? CountShards(options_.index_dir, gen) : 0;
      for (int i = 0; i < n; ++i) shards.push_back({LiveShardPath(options_.index_dir, i), "", 0});
    }
    Xapian::Database db;
    std::vector<std::string> resolved;
    bool remote = false;
    for (const auto& s : shards) {
      if (s.path.empty()) {
        const auto ms = static_cast<unsigned>(options_.remote_timeout.count());
        db.add_database(Xapian::Remote::open(s.host, static_cast<unsigned>(s.port), ms, ms));
        remote = true;
      } else {
        std::error_code ec;
        std::string real = std::filesystem::canonical(s.path, ec).string();
        if (ec) {
          return MakeError(ErrorCode::kUnavailable, "index shard '{}' cannot be opened: {}", s.path,
                           ec.message());
        }
        db.add_database(Xapian::Database(real));
        resolved.push_back(std::move(real));
      }
    }
    if (db.size() == 0) {
      return MakeError(ErrorCode::kUnavailable,
                       "the search index in '{}' does not exist yet (is the indexer running?)",
                       options_.index_dir);
    }
    db_ = std::move(db);
    resolved_ = std::move(resolved);
    stamps_ = VersionStamps();
    has_remote_ = remote;
    last_reopen_ = std::chrono::steady_clock::now();
  } catch (const Xapian::Error& e) {
    return XapianError(e, "cannot open the search index");
  }
  return Ok();
}

Status Searcher::Refresh() {
  auto now = std::chrono::steady_clock::now();
  if (now - last_reopen_ < options_.reopen_interval) return Ok();
  last_reopen_ = now;
  // A local shard whose path now resolves elsewhere was swapped by a reindex.
  size_t k = 0;
  for (const auto& s : options_.shards) {
    if (s.path.empty()) continue;
    std::error_code ec;
    if (k >= resolved_.size() || std::filesystem::canonical(s.path, ec).string() != resolved_[k]) {
      return OpenAll();
    }
    ++k;
  }
  if (options_.shards.empty() && !options_.index_dir.empty()) {
    std::error_code ec;
    auto live = std::filesystem::canonical(LiveShardPath(options_.index_dir, 0), ec);
    if (ec || resolved_.empty() || live.string() != resolved_[0]) return OpenAll();
  }
  // Xapian's reopen re-reads each shard's version file and drops its block caches; a
  // glass database rewrites (renames) its "iamglass" at every commit, so when none moved
  // and no shard is remote there is nothing to reopen.
  auto stamps = VersionStamps();
  if (!has_remote_ && stamps == stamps_) return Ok();
  try {
    db_.reopen();
    stamps_ = std::move(stamps);
  } catch (const Xapian::Error&) {
    return OpenAll();
  }
  return Ok();
}

std::vector<std::pair<uint64_t, int64_t>> Searcher::VersionStamps() const {
  std::vector<std::pair<uint64_t, int64_t>> out;
  for (const auto& dir : resolved_) {
    struct stat st {};
    if (::stat((dir + "/iamglass").c_str(), &st) != 0) {
      out.emplace_back(0, -1);
    } else {
      out.emplace_back(
          static_cast<uint64_t>(st.st_ino),
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec);
    }
  }
  return out;
}

bool Searcher::HasMatches(const std::string& term, const SearchRequest& req) {
  Xapian::Enquire enquire(db_);
  enquire.set_query(Xapian::Query(Xapian::Query::OP_FILTER, Xapian::Query(term),
                                  Xapian::Query(SiteLangTerm(req.site, req.lang))));
  enquire.set_weighting_scheme(Xapian::BoolWeight());
  return !enquire.get_mset(0, 1).empty();
}

std::string Searcher::Suggest(const std::string& normalized, const SearchRequest& req) {
  // The spelling dictionary is shared by every language of a shard, so a suggestion is
  // only made for a word with no match in this site language, and only kept when the
  // suggested word has matches there.
  const Analyzer& analyzer = Analyzer::For(req.lang);
  std::string out, word;
  bool changed = false;
  auto flush = [&]() {
    if (word.empty()) return;
    std::string use = word;
    try {
      // A word matches as typed or through its stem (the query parser searches the stem).
      if (word.size() >= 3 && !HasMatches(word, req) &&
          !(analyzer.has_stemmer() && HasMatches("Z" + analyzer.Stem()(word), req))) {
        std::string s = db_.get_spelling_suggestion(word, 2);
        if (!s.empty() && HasMatches(s, req)) {
          use = s;
          changed = true;
        }
      }
    } catch (const Xapian::Error&) {
      // Remote shards serve no spelling data: no suggestion.
    }
    out += use;
    word.clear();
  };
  for (char ch : normalized) {
    const bool syntax = ch == ' ' || ch == '"' || ch == '*' || ch == '+' || ch == '-' ||
                        ch == '(' || ch == ')' || ch == '\t';
    if (syntax) {
      flush();
      out += ch;
    } else {
      word += ch;
    }
  }
  flush();
  return changed ? out : std::string();
}

uint64_t Searcher::DocCount() {
  (void)Refresh();
  try {
    return db_.get_doccount();
  } catch (const Xapian::Error&) {
    return 0;
  }
}

Result<SearchResult> Searcher::Search(const SearchRequest& req, int64_t now) {
  TQ_RETURN_IF_ERROR(Refresh());
  const Analyzer& analyzer = Analyzer::For(req.lang);
  SearchResult out;
  // Twice at most: a database modified under a long query is reopened and asked again.
  for (int attempt = 0;; ++attempt) {
    try {
      Xapian::Query text = Xapian::Query::MatchAll;
      std::string normalized = analyzer.Normalize(req.q, Analyzer::Purpose::kQuery);
      bool blank = normalized.find_first_not_of(" \t\r\n") == std::string::npos;
      if (!blank) {
        Xapian::QueryParser qp;
        qp.set_database(db_);
        qp.set_stemmer(analyzer.Stem());
        qp.set_stemming_strategy(Xapian::QueryParser::STEM_SOME);
        qp.set_default_op(Xapian::Query::OP_AND);
        unsigned flags = Xapian::QueryParser::FLAG_PHRASE | Xapian::QueryParser::FLAG_LOVEHATE |
                         Xapian::QueryParser::FLAG_CJK_NGRAM;
        if (req.prefix) flags |= Xapian::QueryParser::FLAG_PARTIAL;
        try {
          text = qp.parse_query(normalized, flags);
        } catch (const Xapian::QueryParserError&) {
          // Syntax the parser cannot read (unbalanced quotes...): plain words.
          text = qp.parse_query(normalized, Xapian::QueryParser::FLAG_CJK_NGRAM);
        }
        if (text.empty()) return out;  // only punctuation or stopwords: nothing to find
      }
      std::vector<Xapian::Query> filters;
      filters.emplace_back(SiteLangTerm(req.site, req.lang));
      const int64_t lo = std::max(req.from.value_or(0), now + 1);
      if (req.to && *req.to < lo) return out;
      RangeDecider ranges;
      ranges.date_lo = Xapian::sortable_serialise(static_cast<double>(lo));
      if (req.to) ranges.date_hi = Xapian::sortable_serialise(static_cast<double>(*req.to));
      if (req.price_min || req.price_max) {
        ranges.price = true;
        ranges.price_lo =
            Xapian::sortable_serialise(static_cast<double>(req.price_min.value_or(0)));
        ranges.price_hi =
            Xapian::sortable_serialise(static_cast<double>(req.price_max.value_or(INT64_MAX / 4)));
      }
      // The date and price ranges are checked per candidate by a match decider: as value
      // range queries, Xapian's AND may pick one to lead (a narrow price range estimates
      // few matches) and walk the slot's values across every site language. Remote shards
      // cannot run a decider, so they get the value range queries.
      if (has_remote_) {
        if (req.to) {
          filters.emplace_back(Xapian::Query::OP_VALUE_RANGE, kDate, ranges.date_lo,
                               ranges.date_hi);
        } else {
          filters.emplace_back(Xapian::Query::OP_VALUE_GE, kDate, ranges.date_lo);
        }
        if (ranges.price) {
          filters.emplace_back(Xapian::Query::OP_VALUE_RANGE, kPrice, ranges.price_lo,
                               ranges.price_hi);
        }
      }
      if (req.category) filters.emplace_back(CategoryTerm(*req.category));
      if (req.available) filters.emplace_back(std::string(kAvailableTerm));
      if (req.lat && req.lon) {
        // Great-circle distance from the point; documents beyond the radius do not match.
        auto* source = new Xapian::LatLongDistancePostingSource(
            kLatLong, Xapian::LatLongCoords(Xapian::LatLongCoord(*req.lat, *req.lon)),
            req.radius_km * 1000.0);
        filters.emplace_back(source->release());
      }
      Xapian::Query filter(Xapian::Query::OP_AND, filters.begin(), filters.end());
      Xapian::Query query(Xapian::Query::OP_FILTER, text, filter);

      Xapian::Enquire enquire(db_);
      enquire.set_query(query);
      SortOrder sort = req.sort.value_or(blank ? SortOrder::kDate : SortOrder::kRelevance);
      if (sort == SortOrder::kRelevance && blank) sort = SortOrder::kDate;
      switch (sort) {
        case SortOrder::kRelevance:
          enquire.set_sort_by_relevance_then_value(kDate, false);
          break;
        case SortOrder::kDate:
          enquire.set_sort_by_value_then_relevance(kDate, false);
          break;
        case SortOrder::kPrice:
          enquire.set_sort_by_value_then_relevance(kPriceSort, false);
          break;
      }
      // One value per match feeds both facets (month and category), split afterwards.
      Xapian::ValueCountMatchSpy facet_spy(kFacets);
      // Xapian 1.4 counts a remote shard's matches twice in match spies when the answer is
      // sorted by a value and longer than the page (multimatch.cc's "sorts lower than
      // min_item" path skips its remote check), so with remote shards the facets come from
      // a pass of their own, unsorted and unweighted.
      if (!has_remote_) {
        enquire.add_matchspy(&facet_spy);
      }
      const Xapian::doccount offset =
          static_cast<Xapian::doccount>(req.page - 1) * static_cast<Xapian::doccount>(req.per_page);
      // Every match is counted, so the total and the facets are exact.
      Xapian::MSet mset =
          enquire.get_mset(offset, static_cast<Xapian::doccount>(req.per_page), db_.get_doccount(),
                           nullptr, has_remote_ ? nullptr : &ranges);
      out.total = mset.get_matches_estimated();
      if (has_remote_ && out.total > 0) {
        Xapian::Enquire facets(db_);
        facets.set_query(query);
        facets.set_weighting_scheme(Xapian::BoolWeight());
        facets.add_matchspy(&facet_spy);
        facets.get_mset(0, 0, db_.get_doccount());
      }
      if (out.total == 0 && !blank) out.corrected_query = Suggest(normalized, req);
      for (auto it = mset.begin(); it != mset.end(); ++it) {
        Xapian::Document doc = it.get_document();
        SearchHit hit;
        hit.id = std::strtoll(doc.get_value(kEventId).c_str(), nullptr, 10);
        hit.score = sort == SortOrder::kRelevance ? it.get_percent() : 0;
        hit.data = doc.get_data();
        out.items.push_back(std::move(hit));
      }
      std::map<std::string, FacetCount> by_category;
      std::map<std::string, int64_t> by_month;
      for (auto it = facet_spy.values_begin(); it != facet_spy.values_end(); ++it) {
        const std::string v = *it;
        const auto n = static_cast<int64_t>(it.get_termfreq());
        const auto bar1 = v.find('|');
        const auto bar2 = bar1 == std::string::npos ? bar1 : v.find('|', bar1 + 1);
        by_month[v.substr(0, bar1)] += n;
        if (bar2 == std::string::npos) continue;
        const std::string id = v.substr(bar1 + 1, bar2 - bar1 - 1);
        auto& f = by_category[id];
        f.key = id;
        f.name = v.substr(bar2 + 1);
        f.count += n;
      }
      for (auto& [id, f] : by_category) out.categories.push_back(std::move(f));
      std::stable_sort(out.categories.begin(), out.categories.end(),
                       [](const FacetCount& a, const FacetCount& b) {
                         if (a.count != b.count) return a.count > b.count;
                         return std::strtoll(a.key.c_str(), nullptr, 10) <
                                std::strtoll(b.key.c_str(), nullptr, 10);
                       });
      for (const auto& [month, n] : by_month) out.months.push_back({month, "", n});
      return out;
    } catch (const Xapian::DatabaseModifiedError& e) {
      if (attempt > 0) return XapianError(e, "the search index changed under the query");
      TQ_RETURN_IF_ERROR(OpenAll());
      out = SearchResult{};
    } catch (const Xapian::NetworkError& e) {
      if (attempt > 0) return XapianError(e, "a remote index shard does not answer");
      TQ_RETURN_IF_ERROR(OpenAll());
      out = SearchResult{};
    } catch (const Xapian::Error& e) {
      return XapianError(e, "search failed");
    }
  }
}

}  // namespace taquilla::search
