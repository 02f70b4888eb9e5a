#include "stack/up.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "common/files.h"
#include "common/log.h"
#include "common/net.h"
#include "common/process.h"
#include "db/migrate.h"
#include "db/pg.h"
#include "stack/endpoints.h"
#include "stack/servers.h"

namespace taquilla::stack {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds kStartTimeout{60'000};
constexpr milliseconds kMinBackoff{500};
constexpr milliseconds kMaxBackoff{30'000};
constexpr std::chrono::seconds kHealthyRun{60};
constexpr int kReadServers = 2;

// HAProxy in front of the stack: the secure app's paths and every write go to the secure
// app, everything else round-robin to the read servers, each checked on /readyz twice a
// second. A read server that dies is marked down after two failed checks; meanwhile a
// request it fails is retried once on the other (GETs are idempotent).
std::string HaproxyConfig(int public_port, const std::vector<int>& read_ports, int secure_port) {
  std::string servers;
  for (size_t i = 0; i < read_ports.size(); ++i) {
    servers += fmt::format("  server read{} 127.0.0.1:{} check\n", i, read_ports[i]);
  }
  return fmt::format(
      "# Written by taquilla up; rewritten on every start.\n"
      "global\n"
      "  maxconn 4096\n"
      "defaults\n"
      "  mode http\n"
      "  timeout connect 2s\n"
      "  timeout client 60s\n"
      "  timeout server 60s\n"
      "  timeout http-keep-alive 30s\n"
      "  timeout http-request 10s\n"
      "  option http-keep-alive\n"
      "  option redispatch\n"
      "  retries 2\n"
      "  retry-on conn-failure empty-response response-timeout 502 503\n"
      "frontend public\n"
      "  bind 127.0.0.1:{}\n"
      "  acl secure_path path /login /logout /register /sell /hold /account /admin\n"
      "  acl secure_path path_beg /login/ /register/ /sell/ /hold/ /checkout/ /account/ /admin/\n"
      "  acl secure_path path_beg /listings/ /api/v1/users /api/v1/sessions /api/v1/listings\n"
      "  acl secure_path path_beg /api/v1/holds /api/v1/orders /api/v1/me /api/v1/admin\n"
      "  acl write method POST PUT PATCH DELETE\n"
      "  use_backend secure if secure_path or write\n"
      "  default_backend read\n"
      "backend read\n"
      "  balance roundrobin\n"
      "  option httpchk GET /readyz\n"
      "  http-check expect status 200\n"
      "  default-server inter 500ms fall 2 rise 2\n"
      "{}"
      "backend secure\n"
      "  option httpchk GET /healthz\n"
      "  http-check expect status 200\n"
      "  default-server inter 1s fall 3 rise 2\n"
      "  server secure0 127.0.0.1:{} check\n",
      public_port, servers, secure_port);
}

struct Service {
  std::string name;
  int port = 0;
  std::function<Result<SpawnOptions>()> command;
  std::function<Status(pid_t)> wait_ready;
  int stop_signal = SIGTERM;
  milliseconds stop_grace{15'000};

  pid_t pid = 0;
  int restarts = 0;
  milliseconds backoff = kMinBackoff;
  Clock::time_point started_at;
  std::optional<Clock::time_point> restart_at;
};

// A Redis server of the stack: a master, or a replica when options.replica_of_port is set.
Service RedisService(std::string name, const RedisOptions& options) {
  return Service{.name = std::move(name),
                 .port = options.port,
                 .command = [options]() -> Result<SpawnOptions> {
                   TQ_RETURN_IF_ERROR(PrepareRedis(options));
                   return RedisCommand(options);
                 },
                 .wait_ready =
                     [options](pid_t pid) {
                       return WaitRedisReady(options.port, options.replica_of_port != 0, pid,
                                             kStartTimeout);
                     }};
}

class Supervisor {
 public:
  Supervisor(const Config& config, const UpOptions& options)
      : config_(config), options_(options), log_(Logger("up")) {}

  int Run();

 private:
  Status Start();
  Status StartService(Service& s, bool wait);
  Status Seed();
  void Supervise();
  void OnChildExit(pid_t pid, int status);
  void StopAll();
  void WriteState();
  bool StopRequested();
  std::string LogPath(const std::string& name) const {
    return data_dir_ + "/logs/" + name + ".log";
  }

  const Config& config_;
  const UpOptions& options_;
  std::shared_ptr<spdlog::logger> log_;
  std::string data_dir_;
  std::vector<Service> services_;
  Endpoints endpoints_;
  int lock_fd_ = -1;
  bool owns_data_dir_ = false;  // holds the lock: may write and remove the stack's files
  bool stopping_ = false;
  sigset_t signals_;
};

bool Supervisor::StopRequested() {
  if (stopping_) return true;
  sigset_t pending;
  sigpending(&pending);
  if (sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM) ||
      sigismember(&pending, SIGHUP)) {
    stopping_ = true;
  }
  return stopping_;
}

Status Supervisor::StartService(Service& s, bool wait) {
  TQ_ASSIGN_OR_RETURN(SpawnOptions spawn, s.command());
  spawn.log_file = LogPath(s.name);
  TQ_ASSIGN_OR_RETURN(s.pid, Spawn(spawn));
  s.started_at = Clock::now();
  s.restart_at.reset();
  log_->info("started {} (pid {}, port {})", s.name, s.pid, s.port);
  if (wait && s.wait_ready) {
    Status ready = s.wait_ready(s.pid);
    if (!ready.ok()) {
      return ready.error().Wrap(fmt::format("{} did not start; see {}", s.name, LogPath(s.name)));
    }
  }
  WriteState();
  return Ok();
}

Status Supervisor::Start() {
  const int base = config_.stack.port_base;
  std::error_code ec;
  data_dir_ = fs::absolute(config_.stack.data_dir, ec).lexically_normal().string();
  if (!data_dir_.empty() && data_dir_.back() == '/') data_dir_.pop_back();
  TQ_RETURN_IF_ERROR(MakeDirs(data_dir_, 0755));
  TQ_RETURN_IF_ERROR(MakeDirs(data_dir_ + "/logs", 0755));

  // One supervisor per data dir.
  std::string lock_path = data_dir_ + "/up.lock";
  lock_fd_ = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0 || flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    auto holder = ReadFile(lock_path);
    return MakeError(ErrorCode::kFailedPrecondition,
                     "another `taquilla up` is running on data dir {} (pid {})", data_dir_,
                     holder.ok() ? *holder : "?");
  }
  owns_data_dir_ = true;
  std::string me = std::to_string(getpid());
  if (ftruncate(lock_fd_, 0) != 0 || write(lock_fd_, me.data(), me.size()) < 0) {
    log_->warn("cannot record pid in {}", lock_path);
  }

  PostgresOptions pg;
  TQ_ASSIGN_OR_RETURN(pg.dir, ClusterDirFor(data_dir_, config_.postgres.user));
  pg.port = base + PortOffsets::kPostgres;
  pg.bin_dir = config_.postgres.bin_dir;
  pg.os_user = config_.postgres.user;
  pg.max_slot_wal_keep_size = config_.postgres.max_slot_wal_keep_size;

  RedisOptions master;
  master.dir = data_dir_ + "/redis-master";
  master.port = base + PortOffsets::kRedisMaster;
  master.server_bin = config_.redis.server_bin;
  // One replica beside each read server (on a real deployment, on the read host).
  std::vector<RedisOptions> replicas;
  for (int i = 0; i < kReadServers; ++i) {
    RedisOptions replica = master;
    replica.dir = data_dir_ + "/redis-replica-" + std::to_string(i);
    replica.port = base + PortOffsets::kRedisReplica + i;
    replica.replica_of_port = master.port;
    replica.append_only = false;  // it resynchronises from the master
    replicas.push_back(replica);
  }

  services_.push_back(Service{
      .name = "postgres",
      .port = pg.port,
      .command = [pg]() -> Result<SpawnOptions> {
        TQ_RETURN_IF_ERROR(PreparePostgres(pg));
        return PostgresCommand(pg);
      },
      .wait_ready =
          [port = pg.port](pid_t pid) { return WaitPostgresReady(port, pid, kStartTimeout); },
      .stop_signal = SIGINT,  // fast shutdown: roll back sessions, checkpoint, exit
      .stop_grace = milliseconds(60'000)});
  services_.push_back(RedisService("redis-master", master));
  for (int i = 0; i < kReadServers; ++i) {
    services_.push_back(RedisService("redis-replica-" + std::to_string(i), replicas[i]));
  }
  const int public_port = base + PortOffsets::kPublic;
  for (int i = 0; i < kReadServers; ++i) {
    for (int port : {public_port, base + PortOffsets::kRead + i}) {
      if (Status free = CheckPortFree("127.0.0.1", port); !free.ok()) {
        return MakeError(ErrorCode::kFailedPrecondition,
                         "port {} on 127.0.0.1 is already in use; stop what uses it or choose "
                         "another --port-base",
                         port);
      }
    }
  }

  for (const auto& s : services_) {
    Status free = CheckPortFree("127.0.0.1", s.port);
    if (!free.ok()) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "cannot start {}: port {} on 127.0.0.1 is already in use; stop what uses "
                       "it or choose another --port-base",
                       s.name, s.port);
    }
  }

  endpoints_.postgres = PostgresUrl(pg.port);
  endpoints_.redis_master = RedisUrl(master.port);
  endpoints_.redis_replicas.clear();
  for (const auto& r : replicas) endpoints_.redis_replicas.push_back(RedisUrl(r.port));
  endpoints_.public_url = fmt::format("http://127.0.0.1:{}", public_port);

  TQ_RETURN_IF_ERROR(StartService(services_[0], true));
  if (StopRequested()) return Ok();
  TQ_RETURN_IF_ERROR(EnsureDatabase(pg.port));
  {
    TQ_ASSIGN_OR_RETURN(db::Connection conn, db::Connection::Open(endpoints_.postgres));
    auto report = db::Migrate(conn);
    if (!report.ok()) return report.error();
    log_->info("migrations: {} applied now, {} already", report->applied.size(), report->already);
  }
  for (size_t i = 1; i < services_.size() && !StopRequested(); ++i) {
    TQ_RETURN_IF_ERROR(StartService(services_[i], true));
  }
  if (StopRequested()) return Ok();
  TQ_RETURN_IF_ERROR(Seed());
  if (StopRequested()) return Ok();

  // sync (projections into the Redis master) and the secure app, once the data is in
  // place. Each passes its section of the configuration on to its child.
  auto child = [this](const std::string& name, const std::string& section, int port,
                      std::vector<std::string> args) -> Status {
    if (Status free = CheckPortFree("127.0.0.1", port); !free.ok()) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "cannot start {}: port {} on 127.0.0.1 is already in use; stop what "
                       "uses it or choose another --port-base",
                       name, port);
    }
    std::vector<std::string> argv = {options_.self_exe, "--set", "log.file=" + LogPath(name)};
    for (const auto& o : ConfigOptions()) {
      bool mine = o.key.rfind(section + ".", 0) == 0 && o.key != section + ".listen";
      const bool consumer = name == "sync" || name == "indexer";
      const bool reader = name.rfind("read-", 0) == 0;
      if (reader && (o.key.rfind("search.", 0) == 0 || o.key == "redis.prefix") &&
          o.key != "search.listen") {
        argv.push_back("--set");
        argv.push_back(o.key + "=" + o.get(config_));
        continue;
      }
      if (mine || (consumer && (o.key.rfind("queue.", 0) == 0 || o.key == "redis.prefix"))) {
        argv.push_back("--set");
        argv.push_back(o.key + "=" + o.get(config_));
      }
    }
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--listen");
    argv.push_back(fmt::format("127.0.0.1:{}", port));
    services_.push_back(Service{.name = name,
                                .port = port,
                                .command = [argv]() -> Result<SpawnOptions> {
                                  SpawnOptions o;
                                  o.argv = argv;
                                  return o;
                                },
                                .wait_ready = [port](pid_t pid) -> Status {
                                  auto deadline = Clock::now() + kStartTimeout;
                                  while (Clock::now() < deadline) {
                                    if (PortAccepts("127.0.0.1", port)) return Ok();
                                    if (!ProcessAlive(pid))
                                      return MakeError(ErrorCode::kUnavailable, "it exited");
                                    std::this_thread::sleep_for(milliseconds(20));
                                  }
                                  return MakeError(ErrorCode::kDeadlineExceeded,
                                                   "it did not listen in time");
                                }});
    return StartService(services_.back(), true);
  };
  const int sync_port = base + PortOffsets::kSyncMetrics;
  TQ_RETURN_IF_ERROR(child(
      "sync", "sync", sync_port,
      {"sync", "--postgres-url", endpoints_.postgres, "--redis-url", endpoints_.redis_master}));
  endpoints_.sync_metrics_url = fmt::format("http://127.0.0.1:{}/metrics", sync_port);
  if (StopRequested()) return Ok();
  const int indexer_port = base + PortOffsets::kIndexerMetrics;
  const std::string index_dir =
      config_.search.dir.empty() ? data_dir_ + "/index" : config_.search.dir;
  TQ_RETURN_IF_ERROR(
      child("indexer", "search", indexer_port,
            {"indexer", "--redis-url", endpoints_.redis_master, "--index-dir", index_dir}));
  endpoints_.indexer_metrics_url = fmt::format("http://127.0.0.1:{}/metrics", indexer_port);
  if (StopRequested()) return Ok();
  const int secure_port = base + PortOffsets::kSecure;
  TQ_RETURN_IF_ERROR(
      child("secure", "secure", secure_port, {"secure", "--postgres-url", endpoints_.postgres}));
  endpoints_.secure_url = fmt::format("http://127.0.0.1:{}", secure_port);
  if (StopRequested()) return Ok();

