// Searcher: answers search requests over one combined Xapian database made of local shards
// (database directories, by default every shard of the local index's live generation) and
// remote shards served by xapian-tcpsrv (host:port). Read servers own one per thread;
// `taquilla search` uses one.
//
// Freshness: before a query, at most every `reopen_interval`, the Searcher reopens its
// databases (Xapian's reopen: a cheap check when nothing changed), and opens them afresh
// when a local shard's path resolves to another directory (a reindex swapped the
// generation) or a reopen failed.
//
// ParseSearchRequest validates the API's query parameters (API.md's search endpoint plus
// the price, availability, sort and prefix filters): a parameter out of range is a
// kInvalidArgument with reason "invalid_parameter" that names it (HTTP 422). A query the
// query parser cannot read is retried as plain words, so no input gives an error page.
//
// Not thread-safe (Xapian::Database is not): one thread uses a Searcher.
#pragma once

#include <xapian.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace taquilla::search {

inline constexpr size_t kMaxQueryChars = 256;
inline constexpr int kMaxPerPage = 100;
inline constexpr int kMaxPage = 1000;

enum class SortOrder { kRelevance, kDate, kPrice };

struct SearchRequest {
  std::string site, lang;
  std::string q;
  std::optional<int64_t> from, to;              // start time bounds, epoch seconds (inclusive)
  std::optional<int64_t> category;              // the category or any of its subcategories
  std::optional<int64_t> price_min, price_max;  // minimum price, site currency minor units
  bool available = false;                       // only events with tickets on sale
  std::optional<double> lat, lon;               // near
  double radius_km = 50;
  std::optional<SortOrder> sort;  // default: relevance with a query, date without
  bool prefix = false;            // the last word is a prefix (search as you type)
  int page = 1, per_page = 20;
};

// From query parameters: q, from, to (YYYY-MM-DD or ISO 8601 with offset), category,
// price_min, price_max, available (0|1|true|false), near=lat,lon, radius_km, sort
// (relevance|date|price), prefix, page, per_page. site and lang are set by the caller.
// Unknown parameters are ignored (the HTTP layer owns lang and the like).
Result<SearchRequest> ParseSearchRequest(const std::map<std::string, std::string>& params);

struct SearchHit {
  int64_t id = 0;
  double score = 0;  // relevance in [0, 100] (percent of the best possible)
  std::string data;  // the document data: {"c": content, "o": offers summary}
};

struct FacetCount {
  std::string key;   // category id, or "YYYY-MM"
  std::string name;  // category name ("" for months)
  int64_t count = 0;
};

struct SearchResult {
  int64_t total = 0;
  std::vector<SearchHit> items;
  std::vector<FacetCount> categories;  // by count, then id
  std::vector<FacetCount> months;      // in month order
  std::string corrected_query;         // a spelling suggestion, or ""
};

struct ShardAddress {
  std::string path;  // a local database directory, or
  std::string host;  // a remote one served by xapian-tcpsrv
  int port = 0;
};

// "host:port" is remote, anything else a local path.
ShardAddress ParseShardAddress(const std::string& s);

struct SearcherOptions {
  // The shards to read. Empty: every shard of the live generation in `index_dir`.
  std::vector<ShardAddress> shards;
  std::string index_dir;
  std::chrono::milliseconds reopen_interval{200};
  std::chrono::milliseconds remote_timeout{2000};
};

class Searcher {
 public:
  // Errors: no shard at all, or a shard that cannot be opened.
  static Result<Searcher> Open(SearcherOptions options);

  Result<SearchResult> Search(const SearchRequest& request, int64_t now);
  // Documents in the combined database.
  uint64_t DocCount();

 private:
  explicit Searcher(SearcherOptions options) : options_(std::move(options)) {}
  Status OpenAll();
  Status Refresh();
  bool HasMatches(const std::string& term, const SearchRequest& request);
  std::string Suggest(const std::string& normalized, const SearchRequest& request);

  SearcherOptions options_;
  Xapian::Database db_;
  std::vector<std::pair<uint64_t, int64_t>> VersionStamps() const;

  std::vector<std::string> resolved_;                 // realpath of each local shard when opened
  std::vector<std::pair<uint64_t, int64_t>> stamps_;  // their version files (inode, mtime)
  bool has_remote_ = false;
  std::chrono::steady_clock::time_point last_reopen_{};
};

}  // namespace taquilla::search
