#include "stack/endpoints.h"

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>

#include "common/files.h"

namespace taquilla::stack {
namespace json = boost::json;

std::string EndpointsPath(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / "endpoints.json").string();
}

std::string ToJson(const Endpoints& e) {
  json::object o;
  o["public"] = e.public_url ? json::value(*e.public_url) : json::value(nullptr);
  o["secure"] = e.secure_url ? json::value(*e.secure_url) : json::value(nullptr);
  o["sync_metrics"] = e.sync_metrics_url ? json::value(*e.sync_metrics_url) : json::value(nullptr);
  o["indexer_metrics"] =
      e.indexer_metrics_url ? json::value(*e.indexer_metrics_url) : json::value(nullptr);
  json::array read;
  for (const auto& r : e.read_urls) read.emplace_back(r);
  o["read"] = std::move(read);
  o["postgres"] = e.postgres;
  o["redis_master"] = e.redis_master;
  json::array replicas;
  for (const auto& r : e.redis_replicas) replicas.emplace_back(r);
  o["redis_replicas"] = std::move(replicas);
  return json::serialize(o) + "\n";
}

Result<Endpoints> ParseEndpoints(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "endpoints.json is not a JSON object");
  }
  const auto& o = v.as_object();
  Endpoints e;
  auto str = [&](const char* key) -> std::optional<std::string> {
    auto it = o.find(key);
    if (it == o.end() || !it->value().is_string()) return std::nullopt;
    return std::string(it->value().as_string());
  };
  auto list = [&](const char* key) {
    std::vector<std::string> out;
    auto it = o.find(key);
    if (it != o.end() && it->value().is_array()) {
      for (const auto& x : it->value().as_array()) {
        if (x.is_string()) out.emplace_back(x.as_string());
      }
    }
    return out;
  };
  e.public_url = str("public");
  e.secure_url = str("secure");
  e.sync_metrics_url = str("sync_metrics");
  e.indexer_metrics_url = str("indexer_metrics");
  e.read_urls = list("read");
  e.postgres = str("postgres").value_or("");
  e.redis_master = str("redis_master").value_or("");
  e.redis_replicas = list("redis_replicas");
  if (e.postgres.empty() || e.redis_master.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "endpoints.json lacks postgres or redis_master");
  }
  return e;
}

Result<Endpoints> LoadEndpoints(const std::string& data_dir) {
  auto text = ReadFile(EndpointsPath(data_dir));
  if (!text.ok()) {
    return MakeError(ErrorCode::kUnavailable,
                     "no running stack in data dir '{}' ({} is missing): start it with "
                     "`taquilla up --data-dir {}` or pass --postgres-url",
                     data_dir, EndpointsPath(data_dir), data_dir);
  }
  auto e = ParseEndpoints(*text);
  if (!e.ok()) return e.error().Wrap(EndpointsPath(data_dir));
  return e;
}

Result<std::string> ResolvePostgresUrl(const Config& config) {
  if (!config.postgres.url.empty()) return config.postgres.url;
  TQ_ASSIGN_OR_RETURN(Endpoints e, LoadEndpoints(config.stack.data_dir));
  return e.postgres;
}

}  // namespace taquilla::stack

namespace taquilla::stack {

std::pair<std::string, int> ListenAddress(const Config& config, const std::string& listen,
                                          int offset) {
  if (listen.empty()) return {"127.0.0.1", config.stack.port_base + offset};
  auto colon = listen.rfind(':');
  return {listen.substr(0, colon), std::atoi(listen.c_str() + colon + 1)};
}

Result<std::string> ResolveRedisMasterUrl(const Config& config) {
  if (!config.redis.master_url.empty()) return config.redis.master_url;
  TQ_ASSIGN_OR_RETURN(Endpoints e, LoadEndpoints(config.stack.data_dir));
  return e.redis_master;
}

Result<std::string> ResolveRedisReplicaUrl(const Config& config) {
  if (!config.redis.replica_url.empty()) return config.redis.replica_url;
  TQ_ASSIGN_OR_RETURN(Endpoints e, LoadEndpoints(config.stack.data_dir));
  if (e.redis_replicas.empty()) return e.redis_master;
  return e.redis_replicas.front();
}

}  // namespace taquilla::stack