  // Two read servers, each on its own replica, and HAProxy in front of them and the
  // secure app.
  std::vector<int> read_ports;
  for (int i = 0; i < kReadServers; ++i) {
    const int port = base + PortOffsets::kRead + i;
    TQ_RETURN_IF_ERROR(child("read-" + std::to_string(i), "read", port,
                             {"read", "--redis-url", endpoints_.redis_replicas[i], "--index-dir",
                              index_dir, "--secure-url", *endpoints_.public_url}));
    endpoints_.read_urls.push_back(fmt::format("http://127.0.0.1:{}", port));
    read_ports.push_back(port);
    if (StopRequested()) return Ok();
  }
  {
    const std::string cfg = data_dir_ + "/haproxy.cfg";
    TQ_RETURN_IF_ERROR(WriteFileAtomic(cfg, HaproxyConfig(public_port, read_ports, secure_port)));
    services_.push_back(
        Service{.name = "haproxy",
                .port = public_port,
                .command = [cfg, log = LogPath("haproxy")]() -> Result<SpawnOptions> {
                  SpawnOptions o;
                  o.argv = {"haproxy", "-db", "-f", cfg};
                  o.log_file = log;
                  return o;
                },
                .wait_ready = [public_port](pid_t pid) -> Status {
                  auto deadline = Clock::now() + kStartTimeout;
                  while (Clock::now() < deadline) {
                    if (PortAccepts("127.0.0.1", public_port)) return Ok();
                    if (!ProcessAlive(pid)) return MakeError(ErrorCode::kUnavailable, "it exited");
                    std::this_thread::sleep_for(milliseconds(20));
                  }
                  return MakeError(ErrorCode::kDeadlineExceeded, "it did not listen in time");
                }});
    TQ_RETURN_IF_ERROR(StartService(services_.back(), true));
  }
  if (StopRequested()) return Ok();

