// ReadService: the read server's request handling, shared by its JSON API (server.cc) and
// its HTML pages (pages.cc). A route's builder returns a Built: the response plus, when
// it may be cached, the Redis keys it was built from. The service adds ETags, gzip,
// Cache-Control and 304s, caches what it may, and counts every request for /metrics.
//
// Thread-safety: routes are added before serving; then every method may be called from
// any thread (searchers are per thread).
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http/router.h"
#include "i18n/messages.h"
#include "read/cache.h"
#include "read/invalidator.h"
#include "read/replica.h"
#include "read/server.h"
#include "read/views.h"
#include "search/searcher.h"

namespace taquilla::read {

struct Built {
  http::Response res;
  std::vector<std::string> deps;
  bool cacheable = false;
};

class ReadService {
 public:
  using BuildFn = std::function<Built(const http::Request&, const http::Params&)>;

  explicit ReadService(ReadOptions options);
  ~ReadService();

  void Start();  // the invalidation channel
  void Stop();

  // Registers a GET route; `name` labels it in /metrics.
  void Route(std::string name, std::string pattern, BuildFn fn);
  void NotFound(BuildFn fn);
  // Keeps an object the routes refer to alive as long as the service.
  void Keep(std::shared_ptr<void> object) { kept_.push_back(std::move(object)); }

  // The server's handlers: the cache on the I/O thread, everything on the pool.
  std::optional<http::Response> Fast(const http::Request& req);
  http::Response Handle(const http::Request& req, const http::Peer& peer);

  std::string Metrics();
  // 200 when the replica is reachable and in sync with its master and the index is
  // open; otherwise 503 with the reason.
  Built Ready();

  // ---- for builders
  const ReadOptions& options() const { return options_; }
  Replica& replica() { return replica_; }
  const i18n::Messages& messages() const { return msgs_; }
  // This thread's searcher (opened on first use).
  Result<search::Searcher*> Searcher();
  // The site and language of a request; lang "" means the site's default. Errors:
  // kNotFound with reason unknown_site or unknown_language.
  Result<Audience> AudienceOf(const std::string& site, const std::string& lang);
  void CountIndexError() { index_errors_.fetch_add(1, std::memory_order_relaxed); }

  static Built Json(http::bhttp::status status, const boost::json::value& body,
                    std::vector<std::string> deps = {}, bool cacheable = false);
  static Built JsonText(std::string body, std::vector<std::string> deps, bool cacheable);
  static Built ApiError(const Error& e);

 private:
  struct RouteInfo {
    std::string name;
  };
  http::Response Finish(const http::Request& req, const CachedResponse& c) const;
  void Count(int route, unsigned status, std::chrono::nanoseconds took);
  // The response with its ETag, Cache-Control and Vary, and its gzip when `gzip`.
  static std::shared_ptr<CachedResponse> Seal(http::Response res, int route, bool gzip);

  const ReadOptions options_;
  const i18n::Messages& msgs_;
  ResponseCache cache_;
  Replica replica_;
  Invalidator invalidator_;
  http::Router router_;
  std::vector<RouteInfo> routes_;

  static constexpr int kMaxRoutes = 48;
  static constexpr std::array<unsigned, 12> kStatuses = {200, 301, 302, 303, 304, 400,
                                                         404, 405, 413, 422, 500, 503};
  static constexpr std::array<double, 12> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                      0.01,   0.025,   0.05,   0.1,   0.25,   1.0};
  struct Counters {
    std::array<std::atomic<uint64_t>, kStatuses.size() + 1> by_status{};  // then "other"
    std::array<std::atomic<uint64_t>, kBuckets.size() + 1> buckets{};     // then +Inf
    std::atomic<uint64_t> sum_ns{0};
  };
  std::array<Counters, kMaxRoutes> counters_;
  std::atomic<uint64_t> index_errors_{0};
  std::vector<std::shared_ptr<void>> kept_;
};

}  // namespace taquilla::read
