#include "common/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <sstream>

#include "common/log.h"

extern char** environ;

namespace taquilla {
namespace {

Status ParseInt(const std::string& key, const std::string& text, int lo, int hi, int& out) {
  int v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size()) {
    return MakeError(ErrorCode::kInvalidArgument, "{}: '{}' is not an integer", key, text);
  }
  if (v < lo || v > hi) {
    return MakeError(ErrorCode::kInvalidArgument, "{}: {} is outside {}..{}", key, v, lo, hi);
  }
  out = v;
  return Ok();
}

ConfigOption StringOpt(std::string key, std::string description, std::string* (*field)(Config&),
                       std::function<Status(const std::string&)> check = nullptr) {
  ConfigOption o;
  o.key = key;
  o.type = "string";
  o.description = std::move(description);
  o.set = [field, check, key](Config& c, const std::string& v) -> Status {
    if (check) {
      Status s = check(v);
      if (!s.ok()) return s.error().Wrap(key);
    }
    *field(c) = v;
    return Ok();
  };
  o.get = [field](const Config& c) { return *field(const_cast<Config&>(c)); };
  return o;
}

ConfigOption EnumOpt(std::string key, std::string description, std::vector<std::string> values,
                     std::string* (*field)(Config&)) {
  ConfigOption o;
  o.key = key;
  std::string joined;
  for (const auto& v : values) joined += (joined.empty() ? "" : "|") + v;
  o.type = joined;
  o.description = std::move(description);
  o.set = [field, values, key, joined](Config& c, const std::string& v) -> Status {
    if (std::find(values.begin(), values.end(), v) == values.end()) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: '{}' is not one of {}", key, v, joined);
    }
    *field(c) = v;
    return Ok();
  };
  o.get = [field](const Config& c) { return *field(const_cast<Config&>(c)); };
  return o;
}

ConfigOption IntOpt(std::string key, std::string description, int lo, int hi,
                    int* (*field)(Config&)) {
  ConfigOption o;
  o.key = key;
  o.type = fmt::format("int {}..{}", lo, hi);
  o.description = std::move(description);
  o.set = [field, lo, hi, key](Config& c, const std::string& v) -> Status {
    return ParseInt(key, v, lo, hi, *field(c));
  };
  o.get = [field](const Config& c) { return std::to_string(*field(const_cast<Config&>(c))); };
  return o;
}

Status CheckUrl(const std::string& v, std::initializer_list<std::string_view> schemes) {
  if (v.empty()) return Ok();
  for (auto s : schemes) {
    if (v.rfind(std::string(s) + "://", 0) == 0 && v.size() > s.size() + 3) return Ok();
  }
  std::string names;
  for (auto s : schemes) names += (names.empty() ? "" : " or ") + std::string(s) + "://";
  return MakeError(ErrorCode::kInvalidArgument, "'{}' is not a URL starting with {}", v, names);
}

// "" (the default address) or host:port.
Status CheckListen(const std::string& v) {
  if (v.empty()) return Ok();
  auto colon = v.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !ParseInt("port", v.substr(colon + 1), 0, 65535, port).ok()) {
    return MakeError(ErrorCode::kInvalidArgument, "'{}' is not host:port", v);
  }
  return Ok();
}

Status CheckNonEmpty(const std::string& v) {
  if (v.empty()) return MakeError(ErrorCode::kInvalidArgument, "must not be empty");
  return Ok();
}

}  // namespace

