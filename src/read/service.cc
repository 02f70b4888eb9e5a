#include "read/service.h"

#include <fmt/format.h>

#include <thread>
#include <unordered_map>

#include "common/log.h"
#include "http/response.h"
#include "sync/projector.h"
#include "web/render.h"

namespace taquilla::read {

namespace json = boost::json;
namespace bhttp = http::bhttp;
using http::Request;
using http::Response;

namespace {

// The route a request on this thread went to, set by the route's wrapper.
thread_local int tl_route = 0;
// This request must not be answered from, or stored in, the cache (read-your-writes).
thread_local bool tl_bypass = false;

constexpr int kRouteOther = 0;
constexpr int kRouteRedirect = 1;

// Paths the secure app owns: a read server answers 303 to the same path there.
bool Transactional(std::string_view path) {
  static constexpr std::string_view kPrefixes[] = {
      "/login",           "/logout",          "/register",     "/sell",          "/checkout",
      "/account",         "/admin",           "/hold",         "/listings",      "/api/v1/users",
      "/api/v1/sessions", "/api/v1/listings", "/api/v1/holds", "/api/v1/orders", "/api/v1/me",
      "/api/v1/admin",    "/sessions",        "/holds",        "/orders",        "/me"};
  for (auto p : kPrefixes) {
    if (path.substr(0, p.size()) == p &&
        (path.size() == p.size() || path[p.size()] == '/' || path[p.size()] == '?')) {
      return true;
    }
  }
  return false;
}

bool Compressible(std::string_view type) {
  return type.substr(0, 5) == "text/" || type.find("json") != std::string_view::npos ||
         type.find("xml") != std::string_view::npos ||
         type.find("javascript") != std::string_view::npos;
}

}  // namespace

ReadService::ReadService(ReadOptions options)
    : options_(std::move(options)),
      msgs_(i18n::Messages::Default()),
      cache_(ResponseCache::Options{options_.cache_bytes, options_.max_stale}),
      replica_(options_.replica_url, options_.prefix, options_.max_stale),
      invalidator_(InvalidatorOptions{options_.replica_url, options_.prefix, options_.ping_interval,
                                      options_.max_stale},
                   cache_, [this] { replica_.MarkSitesStale(); }) {
  routes_.push_back({"other"});
  routes_.push_back({"redirect"});
}

ReadService::~ReadService() { Stop(); }

void ReadService::Start() {
  if (options_.cache_bytes > 0) invalidator_.Start();
}

void ReadService::Stop() { invalidator_.Stop(); }

std::shared_ptr<CachedResponse> ReadService::Seal(Response res, int route, bool gzip) {
  auto c = std::make_shared<CachedResponse>();
  c->route = route;
  if (res.result() == bhttp::status::ok && res[bhttp::field::etag].empty()) {
    res.set(bhttp::field::etag, web::ETagOf(res.body()));
  }
  if (res[bhttp::field::cache_control].empty()) {
    res.set(bhttp::field::cache_control,
            res.result() == bhttp::status::ok ? "public, max-age=0, must-revalidate" : "no-cache");
  }
  if (res.body().size() >= 512 && Compressible(res[bhttp::field::content_type])) {
    res.set(bhttp::field::vary, "Accept-Encoding");
    // Compressed once for every later reader when cached, else only for a client that
    // asked.
    if (gzip) c->gzip = web::Gzip(res.body());
  }
  c->response = std::move(res);
  return c;
}

Response ReadService::Finish(const Request& req, const CachedResponse& c) const {
  const Response& r = c.response;
  if (r.result() == bhttp::status::ok) {
    auto inm = req[bhttp::field::if_none_match];
    if (!inm.empty() && web::ETagMatches(inm, r[bhttp::field::etag])) {
      Response nm{bhttp::status::not_modified, 11};
      nm.set(bhttp::field::etag, r[bhttp::field::etag]);
      nm.set(bhttp::field::cache_control, r[bhttp::field::cache_control]);
      if (!r[bhttp::field::vary].empty()) nm.set(bhttp::field::vary, r[bhttp::field::vary]);
      return nm;
    }
  }
  if (!c.gzip.empty() && web::AcceptsGzip(req[bhttp::field::accept_encoding])) {
    Response out{r.result(), 11};
    for (const auto& f : r.base()) out.set(f.name_string(), f.value());
    out.set(bhttp::field::content_encoding, "gzip");
    out.body() = c.gzip;
    return out;
  }
  return r;
}

void ReadService::Route(std::string name, std::string pattern, BuildFn fn) {
  const int index = static_cast<int>(routes_.size());
  if (index >= kMaxRoutes) std::abort();
  routes_.push_back({std::move(name)});
  router_.Add(bhttp::verb::get, std::move(pattern),
              [this, index, fn = std::move(fn)](const Request& req, const http::Peer&,
                                                const http::Params& params) {
                tl_route = index;
                const auto ticket = cache_.TakeTicket(SteadyClock::now());
                Built b = fn(req, params);
                const bool store = b.cacheable && !tl_bypass && options_.cache_bytes > 0;
                auto sealed = Seal(std::move(b.res), index,
                                   store || web::AcceptsGzip(req[bhttp::field::accept_encoding]));
                if (store) {
                  cache_.Insert(std::string(req.target()), std::move(b.deps), sealed, ticket,
                                SteadyClock::now());
                }
                return Finish(req, *sealed);
              });
}

void ReadService::NotFound(BuildFn fn) {
  router_.SetNotFound([this, fn = std::move(fn)](const Request& req, const http::Peer&,
                                                 const http::Params& params) {
    tl_route = kRouteOther;
    Built b = fn(req, params);
    return Finish(req, *Seal(std::move(b.res), kRouteOther,
                             web::AcceptsGzip(req[bhttp::field::accept_encoding])));
  });
}

std::optional<Response> ReadService::Fast(const Request& req) {
  if (options_.cache_bytes == 0) return std::nullopt;
  if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head) return std::nullopt;
  if (req.count("X-Taquilla-Min-LSN") != 0) return std::nullopt;
  const auto start = SteadyClock::now();
  auto c = cache_.Find(req.target(), start);
  if (!c) return std::nullopt;
  Response res = Finish(req, *c);
  Count(c->route, res.result_int(), SteadyClock::now() - start);
  return res;
}

