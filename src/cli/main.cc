// taquilla: one binary, one subcommand per component. Each subcommand is a thin main over
// its library: parse flags into the typed Config, call, print, map errors to exit codes.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/files.h"
#include "common/log.h"
#include "db/migrate.h"
#include "db/pg.h"
#include "queue/ops.h"
#include "read/server.h"
#include "redis/client.h"
#include "search/app.h"
#include "secure/app.h"
#include "seed/seed.h"
#include "stack/endpoints.h"
#include "stack/up.h"
#include "sync/app.h"

namespace {

using namespace taquilla;

struct CommonFlags {
  std::string config_file;
  std::vector<std::string> sets;
  std::map<std::string, std::string> overrides;  // dedicated flags, by config key
};

// Registers a flag that sets a config key, e.g. --data-dir -> stack.data_dir.
void KeyFlag(CLI::App* app, CommonFlags& flags, const std::string& flag, const std::string& key,
             const std::string& help) {
  app->add_option_function<std::string>(
      flag, [&flags, key](const std::string& v) { flags.overrides[key] = v; }, help);
}

Result<Config> BuildConfig(const CommonFlags& flags) {
  ConfigSources sources;
  sources.file = flags.config_file;
  sources.env = ProcessEnvironment();
  for (const auto& s : flags.sets) {
    auto eq = s.find('=');
    if (eq == std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument, "--set expects key=value, got '{}'", s);
    }
    sources.overrides.emplace_back(s.substr(0, eq), s.substr(eq + 1));
  }
  for (const auto& [k, v] : flags.overrides) sources.overrides.emplace_back(k, v);
  return LoadConfig(sources);
}

int Fail(const std::string& command, const Error& e) {
  std::fprintf(stderr, "taquilla %s: error: %s\n", command.c_str(), e.message.c_str());
  return e.code == ErrorCode::kInvalidArgument ? 2 : 1;
}