const std::vector<ConfigOption>& ConfigOptions() {
  static const std::vector<ConfigOption> kOptions = [] {
    std::vector<ConfigOption> o;
    o.push_back(StringOpt(
        "stack.data_dir", "Directory holding the local stack's data, logs and endpoints.json",
        [](Config& c) { return &c.stack.data_dir; }, CheckNonEmpty));
    o.push_back(
        IntOpt("stack.port_base",
               "First port of the local stack; each service is port_base plus a fixed offset", 1024,
               65000, [](Config& c) { return &c.stack.port_base; }));
    o.push_back(EnumOpt("stack.scale", "Seed data `taquilla up` loads into an empty database",
                        {"demo", "ticketbis", "none"}, [](Config& c) { return &c.stack.scale; }));
    o.push_back(IntOpt("stack.seed", "Random seed of the generated data", 0, 1'000'000'000,
                       [](Config& c) { return &c.stack.seed; }));
    o.push_back(StringOpt(
        "postgres.url", "PostgreSQL connection URL; empty means the local stack's (endpoints.json)",
        [](Config& c) { return &c.postgres.url; },
        [](const std::string& v) {
          return CheckUrl(v, {"postgres", "postgresql"});
        }));
    o.push_back(StringOpt(
        "postgres.bin_dir", "Directory of initdb and postgres for the local stack",
        [](Config& c) { return &c.postgres.bin_dir; }, CheckNonEmpty));
    o.push_back(StringOpt(
        "postgres.max_slot_wal_keep_size",
        "Most WAL a replication slot may hold back before PostgreSQL drops it",
        [](Config& c) { return &c.postgres.max_slot_wal_keep_size; }, CheckNonEmpty));
    o.push_back(StringOpt(
        "postgres.user", "OS user that runs PostgreSQL when the stack starts as root",
        [](Config& c) { return &c.postgres.user; }, CheckNonEmpty));
    o.push_back(StringOpt(
        "redis.master_url", "Redis master URL; empty means the local stack's",
        [](Config& c) { return &c.redis.master_url; },
        [](const std::string& v) { return CheckUrl(v, {"redis"}); }));
    o.push_back(StringOpt(
        "redis.replica_url", "Redis replica URL read servers use; empty means the local stack's",
        [](Config& c) { return &c.redis.replica_url; },
        [](const std::string& v) { return CheckUrl(v, {"redis"}); }));
    o.push_back(StringOpt(
        "redis.prefix", "Prefix of every Redis key Taquilla writes",
        [](Config& c) { return &c.redis.prefix; },
        [](const std::string& v) -> Status {
          if (v.empty() || v.find_first_of(" \t\r\n") != std::string::npos) {
            return MakeError(ErrorCode::kInvalidArgument, "must be non-empty without spaces");
          }
          return Ok();
        }));
    o.push_back(StringOpt(
        "redis.server_bin", "redis-server executable for the local stack",
        [](Config& c) { return &c.redis.server_bin; }, CheckNonEmpty));
    o.push_back(StringOpt(
        "secure.listen",
        "host:port the secure app listens on; empty means 127.0.0.1 and port_base + 1",
        [](Config& c) { return &c.secure.listen; }, CheckListen));
    o.push_back(IntOpt(
        "secure.threads",
        "Request threads of the secure app, and its PostgreSQL connections (about 4 per core)", 1,
        256, [](Config& c) { return &c.secure.threads; }));
    o.push_back(IntOpt("secure.hold_seconds", "How long a hold keeps tickets off sale", 1, 86400,
                       [](Config& c) { return &c.secure.hold_seconds; }));
    o.push_back(IntOpt("secure.sweep_seconds",
                       "Seconds between sweeps that put expired holds back on sale", 1, 3600,
                       [](Config& c) { return &c.secure.sweep_seconds; }));
    o.push_back(IntOpt("secure.fee_bp",
                       "Service fee on orders, in basis points of the subtotal (1000 = 10%)", 0,
                       5000, [](Config& c) { return &c.secure.fee_bp; }));
    o.push_back(IntOpt("secure.session_hours", "Lifetime of a login session", 1, 8760,
                       [](Config& c) { return &c.secure.session_hours; }));
    o.push_back(IntOpt("secure.session_cache_seconds",
                       "How long the secure app trusts a session it looked up (0: always ask "
                       "PostgreSQL); logouts through the same process apply at once",
                       0, 60, [](Config& c) { return &c.secure.session_cache_seconds; }));
    o.push_back(EnumOpt("secure.cookie_secure",
                        "Mark the session cookie Secure (set it when served over HTTPS)",
                        {"true", "false"}, [](Config& c) { return &c.secure.cookie_secure; }));
    o.push_back(IntOpt("secure.login_failures_per_account",
                       "Failed logins per account in 15 minutes before 429", 1, 1000,
                       [](Config& c) { return &c.secure.login_failures_per_account; }));
    o.push_back(IntOpt("secure.login_failures_per_client",
                       "Failed logins per client address in 15 minutes before 429", 1, 100000,
                       [](Config& c) { return &c.secure.login_failures_per_client; }));
    o.push_back(StringOpt(
        "sync.listen", "host:port of sync's /metrics; empty means 127.0.0.1 and port_base + 2",
        [](Config& c) { return &c.sync.listen; }, CheckListen));
    o.push_back(StringOpt(
        "sync.slot", "Name of the logical replication slot sync reads (created if missing)",
        [](Config& c) { return &c.sync.slot; },
        [](const std::string& v) -> Status {
          if (v.empty() || v.size() > 63 ||
              v.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos) {
            return MakeError(ErrorCode::kInvalidArgument,
                             "'{}' is not a slot name (lower-case letters, digits, _)", v);
          }
          return Ok();
        }));
    o.push_back(IntOpt("sync.event_grace_seconds",
                       "How long an event's documents stay in Redis after it ends", 0, 365 * 86400,
                       [](Config& c) { return &c.sync.event_grace_seconds; }));
    o.push_back(IntOpt("sync.batch_units",
                       "Projection units sync rebuilds per batch (bounds memory in large "
                       "transactions)",
                       1, 1'000'000, [](Config& c) { return &c.sync.batch_units; }));
    o.push_back(IntOpt("sync.sweep_seconds",
                       "Seconds between sweeps that drop started events from the sorted sets", 1,
                       86400, [](Config& c) { return &c.sync.sweep_seconds; }));
    o.push_back(StringOpt(
        "sync.queues",
        "Change queues (consumer groups) every changed entity goes to, comma-separated",
        [](Config& c) { return &c.sync.queues; },
        [](const std::string& v) -> Status {
          if (v.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_,") != std::string::npos) {
            return MakeError(ErrorCode::kInvalidArgument,
                             "'{}' is not a comma-separated list of queue names", v);
          }
          return Ok();
        }));
    o.push_back(StringOpt("search.dir",
                          "Directory of the search index; empty means <stack.data_dir>/index",
                          [](Config& c) { return &c.search.dir; }));
    o.push_back(IntOpt("search.shards",
                       "Index shards the indexer writes (an event goes to shard id mod shards); "
                       "changing it takes a `taquilla reindex`",
                       1, 256, [](Config& c) { return &c.search.shards; }));
    o.push_back(StringOpt(
        "search.read_shards",
        "Index shards searchers read, comma-separated: database directories and host:port of "
        "xapian-tcpsrv servers; empty means every shard of search.dir",
        [](Config& c) { return &c.search.read_shards; },
        [](const std::string& v) -> Status {
          if (v.find_first_of(" \t\r\n") != std::string::npos) {
            return MakeError(ErrorCode::kInvalidArgument,
                             "'{}' is not a comma-separated list of paths and host:port", v);
          }
          return Ok();
        }));
    o.push_back(StringOpt(
        "search.listen",
        "host:port of the indexer's /metrics; empty means 127.0.0.1 and port_base + 3",
        [](Config& c) { return &c.search.listen; }, CheckListen));
    o.push_back(IntOpt("search.batch", "Queue items the indexer takes and commits at once", 1,
                       100'000, [](Config& c) { return &c.search.batch; }));
    o.push_back(EnumOpt("search.fsync",
                        "Whether index commits wait for the disk (a killed process loses "
                        "nothing either way; a power cut may need a reindex without it)",
                        {"true", "false"}, [](Config& c) { return &c.search.fsync; }));
    o.push_back(IntOpt("search.purge_seconds",
                       "Seconds between sweeps that delete started events from the index", 1, 86400,
                       [](Config& c) { return &c.search.purge_seconds; }));
    o.push_back(StringOpt(
        "read.listen",
        "host:port a read server listens on; empty means 127.0.0.1 and port_base + 10",
        [](Config& c) { return &c.read.listen; }, CheckListen));
    o.push_back(StringOpt(
        "read.secure_url",
        "URL transactional paths (/login, /sell, /checkout ...) are redirected to; empty means "
        "the local stack's public entry",
        [](Config& c) { return &c.read.secure_url; },
        [](const std::string& v) -> Status {
          if (!v.empty() && v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) {
            return MakeError(ErrorCode::kInvalidArgument, "'{}' is not an http(s) URL", v);
          }
          return Ok();
        }));
    o.push_back(IntOpt("read.io_threads", "I/O threads of a read server (one per core)", 1, 256,
                       [](Config& c) { return &c.read.io_threads; }));
    o.push_back(IntOpt("read.handler_threads",
                       "Threads of a read server that read Redis and the index, each with its "
                       "own connection and searcher",
                       1, 256, [](Config& c) { return &c.read.handler_threads; }));
    o.push_back(IntOpt("read.cache_mb",
                       "Memory for a read server's cache of rendered answers (0: no cache)", 0,
                       65536, [](Config& c) { return &c.read.cache_mb; }));
    o.push_back(IntOpt("read.max_stale_ms",
                       "Longest a cached answer may lag behind the Redis replica", 20, 60'000,
                       [](Config& c) { return &c.read.max_stale_ms; }));
    o.push_back(IntOpt("read.min_lsn_wait_ms",
                       "Longest a request with X-Taquilla-Min-LSN waits for the replica", 0, 10'000,
                       [](Config& c) { return &c.read.min_lsn_wait_ms; }));
    o.push_back(IntOpt("queue.heartbeat_seconds",
                       "A queue worker whose heartbeat is older than this is dead: the reaper "
                       "gives its items to others",
                       1, 3600, [](Config& c) { return &c.queue.heartbeat_seconds; }));
    o.push_back(IntOpt("queue.max_deliveries",
                       "Deliveries of one queue item before it goes to the dead letters", 1, 1000,
                       [](Config& c) { return &c.queue.max_deliveries; }));
    o.push_back(EnumOpt("log.level", "Log level",
                        {"trace", "debug", "info", "warn", "error", "off"},
                        [](Config& c) { return &c.log.level; }));
    o.push_back(StringOpt("log.file",
                          "Also append log lines to this file (`up` uses <data-dir>/logs/up.log)",
                          [](Config& c) { return &c.log.file; }));
    return o;
  }();
  return kOptions;
}

std::string EnvNameOf(const std::string& key) {
  std::string name = "TAQUILLA_";
  for (char ch : key) name += ch == '.' ? '_' : static_cast<char>(std::toupper(ch));
  return name;
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

namespace {

const ConfigOption* FindOption(const std::string& key) {
  for (const auto& o : ConfigOptions()) {
    if (o.key == key) return &o;
  }
  return nullptr;
}

Status ApplyFile(const std::string& path, Config& config) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << e.description() << " at line " << e.source().begin.line;
    return MakeError(ErrorCode::kInvalidArgument, "config file {}: {}", path, msg.str());
  }
  for (const auto& [section, node] : table) {
    const auto* sub = node.as_table();
    if (sub == nullptr) {
      return MakeError(ErrorCode::kInvalidArgument, "config file {}: '{}' must be a [section]",
                       path, section.str());
    }
    for (const auto& [name, value] : *sub) {
      std::string key = fmt::format("{}.{}", section.str(), name.str());
      const ConfigOption* opt = FindOption(key);
      if (opt == nullptr) {
        return MakeError(ErrorCode::kInvalidArgument, "config file {}: unknown key '{}'", path,
                         key);
      }
      std::string text;
      if (auto s = value.value<std::string>(); s && value.is_string()) {
        text = *s;
      } else if (auto i = value.value<int64_t>(); i && value.is_integer()) {
        text = std::to_string(*i);
      } else {
        return MakeError(ErrorCode::kInvalidArgument,
                         "config file {}: '{}' must be a string or an integer", path, key);
      }
      Status s = opt->set(config, text);
      if (!s.ok()) return s.error().Wrap(fmt::format("config file {}", path));
    }
  }
  return Ok();
}

}  // namespace

Result<Config> LoadConfig(const ConfigSources& sources) {
  Config config;
  std::string file = sources.file;
  if (file.empty()) {
    if (auto it = sources.env.find("TAQUILLA_CONFIG"); it != sources.env.end()) file = it->second;
  }
  if (!file.empty()) TQ_RETURN_IF_ERROR(ApplyFile(file, config));

  for (const auto& [name, value] : sources.env) {
    if (name.rfind("TAQUILLA_", 0) != 0 || name == "TAQUILLA_CONFIG" ||
        name.rfind("TAQUILLA_TEST_", 0) == 0) {
      continue;
    }
    const ConfigOption* match = nullptr;
    for (const auto& o : ConfigOptions()) {
      if (EnvNameOf(o.key) == name) match = &o;
    }
    if (match == nullptr) {
      return MakeError(ErrorCode::kInvalidArgument, "environment: unknown variable {}", name);
    }
    Status s = match->set(config, value);
    if (!s.ok()) return s.error().Wrap(fmt::format("environment {}", name));
  }

  for (const auto& [key, value] : sources.overrides) {
    const ConfigOption* opt = FindOption(key);
    if (opt == nullptr)
      return MakeError(ErrorCode::kInvalidArgument, "unknown config key '{}'", key);
    TQ_RETURN_IF_ERROR(opt->set(config, value));
  }
  return config;
}

std::string RenderConfigToml(const Config& config) {
  std::string out;
  std::string section;
  for (const auto& o : ConfigOptions()) {
    auto dot = o.key.find('.');
    std::string sec = o.key.substr(0, dot);
    if (sec != section) {
      out += fmt::format("{}[{}]\n", out.empty() ? "" : "\n", sec);
      section = sec;
    }
    std::string v = o.get(config);
    if (o.type.rfind("int", 0) == 0) {
      out += fmt::format("{} = {}\n", o.key.substr(dot + 1), v);
    } else {
      std::ostringstream q;
      q << toml::value<std::string>(v);
      out += fmt::format("{} = {}\n", o.key.substr(dot + 1), q.str());
    }
  }
  return out;
}

std::string RenderConfigDoc() {
  Config defaults;
  std::string out = "| key | environment | type | default | meaning |\n|---|---|---|---|---|\n";
  for (const auto& o : ConfigOptions()) {
    std::string def = o.get(defaults);
    std::string type;
    for (char ch : o.type) type += ch == '|' ? std::string("\\|") : std::string(1, ch);
    out += fmt::format("| `{}` | `{}` | {} | `{}` | {} |\n", o.key, EnvNameOf(o.key), type,
                       def.empty() ? "\"\"" : def, o.description);
  }
  return out;
}

}  // namespace taquilla
