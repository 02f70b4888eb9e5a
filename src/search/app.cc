#include "search/app.h"

#include <boost/json.hpp>
#include <iostream>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "common/log.h"
#include "http/daemon.h"
#include "queue/reliable_queue.h"
#include "redis/client.h"
#include "search/indexer.h"
#include "search/render.h"
#include "search/searcher.h"
#include "stack/endpoints.h"
#include "sync/projector.h"
#include "sync/sites.h"

namespace taquilla::search {
namespace json = boost::json;

namespace {

std::vector<ShardAddress> ReadShards(const Config& config) {
  std::vector<ShardAddress> out;
  std::stringstream ss(config.search.read_shards);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(ParseShardAddress(item));
  }
  return out;
}

// The site `code` from the site directory in Redis (the replica when one is configured).
Result<sync::Site> LookUpSite(const Config& config, const std::string& code) {
  auto url = config.redis.replica_url.empty() ? stack::ResolveRedisMasterUrl(config)
                                              : Result<std::string>(config.redis.replica_url);
  if (!url.ok()) return url.error();
  TQ_ASSIGN_OR_RETURN(redis::Client client, redis::Client::Connect(*url));
  TQ_ASSIGN_OR_RETURN(redis::Reply r, client.Cmd("GET", config.redis.prefix + "sites"));
  TQ_ASSIGN_OR_RETURN(std::shared_ptr<const sync::SiteDirectory> dir,
                      sync::SiteDirectory::Parse(r.IsNil() ? std::string_view() : r.str()));
  if (const sync::Site* site = dir->Find(code)) return *site;
  return MakeReason(ErrorCode::kNotFound, "unknown_site", "There is no site '{}'.", code);
}

std::string MoneyText(const json::value& v) {
  if (!v.is_object()) return "-";
  const auto* f = v.as_object().if_contains("formatted");
  return f != nullptr && f->is_string() ? std::string(f->as_string()) : "-";
}

}  // namespace

int RunIndexer(const Config& config) {
  auto log = Logger("indexer");
  auto options = IndexerOptionsOf(config);
  if (!options.ok()) {
    log->error("{}", options.error().message);
    return 2;
  }
  const auto listen =
      stack::ListenAddress(config, config.search.listen, stack::PortOffsets::kIndexerMetrics);
  IndexerMetrics metrics;
  return http::RunDaemon(
      {"the indexer", listen.first, listen.second}, *log, [&metrics] { return metrics.Render(); },
      [&](int port) {
        log->info("indexer metrics on http://{}:{}/metrics; Redis {}, index {}", listen.first, port,
                  options->redis_url, options->index_dir);
      },
      [&](const std::atomic<bool>& stop) { return RunIndexerLoop(*options, metrics, stop); });
}

int RunReindex(const Config& config, const std::string& lang, bool progress) {
  auto options = IndexerOptionsOf(config);
  if (!options.ok()) {
    std::cerr << "taquilla reindex: error: " << options.error().message << "\n";
    return 2;
  }
  auto report = Reindex(*options, lang, progress);
  if (!report.ok()) {
    std::cerr << "taquilla reindex: error: " << report.error().message << "\n";
    return 1;
  }
  std::cout << fmt::format(
      "reindexed {} events into generation {}: {} documents built{}, {} changed meanwhile and "
      "queued again\n",
      report->events, report->generation, report->documents,
      lang.empty() ? std::string()
                   : fmt::format(" in {}, {} of other languages kept", lang, report->copied),
      report->requeued);
  return 0;
}

