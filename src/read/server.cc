#include "read/server.h"

#include <algorithm>
#include <cmath>

#include "common/clock.h"
#include "common/log.h"
#include "http/daemon.h"
#include "http/response.h"
#include "read/pages.h"
#include "read/service.h"
#include "search/render.h"
#include "stack/endpoints.h"

namespace taquilla::read {

namespace json = boost::json;
namespace bhttp = http::bhttp;
using http::Params;
using http::Request;
using http::Response;

namespace {

Error NoSuch(std::string_view what, std::string_view id, std::string_view site) {
  return MakeReason(ErrorCode::kNotFound, "not_found", "There is no {} {} on the site '{}'.", what,
                    id, site);
}

// A venue or performer document with its upcoming events on the site.
Built EntityWithEvents(ReadService& s, const Params& p, bool venue) {
  auto a = s.AudienceOf(p.path[0], p.Query("lang"));
  if (!a.ok()) return ReadService::ApiError(a.error());
  auto id = ParseId(p.path[1]);
  if (!id)
    return ReadService::ApiError(NoSuch(venue ? "venue" : "performer", p.path[1], p.path[0]));
  auto params = p.query;
  params.erase("venue");
  params.erase("performer");
  auto q = ParseListQuery(params);
  if (!q.ok()) return ReadService::ApiError(q.error());
  (venue ? q->venue : q->performer) = *id;
  std::vector<std::string> deps;
  const auto& k = s.replica().keys();
  auto doc =
      LoadDocument(s.replica(), venue ? k.Venue(a->lang, *id) : k.Performer(a->lang, *id), deps);
  if (!doc.ok()) return ReadService::ApiError(doc.error());
  if (!*doc || !(*doc)->is_object()) {
    return ReadService::ApiError(NoSuch(venue ? "venue" : "performer", p.path[1], p.path[0]));
  }
  auto list = ListEvents(s.replica(), *a, *q, UnixSeconds(), deps);
  if (!list.ok()) return ReadService::ApiError(list.error());
  json::object out = (*doc)->as_object();
  if (venue) {
    // The API's venue: city and country as text (the country's code), the names beside.
    if (auto* city = out.if_contains("city"); city != nullptr && city->is_object()) {
      json::value name = city->as_object().contains("name") ? city->as_object().at("name") : "";
      out["city"] = name;
    }
    if (auto* country = out.if_contains("country"); country != nullptr && country->is_object()) {
      const auto& c = country->as_object();
      json::value code = c.contains("code") ? c.at("code") : "";
      json::value name = c.contains("name") ? c.at("name") : "";
      out["country"] = code;
      out["country_name"] = name;
    }
  }
  out["events"] = std::move(list->items);
  out["events_total"] = list->total;
  out["page"] = q->page;
  out["per_page"] = q->per_page;
  return ReadService::Json(bhttp::status::ok, out, std::move(deps), true);
}

void AddApi(ReadService& s) {
  s.Route("healthz", "/healthz", [](const Request&, const Params&) {
    Built b = ReadService::Json(bhttp::status::ok, {{"status", "ok"}});
    b.res.set(bhttp::field::cache_control, "no-store");
    return b;
  });
  s.Route("readyz", "/readyz", [&s](const Request&, const Params&) {
    Built b = s.Ready();
    b.res.set(bhttp::field::cache_control, "no-store");
    if (b.res.result() != bhttp::status::ok) b.res.set(bhttp::field::retry_after, "1");
    return b;
  });
  s.Route("metrics", "/metrics", [&s](const Request&, const Params&) {
    Response res{bhttp::status::ok, 11};
    res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.set(bhttp::field::cache_control, "no-store");
    res.body() = s.Metrics();
    return Built{std::move(res), {}, false};
  });
  s.Route("api_sites", "/api/v1/sites", [&s](const Request&, const Params&) {
    auto dir = s.replica().Sites();
    if (!dir.ok()) return ReadService::ApiError(dir.error());
    return ReadService::JsonText((*dir)->json(), {s.replica().keys().Sites()}, true);
  });
  s.Route("api_events", "/api/v1/sites/{site}/events", [&s](const Request&, const Params& p) {
    auto a = s.AudienceOf(p.path[0], p.Query("lang"));
    if (!a.ok()) return ReadService::ApiError(a.error());
    auto q = ParseListQuery(p.query);
    if (!q.ok()) return ReadService::ApiError(q.error());
    std::vector<std::string> deps;
    auto list = ListEvents(s.replica(), *a, *q, UnixSeconds(), deps);
    if (!list.ok()) return ReadService::ApiError(list.error());
    json::object out{{"items", std::move(list->items)},
                     {"page", q->page},
                     {"per_page", q->per_page},
                     {"total", list->total}};
    return ReadService::Json(bhttp::status::ok, out, std::move(deps), true);
  });
  s.Route("api_event", "/api/v1/sites/{site}/events/{id}", [&s](const Request&, const Params& p) {
    auto a = s.AudienceOf(p.path[0], p.Query("lang"));
    if (!a.ok()) return ReadService::ApiError(a.error());
    auto id = ParseId(p.path[1]);
    if (!id) return ReadService::ApiError(NoSuch("event", p.path[1], p.path[0]));
    std::vector<std::string> deps;
    auto ev = LoadEvent(s.replica(), *a, *id, true, deps);
    if (!ev.ok()) return ReadService::ApiError(ev.error());
    if (!*ev) {
      Built b = ReadService::ApiError(NoSuch("event", p.path[1], p.path[0]));
      b.deps = std::move(deps);
      b.cacheable = true;  // until the event appears (its keys are watched)
      return b;
    }
    return ReadService::Json(bhttp::status::ok, **ev, std::move(deps), true);
  });
  s.Route(
      "api_categories", "/api/v1/sites/{site}/categories", [&s](const Request&, const Params& p) {
        auto a = s.AudienceOf(p.path[0], p.Query("lang"));
        if (!a.ok()) return ReadService::ApiError(a.error());
        std::string key = s.replica().keys().Categories(a->site->code, a->lang);
        auto r = s.replica().Run1({"GET", key});
        if (!r.ok()) return ReadService::ApiError(r.error());
        return ReadService::JsonText(
            r->IsNil() ? std::string(R"({"categories":[]})") : std::string(r->str()), {key}, true);
      });
  s.Route("api_venue", "/api/v1/sites/{site}/venues/{id}",
          [&s](const Request&, const Params& p) { return EntityWithEvents(s, p, true); });
  s.Route("api_performer", "/api/v1/sites/{site}/performers/{id}",
          [&s](const Request&, const Params& p) { return EntityWithEvents(s, p, false); });
  s.Route("api_search", "/api/v1/sites/{site}/search", [&s](const Request&, const Params& p) {
    auto a = s.AudienceOf(p.path[0], p.Query("lang"));
    if (!a.ok()) return ReadService::ApiError(a.error());
    auto req = search::ParseSearchRequest(NonEmpty(p.query));
    if (!req.ok()) return ReadService::ApiError(req.error());
    req->site = a->site->code;
    req->lang = a->lang;
    auto searcher = s.Searcher();
    if (!searcher.ok()) return ReadService::ApiError(searcher.error());
    auto result = (*searcher)->Search(*req, UnixSeconds());
    if (!result.ok()) {
      s.CountIndexError();
      return ReadService::ApiError(result.error());
    }
    return ReadService::Json(bhttp::status::ok, search::SearchResultJson(*result, *req, a->locale));
  });
}

}  // namespace

struct ReadServer::Impl {
  explicit Impl(ReadOptions o) : options(std::move(o)), service(options) {}
  ReadOptions options;
  ReadService service;
  std::unique_ptr<http::Server> server;
};

ReadServer::ReadServer(ReadOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  AddApi(impl_->service);
  AddPages(impl_->service);
}

ReadServer::~ReadServer() { Stop(); }

Status ReadServer::Start() {
  Impl& s = *impl_;
  http::ServerOptions o;
  o.host = s.options.host;
  o.port = s.options.port;
  o.io_threads = s.options.io_threads;
  o.handler_threads = s.options.handler_threads;
  o.body_limit = 64 * 1024;  // GET only: a body is never needed
  o.fast_handler = [&s](const Request& req, const http::Peer&) { return s.service.Fast(req); };
  s.server = std::make_unique<http::Server>(
      o, [&s](const Request& req, const http::Peer& peer) { return s.service.Handle(req, peer); });
  s.service.Start();
  return s.server->Start();
}

int ReadServer::port() const { return impl_->server ? impl_->server->port() : 0; }

void ReadServer::Stop() {
  if (impl_->server) impl_->server->Stop();
  impl_->service.Stop();
}

Result<ReadOptions> ReadOptionsOf(const Config& config) {
  ReadOptions o;
  auto [host, port] = stack::ListenAddress(config, config.read.listen, stack::PortOffsets::kRead);
  o.host = host;
  o.port = port;
  o.io_threads = config.read.io_threads;
  o.handler_threads = config.read.handler_threads;
  TQ_ASSIGN_OR_RETURN(o.replica_url, stack::ResolveRedisReplicaUrl(config));
  o.prefix = config.redis.prefix;
  o.secure_url = config.read.secure_url;
  if (o.secure_url.empty()) {
    auto e = stack::LoadEndpoints(config.stack.data_dir);
    if (e.ok() && e->public_url) {
      o.secure_url = *e->public_url;
    } else if (e.ok() && e->secure_url) {
      o.secure_url = *e->secure_url;
    } else {
      o.secure_url =
          fmt::format("http://127.0.0.1:{}", config.stack.port_base + stack::PortOffsets::kSecure);
    }
  }
  while (!o.secure_url.empty() && o.secure_url.back() == '/') o.secure_url.pop_back();
  o.search.index_dir =
      config.search.dir.empty() ? config.stack.data_dir + "/index" : config.search.dir;
  {
    std::string item;
    std::stringstream ss(config.search.read_shards);
    while (std::getline(ss, item, ',')) {
      if (!item.empty()) o.search.shards.push_back(search::ParseShardAddress(item));
    }
  }
  o.cache_bytes = static_cast<size_t>(config.read.cache_mb) << 20;
  o.max_stale = std::chrono::milliseconds(config.read.max_stale_ms);
  o.ping_interval = std::max(std::chrono::milliseconds(5), o.max_stale / 8);
  o.min_lsn_wait = std::chrono::milliseconds(config.read.min_lsn_wait_ms);
  return o;
}

int RunRead(const Config& config) {
  auto log = Logger("read");
  auto options = ReadOptionsOf(config);
  if (!options.ok()) {
    log->error("{}", options.error().message);
    return 1;
  }
  // Signals are handled by RunDaemon's thread; the read server is the daemon's work and
  // serves its own /metrics, so the daemon's port is not used (port 0, loopback).
  ReadServer server(*options);
  http::DaemonOptions d{.name = "read", .host = "127.0.0.1", .port = 0};
  return http::RunDaemon(
      d, *log, [] { return std::string(); }, [](int) {},
      [&](const std::atomic<bool>& stop) -> Status {
        TQ_RETURN_IF_ERROR(server.Start());
        log->info("read server listening on {}:{} (replica {}, index {}, secure {})", options->host,
                  server.port(), options->replica_url, options->search.index_dir,
                  options->secure_url);
        while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        server.Stop();
        return Ok();
      });
}

}  // namespace taquilla::read