std::string SelfExe(const char* argv0) {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(argv0) : p.string();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Taquilla: a ticket resale marketplace platform"};
  app.require_subcommand(1);
  CommonFlags flags;
  app.add_option("--config", flags.config_file, "TOML configuration file");
  app.add_option("--set", flags.sets, "Set a configuration key: --set section.key=value");
  KeyFlag(&app, flags, "--data-dir", "stack.data_dir", "Data dir of the local stack");
  KeyFlag(&app, flags, "--log-level", "log.level", "trace|debug|info|warn|error|off");

  auto* up = app.add_subcommand("up", "Start, supervise and stop the whole local stack");
  KeyFlag(up, flags, "--data-dir", "stack.data_dir", "Data dir (default var)");
  KeyFlag(up, flags, "--port-base", "stack.port_base", "First port (default 7100)");
  KeyFlag(up, flags, "--scale", "stack.scale", "demo|ticketbis|none (default demo)");
  KeyFlag(up, flags, "--seed", "stack.seed", "Random seed of the demo data");

  auto* migrate = app.add_subcommand("migrate", "Apply the database migrations");
  KeyFlag(migrate, flags, "--data-dir", "stack.data_dir", "Find PostgreSQL in this stack");
  KeyFlag(migrate, flags, "--postgres-url", "postgres.url", "PostgreSQL URL");

  auto* seed = app.add_subcommand("seed", "Load a generated marketplace into an empty database");
  std::string seed_scale = "demo";
  uint64_t seed_value = 1;
  bool seed_force = false, seed_no_progress = false;
  KeyFlag(seed, flags, "--data-dir", "stack.data_dir", "Find PostgreSQL in this stack");
  KeyFlag(seed, flags, "--postgres-url", "postgres.url", "PostgreSQL URL");
  seed->add_option("--scale", seed_scale, "demo|ticketbis");
  seed->add_option("--seed", seed_value, "Random seed (same seed, same data)");
  seed->add_flag("--force", seed_force, "Replace the marketplace data of a non-empty database");
  seed->add_flag("--no-progress", seed_no_progress, "Do not draw a progress bar");

  auto* secure = app.add_subcommand("secure", "Serve the secure app: accounts, selling, orders");
  KeyFlag(secure, flags, "--data-dir", "stack.data_dir", "Find PostgreSQL in this stack");
  KeyFlag(secure, flags, "--postgres-url", "postgres.url", "PostgreSQL URL");
  KeyFlag(secure, flags, "--listen", "secure.listen", "host:port to listen on");

  auto* admin = app.add_subcommand("admin", "Operator tasks on the marketplace");
  admin->require_subcommand(1);
  auto* create_user = admin->add_subcommand("create-user", "Create an account (the first admin)");
  std::string cu_email, cu_password, cu_name, cu_locale = "en", cu_role = "admin";
  KeyFlag(create_user, flags, "--data-dir", "stack.data_dir", "Find PostgreSQL in this stack");
  KeyFlag(create_user, flags, "--postgres-url", "postgres.url", "PostgreSQL URL");
  create_user->add_option("--email", cu_email, "Email address")->required();
  create_user->add_option("--password", cu_password,
                          "Password, at least 10 characters (default: read from stdin)");
  create_user->add_option("--name", cu_name, "Display name (default: the email)");
  create_user->add_option("--locale", cu_locale, "Language of the account (default en)");
  create_user->add_option("--role", cu_role, "buyer|seller|admin (default admin)")
      ->check(CLI::IsMember({"buyer", "seller", "admin"}));

  auto* sync_cmd = app.add_subcommand(
      "sync", "Stream committed changes from PostgreSQL into the Redis projections and queues");
  KeyFlag(sync_cmd, flags, "--data-dir", "stack.data_dir",
          "Find PostgreSQL and Redis in this stack");
  KeyFlag(sync_cmd, flags, "--postgres-url", "postgres.url", "PostgreSQL URL");
  KeyFlag(sync_cmd, flags, "--redis-url", "redis.master_url", "Redis master URL");
  KeyFlag(sync_cmd, flags, "--listen", "sync.listen", "host:port of /metrics");
  KeyFlag(sync_cmd, flags, "--slot", "sync.slot", "Replication slot name");

  auto* rebuild = app.add_subcommand("rebuild", "Rebuild the Redis projections from PostgreSQL");
  std::string rb_site, rb_lang;
  bool rb_no_progress = false;
  KeyFlag(rebuild, flags, "--data-dir", "stack.data_dir",
          "Find PostgreSQL and Redis in this stack");
  KeyFlag(rebuild, flags, "--postgres-url", "postgres.url", "PostgreSQL URL");
  KeyFlag(rebuild, flags, "--redis-url", "redis.master_url", "Redis master URL");
  rebuild->add_option("--site", rb_site, "Only the events of this site (and the site list)");
  rebuild->add_option("--lang", rb_lang, "Only events of sites offering this language");
  rebuild->add_flag("--no-progress", rb_no_progress, "Do not draw a progress bar");

  auto* verify = app.add_subcommand(
      "verify", "Recompute every projection from PostgreSQL and diff it against Redis");
  int verify_wait_ms = 30000;
  KeyFlag(verify, flags, "--data-dir", "stack.data_dir", "Find PostgreSQL and Redis in this stack");
  KeyFlag(verify, flags, "--postgres-url", "postgres.url", "PostgreSQL URL");
  KeyFlag(verify, flags, "--redis-url", "redis.master_url", "Redis master URL");
  verify->add_option("--wait-ms", verify_wait_ms,
                     "First wait this long for sync to catch up with PostgreSQL (0: do not wait)");

  bool verify_index = false;
  verify->add_flag("--index", verify_index,
                   "Also compare the search index with the projections (after the search queue "
                   "drains)");

  auto* indexer = app.add_subcommand(
      "indexer", "Keep the search index up to date from the 'search' change queue");
  KeyFlag(indexer, flags, "--data-dir", "stack.data_dir", "Find Redis in this stack");
  KeyFlag(indexer, flags, "--redis-url", "redis.master_url", "Redis master URL");
  KeyFlag(indexer, flags, "--index-dir", "search.dir", "Index directory");
  KeyFlag(indexer, flags, "--shards", "search.shards", "Index shards to write");
  KeyFlag(indexer, flags, "--listen", "search.listen", "host:port of /metrics");

  auto* read_cmd = app.add_subcommand(
      "read", "Serve the public pages and API from a Redis replica and the search index");
  KeyFlag(read_cmd, flags, "--data-dir", "stack.data_dir", "Find the replica and index here");
  KeyFlag(read_cmd, flags, "--redis-url", "redis.replica_url", "Redis replica URL");
  KeyFlag(read_cmd, flags, "--index-dir", "search.dir", "Index directory");
  KeyFlag(read_cmd, flags, "--read-shards", "search.read_shards",
          "Shards to search: index paths and xapian-tcpsrv host:port, comma-separated");
  KeyFlag(read_cmd, flags, "--listen", "read.listen", "host:port to serve on");
  KeyFlag(read_cmd, flags, "--secure-url", "read.secure_url",
          "Where transactional paths are redirected");

  auto* reindex = app.add_subcommand(
      "reindex", "Rebuild the search index from the projections aside, then swap it in");
  std::string ri_lang;
  bool ri_no_progress = false;
  KeyFlag(reindex, flags, "--data-dir", "stack.data_dir", "Find Redis in this stack");
  KeyFlag(reindex, flags, "--redis-url", "redis.master_url", "Redis master URL");
  KeyFlag(reindex, flags, "--index-dir", "search.dir", "Index directory");
  KeyFlag(reindex, flags, "--shards", "search.shards", "Index shards to build");
  reindex->add_option("--lang", ri_lang, "Only rebuild this language's documents");
  reindex->add_flag("--no-progress", ri_no_progress, "Do not draw a progress bar");

  auto* search_cmd = app.add_subcommand("search", "Search the events of a site");
  search::SearchCommand sc;
  KeyFlag(search_cmd, flags, "--data-dir", "stack.data_dir", "Find Redis and the index here");
  KeyFlag(search_cmd, flags, "--redis-url", "redis.master_url", "Redis URL (for the site list)");
  KeyFlag(search_cmd, flags, "--index-dir", "search.dir", "Index directory");
  KeyFlag(search_cmd, flags, "--read-shards", "search.read_shards",
          "Shards to read: directories and host:port of xapian-tcpsrv, comma-separated");
  search_cmd->add_option("--site", sc.site, "Site code (es, mx, de ...)")->required();
  search_cmd->add_option("--lang", sc.lang, "Language (default: the site's)");
  search_cmd->add_option("query", sc.query, "Free text (may be empty)");
  for (const char* p : {"from", "to", "category", "price_min", "price_max", "available", "near",
                        "radius_km", "sort", "prefix", "page", "per_page"}) {
    std::string flag = std::string("--") + p;
    for (auto& ch : flag) ch = ch == '_' ? '-' : ch;
    search_cmd->add_option_function<std::string>(
        flag, [&sc, p](const std::string& v) { sc.params[p] = v; },
        std::string("The API's '") + p + "' parameter");
  }
  search_cmd->add_flag("--json", sc.json, "Print the API's JSON answer");

  auto* queue_cmd = app.add_subcommand("queue", "Operate the reliable change queues");
  queue_cmd->require_subcommand(1);
  std::vector<std::string> q_groups;
  size_t q_limit = 100;
  std::string q_item;
  auto queue_flags = [&](CLI::App* c) {
    KeyFlag(c, flags, "--data-dir", "stack.data_dir", "Find Redis in this stack");
    KeyFlag(c, flags, "--redis-url", "redis.master_url", "Redis master URL");
    c->add_option("--group", q_groups, "Consumer group (default: every group)");
  };
  auto* q_stats = queue_cmd->add_subcommand("stats", "Depth, oldest age, in flight, dead, workers");
  queue_flags(q_stats);
  auto* q_recover = queue_cmd->add_subcommand(
      "recover", "Give back the items of workers whose heartbeat expired");
  queue_flags(q_recover);
  auto* q_dead = queue_cmd->add_subcommand("dead", "List dead letters");
  queue_flags(q_dead);
  q_dead->add_option("--limit", q_limit, "At most this many per group (0: all; default 100)");
  auto* q_retry = queue_cmd->add_subcommand("retry", "Put dead letters back in the queue");
  queue_flags(q_retry);
  q_retry->add_option("--item", q_item, "Only this item (default: all)");

  auto* config_cmd = app.add_subcommand("config", "Show the effective configuration or its keys");
  config_cmd->require_subcommand(1);
  auto* config_show =
      config_cmd->add_subcommand("show", "Print the effective configuration (TOML)");
  auto* config_doc = config_cmd->add_subcommand("doc", "Print every key as a Markdown table");

  CLI11_PARSE(app, argc, argv);

  auto config = BuildConfig(flags);
  if (!config.ok()) return Fail(app.get_subcommands().front()->get_name(), config.error());
  LogOptions log_options;
  log_options.level = config->log.level;
  log_options.file = config->log.file;

  if (up->parsed()) {
    std::string dir = config->stack.data_dir;
    if (Status s = MakeDirs(dir + "/logs"); !s.ok()) return Fail("up", s.error());
    if (log_options.file.empty()) log_options.file = dir + "/logs/up.log";
    InitLogging(log_options);
    return stack::RunUp(*config, stack::UpOptions{SelfExe(argv[0])});
  }
  InitLogging(log_options);

  if (migrate->parsed()) {
    auto url = stack::ResolvePostgresUrl(*config);
    if (!url.ok()) return Fail("migrate", url.error());
    auto conn = db::Connection::Open(*url);
    if (!conn.ok()) return Fail("migrate", conn.error());
    auto report = db::Migrate(*conn);
    if (!report.ok()) return Fail("migrate", report.error());
    for (const auto& name : report->applied) std::printf("applied %s\n", name.c_str());
    std::printf("%zu migrations applied, %d already applied\n", report->applied.size(),
                report->already);
    return 0;
  }
  if (seed->parsed()) {
    // The scale is checked before anything else, so bad input changes nothing.
    if (auto scale = seed::ScaleByName(seed_scale); !scale.ok()) return Fail("seed", scale.error());
    auto url = stack::ResolvePostgresUrl(*config);
    if (!url.ok()) return Fail("seed", url.error());
    seed::SeedOptions options;
    options.scale = seed_scale;
    options.seed = seed_value;
    options.force = seed_force;
    options.progress = !seed_no_progress;
    auto counts = seed::Seed(*url, options);
    if (!counts.ok()) return Fail("seed", counts.error());
    std::printf("%s", seed::FormatCounts(*counts).c_str());
    return 0;
  }
  if (secure->parsed()) return secure::RunSecure(*config);
  if (create_user->parsed()) {
    if (cu_password.empty()) {
      char buf[1100];
      if (std::fgets(buf, sizeof buf, stdin)) cu_password = buf;
      while (!cu_password.empty() && (cu_password.back() == '\n' || cu_password.back() == '\r')) {
        cu_password.pop_back();
      }
    }
    Status s = secure::CreateUser(*config, cu_email, cu_password,
                                  cu_name.empty() ? cu_email : cu_name, cu_locale, cu_role);
    if (!s.ok()) return Fail("admin create-user", s.error());
    std::printf("created %s %s\n", cu_role.c_str(), cu_email.c_str());
    return 0;
  }
  if (sync_cmd->parsed()) return sync::RunSync(*config);
  if (rebuild->parsed()) {
    return sync::RunRebuild(*config, sync::Scope{rb_site, rb_lang},
                            !rb_no_progress && isatty(STDERR_FILENO));
  }
  if (verify->parsed()) {
    const auto wait = std::chrono::milliseconds(std::max(0, verify_wait_ms));
    int code = sync::RunVerify(*config, wait);
    if (verify_index && code != 2) {
      int index_code = search::RunVerifyIndex(*config, wait);
      code = std::max(code, index_code);
    }
    return code;
  }
  if (indexer->parsed()) return search::RunIndexer(*config);
  if (read_cmd->parsed()) return read::RunRead(*config);
  if (reindex->parsed()) {
    return search::RunReindex(*config, ri_lang, !ri_no_progress && isatty(STDERR_FILENO));
  }
  if (search_cmd->parsed()) return search::RunSearch(*config, sc);
  if (queue_cmd->parsed()) {
    const std::string name = "queue " + queue_cmd->get_subcommands().front()->get_name();
    auto url = stack::ResolveRedisMasterUrl(*config);
    if (!url.ok()) return Fail(name, url.error());
    auto client = redis::Client::Connect(*url);
    if (!client.ok()) return Fail(name, client.error());
    const std::string& prefix = config->redis.prefix;
    Status s = Ok();
    if (q_stats->parsed()) {
      s = queue::ops::PrintStats(*client, prefix, q_groups, std::cout);
    } else if (q_recover->parsed()) {
      s = queue::ops::Recover(*client, prefix, q_groups, config->queue.max_deliveries, std::cout);
    } else if (q_dead->parsed()) {
      s = queue::ops::PrintDead(*client, prefix, q_groups, q_limit, std::cout);
    } else if (q_retry->parsed()) {
      s = queue::ops::Retry(*client, prefix, q_groups,
                            q_item.empty() ? std::nullopt : std::optional<std::string>(q_item),
                            std::cout);
    }
    if (!s.ok()) return Fail(name, s.error());
    return 0;
  }
  if (config_show->parsed()) {
    std::printf("%s", RenderConfigToml(*config).c_str());
    return 0;
  }
  if (config_doc->parsed()) {
    std::printf("%s", RenderConfigDoc().c_str());
    return 0;
  }
  return 0;
}
