// Config: Taquilla's one typed configuration, shared by every subcommand.
//
// Sources apply in this order, each overriding the one before: built-in defaults, a TOML
// file (`--config FILE` or TAQUILLA_CONFIG), environment variables
// (TAQUILLA_<SECTION>_<KEY>, e.g. TAQUILLA_STACK_PORT_BASE), then flags (`--set
// section.key=value` and the dedicated flags such as --data-dir). Unknown keys in any
// source are rejected, and every value is validated. The option table (Options()) is the
// single description of every key, its default and its meaning; `taquilla config doc`
// prints it. A Config is a plain value: copy it freely, mutate it from one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace taquilla {

struct Config {
  struct Stack {
    std::string data_dir = "var";
    int port_base = 7100;
    std::string scale = "demo";  // demo | ticketbis | none
    int seed = 1;
  } stack;
  struct Postgres {
    std::string url;  // empty: the stack's, from <data-dir>/endpoints.json
    std::string bin_dir = "/usr/lib/postgresql/15/bin";
    std::string max_slot_wal_keep_size = "4GB";
    std::string user = "postgres";  // OS user the stack runs PostgreSQL as when root
  } postgres;
  struct Redis {
    std::string master_url;   // empty: the stack's
    std::string replica_url;  // empty: the stack's first replica
    std::string prefix = "tq:";
    std::string server_bin = "redis-server";
  } redis;
  struct Secure {
    std::string listen;  // host:port; empty: 127.0.0.1:<port_base + 1>
    int threads = 8;     // request threads, and PostgreSQL connections
    int hold_seconds = 600;
    int sweep_seconds = 5;
    int fee_bp = 1000;
    int session_hours = 720;
    int session_cache_seconds = 5;
    std::string cookie_secure = "false";
    int login_failures_per_account = 5;
    int login_failures_per_client = 50;
  } secure;
  struct Sync {
    std::string listen;  // host:port of /metrics; empty: 127.0.0.1:<port_base + 2>
    std::string slot = "taquilla";
    int event_grace_seconds = 86400;
    int batch_units = 2000;
    int sweep_seconds = 60;
    std::string queues = "search";
  } sync;
  struct Search {
    std::string dir;          // the index; empty: <data_dir>/index
    int shards = 1;           // index shards the indexer writes (event id modulo shards)
    std::string read_shards;  // what searchers read; empty: every shard in dir
    std::string listen;       // host:port of the indexer's /metrics; empty: port_base + 3
    int batch = 500;
    std::string fsync = "true";
    int purge_seconds = 60;
  } search;
  struct Read {
    std::string listen;      // host:port; empty: 127.0.0.1:<port_base + 10>
    std::string secure_url;  // where transactional paths go; empty: the stack's public URL
    int io_threads = 2;
    int handler_threads = 4;
    int cache_mb = 64;
    int max_stale_ms = 500;
    int min_lsn_wait_ms = 1000;
  } read;
  struct Queue {
    int heartbeat_seconds = 10;
    int max_deliveries = 5;
  } queue;
  struct Log {
    std::string level = "info";
    std::string file;  // also append log lines to this file
  } log;
};

// One configuration key. `set` parses and validates a textual value into the Config;
// `get` renders the current value as text.
struct ConfigOption {
  std::string key;   // "section.name"
  std::string type;  // "string" | "int" | one of "a|b|c"
  std::string description;
  std::function<Status(Config&, const std::string&)> set;
  std::function<std::string(const Config&)> get;
};

const std::vector<ConfigOption>& ConfigOptions();

struct ConfigSources {
  std::string file;                                            // TOML file, optional
  std::map<std::string, std::string> env;                      // the process environment
  std::vector<std::pair<std::string, std::string>> overrides;  // key -> value, from flags
};

// Builds the Config from all sources; the error names the offending source and key.
Result<Config> LoadConfig(const ConfigSources& sources);

// The current process environment as a map.
std::map<std::string, std::string> ProcessEnvironment();

// The environment variable name of a key: "stack.port_base" -> "TAQUILLA_STACK_PORT_BASE".
std::string EnvNameOf(const std::string& key);

// TOML rendering of `config` (every key), and a Markdown table documenting every key.
std::string RenderConfigToml(const Config& config);
std::string RenderConfigDoc();

}  // namespace taquilla