  TQ_RETURN_IF_ERROR(WriteFileAtomic(EndpointsPath(data_dir_), ToJson(endpoints_)));
  std::string replica_urls;
  for (const auto& r : endpoints_.redis_replicas) replica_urls += " " + r;
  fmt::print(
      "Taquilla stack is up (data dir {}):\n"
      "  postgres        {}\n"
      "  redis master    {}\n"
      "  redis replicas {}\n"
      "  public (HAProxy) {}\n"
      "  read servers    {}\n"
      "  secure app      {}\n"
      "  sync metrics    {}\n"
      "  indexer metrics {}\n"
      "  endpoints       {}\n"
      "  logs            {}/logs/\n"
      "{}"
      "Press Ctrl-C to stop.\n",
      data_dir_, endpoints_.postgres, endpoints_.redis_master, replica_urls,
      endpoints_.public_url.value_or(""), fmt::join(endpoints_.read_urls, " "),
      endpoints_.secure_url.value_or(""), endpoints_.sync_metrics_url.value_or(""),
      endpoints_.indexer_metrics_url.value_or(""), EndpointsPath(data_dir_), data_dir_,
      ToJson(endpoints_));
  std::fflush(stdout);
  return Ok();
}

Status Supervisor::Seed() {
  if (config_.stack.scale == "none") return Ok();
  TQ_ASSIGN_OR_RETURN(db::Connection conn, db::Connection::Open(endpoints_.postgres));
  TQ_ASSIGN_OR_RETURN(db::PgResult r, conn.Exec("SELECT EXISTS (SELECT 1 FROM sites)"));
  if (r.GetString(0, 0) == "t") {
    log_->info("database already holds data; not seeding");
    return Ok();
  }
  log_->info("seeding the {} scale", config_.stack.scale);
  SpawnOptions seed;
  // The progress bar and the counts go to the terminal; log lines also to logs/seed.log.
  seed.argv = {options_.self_exe,
               "--set",
               "log.file=" + LogPath("seed"),
               "seed",
               "--postgres-url",
               endpoints_.postgres,
               "--scale",
               config_.stack.scale,
               "--seed",
               std::to_string(config_.stack.seed)};
  TQ_ASSIGN_OR_RETURN(pid_t pid, Spawn(seed));
  while (true) {
    if (auto status = TryReap(pid)) {
      if (*status != 0) {
        return MakeError(ErrorCode::kInternal, "seeding failed (exit status {})", *status);
      }
      return Ok();
    }
    if (StopRequested()) {
      StopProcess(pid, SIGTERM, milliseconds(10'000));
      return Ok();
    }
    // Wait for SIGCHLD (or a stop signal) rather than sleeping blindly.
    timespec ts{0, 100'000'000};
    sigset_t wait_for;
    sigemptyset(&wait_for);
    sigaddset(&wait_for, SIGCHLD);
    sigtimedwait(&wait_for, nullptr, &ts);
  }
}

void Supervisor::WriteState() {
  boost::json::object state;
  state["pid"] = getpid();
  boost::json::object services;
  for (const auto& s : services_) {
    boost::json::object o;
    o["pid"] = s.pid;
    o["port"] = s.port;
    o["restarts"] = s.restarts;
    o["log"] = LogPath(s.name);
    services[s.name] = std::move(o);
  }
  state["services"] = std::move(services);
  Status st = WriteFileAtomic(data_dir_ + "/state.json", boost::json::serialize(state) + "\n");
  if (!st.ok()) log_->warn("{}", st.error().message);
}

void Supervisor::OnChildExit(pid_t pid, int status) {
  for (auto& s : services_) {
    if (s.pid != pid) continue;
    s.pid = 0;
    if (stopping_) return;
    auto ran = Clock::now() - s.started_at;
    if (ran >= kHealthyRun) s.backoff = kMinBackoff;
    log_->error("{} exited with status {} after {} ms; restarting in {} ms (see {})", s.name,
                status, std::chrono::duration_cast<milliseconds>(ran).count(), s.backoff.count(),
                LogPath(s.name));
    s.restart_at = Clock::now() + s.backoff;
    s.backoff = std::min(s.backoff * 2, kMaxBackoff);
    ++s.restarts;
    WriteState();
    return;
  }
}

void Supervisor::Supervise() {
  while (!stopping_) {
    // Sleep until a signal arrives or the next restart is due.
    auto next = Clock::now() + std::chrono::seconds(1);
    for (const auto& s : services_) {
      if (s.restart_at && *s.restart_at < next) next = *s.restart_at;
    }
    auto wait = std::max(Clock::duration::zero(), next - Clock::now());
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
    timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    int sig = sigtimedwait(&signals_, nullptr, &ts);
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
      log_->info("received {}; stopping", strsignal(sig));
      stopping_ = true;
      break;
    }
    for (auto& s : services_) {
      if (s.pid == 0) continue;
      if (auto status = TryReap(s.pid)) OnChildExit(s.pid, *status);
    }
    for (auto& s : services_) {
      if (s.pid == 0 && s.restart_at && Clock::now() >= *s.restart_at) {
        Status st = StartService(s, false);
        if (!st.ok()) {
          log_->error("restarting {} failed: {}", s.name, st.error().message);
          s.restart_at = Clock::now() + s.backoff;
          s.backoff = std::min(s.backoff * 2, kMaxBackoff);
        }
      }
    }
  }
}

void Supervisor::StopAll() {
  stopping_ = true;
  std::error_code ec;
  if (owns_data_dir_) fs::remove(EndpointsPath(data_dir_), ec);
  for (auto it = services_.rbegin(); it != services_.rend(); ++it) {
    if (it->pid == 0) continue;
    int status = StopProcess(it->pid, it->stop_signal, it->stop_grace);
    log_->info("stopped {} (status {})", it->name, status);
    it->pid = 0;
  }
  if (owns_data_dir_) fs::remove(data_dir_ + "/state.json", ec);
}

int Supervisor::Run() {
  sigemptyset(&signals_);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&signals_, s);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);

  Status started = Start();
  if (!started.ok()) {
    log_->error("{}", started.error().message);
    StopAll();
    return 1;
  }
  if (!stopping_) Supervise();
  StopAll();
  log_->info("stack stopped");
  return 0;
}

}  // namespace

int RunUp(const Config& config, const UpOptions& options) {
  Supervisor supervisor(config, options);
  return supervisor.Run();
}

}  // namespace taquilla::stack