int RunSearch(const Config& config, const SearchCommand& cmd) {
  auto fail = [](const Error& e, int code) {
    std::cerr << "taquilla search: error: " << e.message << "\n";
    return code;
  };
  auto site = LookUpSite(config, cmd.site);
  if (!site.ok()) return fail(site.error(), site.error().code == ErrorCode::kNotFound ? 2 : 1);
  const std::string lang = cmd.lang.empty() ? site->default_language : cmd.lang;
  if (!site->Offers(lang)) {
    return fail(
        MakeError(ErrorCode::kNotFound, "site '{}' does not offer language '{}'", cmd.site, lang),
        2);
  }
  auto params = cmd.params;
  params["q"] = cmd.query;
  auto request = ParseSearchRequest(params);
  if (!request.ok()) return fail(request.error(), 2);
  request->site = cmd.site;
  request->lang = lang;
  SearcherOptions so;
  so.index_dir = IndexDirOf(config);
  so.shards = ReadShards(config);
  auto searcher = Searcher::Open(so);
  if (!searcher.ok()) return fail(searcher.error(), 1);
  auto result = searcher->Search(*request, UnixSeconds());
  if (!result.ok()) return fail(result.error(), 1);
  json::object out = SearchResultJson(*result, *request, sync::SiteLocale(lang, site->country));
  if (cmd.json) {
    std::cout << json::serialize(out) << "\n";
    return 0;
  }
  std::cout << fmt::format("{} results for '{}' on {}/{}{}\n", result->total, cmd.query, cmd.site,
                           lang,
                           result->corrected_query.empty()
                               ? std::string()
                               : fmt::format(" (did you mean '{}'?)", result->corrected_query));
  for (const auto& item : out.at("items").as_array()) {
    const auto& e = item.as_object();
    const auto& venue = e.at("venue").as_object();
    std::cout << fmt::format("{:>5.1f}  {:>7}  {}  {}  [{}, {}]  from {}  {} tickets\n",
                             e.at("score").to_number<double>(), e.at("id").as_int64(),
                             json::value_to<std::string>(e.at("starts_at")),
                             json::value_to<std::string>(e.at("title")),
                             json::value_to<std::string>(venue.at("name")),
                             json::value_to<std::string>(venue.at("city")),
                             MoneyText(e.at("min_price")), e.at("tickets_available").as_int64());
  }
  const auto& facets = out.at("facets").as_object();
  std::string cats, months;
  for (const auto& f : facets.at("category").as_array()) {
    cats += fmt::format(" {} ({})", json::value_to<std::string>(f.at("name")),
                        f.at("count").as_int64());
  }
  for (const auto& f : facets.at("month").as_array()) {
    months += fmt::format(" {} ({})", json::value_to<std::string>(f.at("month")),
                          f.at("count").as_int64());
  }
  if (!cats.empty()) std::cout << "categories:" << cats << "\n";
  if (!months.empty()) std::cout << "months:" << months << "\n";
  return 0;
}

int RunVerifyIndex(const Config& config, std::chrono::milliseconds wait) {
  auto options = IndexerOptionsOf(config);
  if (!options.ok()) {
    std::cerr << "taquilla verify: error: " << options.error().message << "\n";
    return 2;
  }
  // The index follows the queue: wait until nothing is waiting or in flight.
  auto client = redis::Client::Connect(options->redis_url);
  auto q = queue::Queue::Open(queue::Options{.prefix = options->prefix, .group = options->group});
  if (!client.ok() || !q.ok()) {
    std::cerr << "taquilla verify: error: "
              << (client.ok() ? q.error().message : client.error().message) << "\n";
    return 2;
  }
  auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    auto stats = q->GetStats(*client);
    if (stats.ok() && stats->depth == 0 && stats->in_flight == 0) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      std::cout << "verify: the search queue is not drained (is the indexer running?)\n";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto report = VerifyIndex(*options, std::cout);
  if (!report.ok()) {
    std::cerr << "taquilla verify: error: " << report.error().message << "\n";
    return 2;
  }
  std::cout << fmt::format(
      "verify: {} search documents expected, {} indexed: {}\n", report->expected, report->indexed,
      report->differences == 0 ? std::string("no differences")
                               : fmt::format("{} differences", report->differences));
  return report->differences == 0 ? 0 : 1;
}

}  // namespace taquilla::search