Response ReadService::Handle(const Request& req, const http::Peer& peer) {
  const auto start = SteadyClock::now();
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  if (Transactional(path)) {
    Response res = http::Redirect(options_.secure_url + std::string(target));
    Count(kRouteRedirect, res.result_int(), SteadyClock::now() - start);
    return res;
  }
  tl_route = kRouteOther;
  tl_bypass = false;
  if (auto min = req["X-Taquilla-Min-LSN"]; !min.empty()) {
    auto want = ParseLsn(min);
    if (!want) {
      Response res =
          http::ErrorResponse(bhttp::status::bad_request, "bad_request",
                              "X-Taquilla-Min-LSN must be a WAL position such as 0/3BF33A8.");
      Count(kRouteOther, res.result_int(), SteadyClock::now() - start);
      return res;
    }
    tl_bypass = true;
    const auto deadline = start + options_.min_lsn_wait;
    for (;;) {
      auto have = replica_.AppliedLsn();
      if (have.ok() && *have >= *want) break;
      if (SteadyClock::now() >= deadline) break;  // bounded: answer with what there is
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  Response res = router_.Dispatch(req, peer);
  Count(tl_route, res.result_int(), SteadyClock::now() - start);
  tl_bypass = false;
  return res;
}

void ReadService::Count(int route, unsigned status, std::chrono::nanoseconds took) {
  Counters& c = counters_[static_cast<size_t>(route)];
  size_t s = kStatuses.size();  // "other"
  for (size_t i = 0; i < kStatuses.size(); ++i) {
    if (kStatuses[i] == status) {
      s = i;
      break;
    }
  }
  c.by_status[s].fetch_add(1, std::memory_order_relaxed);
  const double secs = std::chrono::duration<double>(took).count();
  size_t b = kBuckets.size();
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (secs <= kBuckets[i]) {
      b = i;
      break;
    }
  }
  c.buckets[b].fetch_add(1, std::memory_order_relaxed);
  c.sum_ns.fetch_add(static_cast<uint64_t>(took.count()), std::memory_order_relaxed);
}

std::string ReadService::Metrics() {
  std::string out;
  out +=
      "# HELP taquilla_read_requests_total Requests answered, by route and status.\n"
      "# TYPE taquilla_read_requests_total counter\n";
  for (size_t r = 0; r < routes_.size(); ++r) {
    for (size_t s = 0; s <= kStatuses.size(); ++s) {
      uint64_t n = counters_[r].by_status[s].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out += fmt::format("taquilla_read_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                         routes_[r].name,
                         s < kStatuses.size() ? std::to_string(kStatuses[s]) : "other", n);
    }
  }
  out +=
      "# HELP taquilla_read_request_seconds Time to answer a request (in the server).\n"
      "# TYPE taquilla_read_request_seconds histogram\n";
  for (size_t r = 0; r < routes_.size(); ++r) {
    const Counters& c = counters_[r];
    uint64_t total = 0;
    for (const auto& b : c.buckets) total += b.load(std::memory_order_relaxed);
    if (total == 0) continue;
    uint64_t cum = 0;
    for (size_t i = 0; i <= kBuckets.size(); ++i) {
      cum += c.buckets[i].load(std::memory_order_relaxed);
      out += fmt::format(
          "taquilla_read_request_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n", routes_[r].name,
          i < kBuckets.size() ? fmt::format("{}", kBuckets[i]) : std::string("+Inf"), cum);
    }
    out += fmt::format("taquilla_read_request_seconds_sum{{route=\"{}\"}} {:.6f}\n",
                       routes_[r].name, static_cast<double>(c.sum_ns.load()) / 1e9);
    out += fmt::format("taquilla_read_request_seconds_count{{route=\"{}\"}} {}\n", routes_[r].name,
                       total);
  }
  CacheStats s = cache_.Stats();
  out += fmt::format(
      "# TYPE taquilla_read_cache_hits_total counter\ntaquilla_read_cache_hits_total {}\n"
      "# TYPE taquilla_read_cache_misses_total counter\ntaquilla_read_cache_misses_total {}\n"
      "# TYPE taquilla_read_cache_inserts_total counter\ntaquilla_read_cache_inserts_total {}\n"
      "# TYPE taquilla_read_cache_refused_total counter\ntaquilla_read_cache_refused_total {}\n"
      "# TYPE taquilla_read_cache_invalidations_total counter\n"
      "taquilla_read_cache_invalidations_total {}\n"
      "# TYPE taquilla_read_cache_evictions_total counter\ntaquilla_read_cache_evictions_total {}\n"
      "# TYPE taquilla_read_cache_entries gauge\ntaquilla_read_cache_entries {}\n"
      "# TYPE taquilla_read_cache_bytes gauge\ntaquilla_read_cache_bytes {}\n"
      "# TYPE taquilla_read_cache_live gauge\ntaquilla_read_cache_live {}\n"
      "# TYPE taquilla_read_invalidation_messages_total counter\n"
      "taquilla_read_invalidation_messages_total {}\n"
      "# TYPE taquilla_read_invalidation_reconnects_total counter\n"
      "taquilla_read_invalidation_reconnects_total {}\n"
      "# HELP taquilla_read_redis_errors_total Failed Redis connections and commands.\n"
      "# TYPE taquilla_read_redis_errors_total counter\ntaquilla_read_redis_errors_total {}\n"
      "# HELP taquilla_read_index_errors_total Searches the index failed to answer.\n"
      "# TYPE taquilla_read_index_errors_total counter\ntaquilla_read_index_errors_total {}\n",
      s.hits, s.misses, s.inserts, s.refused, s.invalidations, s.evictions, s.entries, s.bytes,
      cache_.Live(SteadyClock::now()) ? 1 : 0, invalidator_.messages(), invalidator_.reconnects(),
      replica_.errors(), index_errors_.load());
  return out;
}

Result<search::Searcher*> ReadService::Searcher() {
  thread_local std::unordered_map<const ReadService*, std::unique_ptr<search::Searcher>> mine;
  auto& s = mine[this];
  if (!s) {
    auto opened = search::Searcher::Open(options_.search);
    if (!opened.ok()) {
      CountIndexError();
      return opened.error();
    }
    s = std::make_unique<search::Searcher>(std::move(*opened));
  }
  return s.get();
}

Result<Audience> ReadService::AudienceOf(const std::string& site, const std::string& lang) {
  TQ_ASSIGN_OR_RETURN(std::shared_ptr<const SiteDirectory> dir, replica_.Sites());
  const Site* s = dir->Find(site);
  if (s == nullptr) {
    return MakeReason(ErrorCode::kNotFound, "unknown_site", "There is no site '{}'.", site);
  }
  std::string l = lang.empty() ? s->default_language : lang;
  if (!s->Offers(l)) {
    return MakeReason(ErrorCode::kNotFound, "unknown_language",
                      "The site '{}' is not offered in '{}'.", site, l);
  }
  Audience a;
  a.directory = dir;
  a.site = s;
  a.lang = l;
  a.locale = sync::SiteLocale(l, s->country);
  return a;
}

Built ReadService::Json(bhttp::status status, const json::value& body,
                        std::vector<std::string> deps, bool cacheable) {
  Built b{http::JsonResponse(status, body), std::move(deps), cacheable};
  b.res.erase(bhttp::field::cache_control);  // Seal gives each status its own
  return b;
}

Built ReadService::JsonText(std::string body, std::vector<std::string> deps, bool cacheable) {
  Response res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, http::kJsonType);
  res.body() = std::move(body);
  return Built{std::move(res), std::move(deps), cacheable};
}

Built ReadService::ApiError(const Error& e) {
  Response res = http::ErrorResponse(e);
  if (res.result() == bhttp::status::service_unavailable) res.set(bhttp::field::retry_after, "1");
  return Built{std::move(res), {}, false};
}

Built ReadService::Ready() {
  auto info = replica_.Run1({"INFO", "replication"});
  if (!info.ok()) {
    return Json(bhttp::status::service_unavailable,
                {{"ready", false}, {"reason", "the Redis replica is unreachable"}});
  }
  std::string text(info->str());
  const bool replica = text.find("role:slave") != std::string::npos;
  if (replica && (text.find("master_link_status:up") == std::string::npos ||
                  text.find("master_sync_in_progress:1") != std::string::npos)) {
    return Json(bhttp::status::service_unavailable,
                {{"ready", false}, {"reason", "the Redis replica is not in sync with its master"}});
  }
  auto searcher = Searcher();
  if (!searcher.ok()) {
    return Json(bhttp::status::service_unavailable,
                {{"ready", false}, {"reason", "the search index is not open"}});
  }
  return Json(bhttp::status::ok, {{"ready", true}});
}

}  // namespace taquilla::read
