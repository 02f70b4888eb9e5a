#include "stack/servers.h"

#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <thread>

#include "common/files.h"
#include "common/log.h"
#include "db/pg.h"

namespace taquilla::stack {
namespace fs = std::filesystem;

namespace {

// Sleeps a little more each round, up to 100 ms, while polling for readiness.
class Backoff {
 public:
  void Wait() {
    std::this_thread::sleep_for(pause_);
    pause_ = std::min(pause_ * 2, std::chrono::milliseconds(100));
  }

 private:
  std::chrono::milliseconds pause_{5};
};

Status ChownTree(const std::string& path, const std::string& user) {
  if (!RunningAsRoot()) return Ok();
  TQ_ASSIGN_OR_RETURN(UserIds ids, LookupUser(user));
  if (chown(path.c_str(), ids.uid, ids.gid) != 0) {
    return MakeError(ErrorCode::kUnavailable, "cannot give {} to {}", path, user);
  }
  return Ok();
}

}  // namespace

Status PreparePostgres(const PostgresOptions& o) {
  std::string user = RunningAsRoot() ? o.os_user : "";
  std::string initdb = o.bin_dir + "/initdb";
  if (access(initdb.c_str(), X_OK) != 0) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "{} not found: install postgresql-15 (scripts/setup) or set postgres.bin_dir",
                     initdb);
  }
  TQ_RETURN_IF_ERROR(MakeDirs(o.dir, 0700));
  TQ_RETURN_IF_ERROR(ChownTree(o.dir, o.os_user));
  if (!user.empty()) {
    // The cluster directory's parents must be traversable by the PostgreSQL user.
    auto probe = RunCapture({"test", "-w", o.dir}, user);
    if (!probe.ok() || probe->status != 0) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "the OS user '{}' cannot reach {}: choose a data dir whose parent "
                       "directories others may enter (chmod o+x), e.g. under /var or /tmp",
                       user, o.dir);
    }
  }
  if (!fs::exists(o.dir + "/PG_VERSION")) {
    auto out = RunCapture({initdb, "-D", o.dir, "-U", kRole, "--auth=trust", "--encoding=UTF8",
                           "--locale=C.UTF-8", "--no-instructions"},
                          user);
    if (!out.ok()) return out.error();
    if (out->status != 0) {
      return MakeError(ErrorCode::kUnavailable, "initdb failed (status {}): {}", out->status,
                       out->output);
    }
    auto conf = ReadFile(o.dir + "/postgresql.conf");
    if (!conf.ok()) return conf.error();
    TQ_RETURN_IF_ERROR(
        WriteFileAtomic(o.dir + "/postgresql.conf", *conf + "\ninclude = 'taquilla.conf'\n"));
  }
  std::string conf = fmt::format(
      "# Written by taquilla at every start; edit the stack's configuration instead.\n"
      "listen_addresses = '127.0.0.1'\n"
      "port = {}\n"
      "unix_socket_directories = ''\n"
      "wal_level = logical\n"
      "max_wal_senders = 10\n"
      "max_replication_slots = 10\n"
      "max_slot_wal_keep_size = '{}'\n"
      "shared_buffers = '256MB'\n"
      "max_connections = 200\n"
      "logging_collector = off\n"
      "log_min_messages = warning\n",
      o.port, o.max_slot_wal_keep_size);
  if (!o.durable) {
    conf +=
        "fsync = off\nfull_page_writes = off\nsynchronous_commit = off\nwal_writer_delay = 10ms\n"
        "shared_buffers = '128MB'\n";
  }
  TQ_RETURN_IF_ERROR(WriteFileAtomic(o.dir + "/taquilla.conf", conf));
  TQ_RETURN_IF_ERROR(ChownTree(o.dir + "/taquilla.conf", o.os_user));
  TQ_RETURN_IF_ERROR(ChownTree(o.dir + "/postgresql.conf", o.os_user));
  return Ok();
}

Result<std::string> ClusterDirFor(const std::string& data_dir, const std::string& os_user) {
  std::string inside = data_dir + "/postgres";
  if (!RunningAsRoot()) return inside;
  if (fs::is_symlink(inside)) return fs::read_symlink(inside).string();
  auto probe = RunCapture({"test", "-x", data_dir}, os_user);
  if (probe.ok() && probe->status == 0) return inside;
  std::string name;
  for (char c : data_dir) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  std::string outside = "/var/lib/taquilla/clusters/" + name;
  TQ_RETURN_IF_ERROR(MakeDirs("/var/lib/taquilla/clusters", 0755));
  std::error_code ec;
  fs::create_directory_symlink(outside, inside, ec);
  if (ec) return MakeError(ErrorCode::kUnavailable, "cannot link {}: {}", inside, ec.message());
  Logger("stack")->info("the {} user cannot enter {}; its cluster lives in {}", os_user, data_dir,
                        outside);
  return outside;
}

SpawnOptions PostgresCommand(const PostgresOptions& o) {
  SpawnOptions s;
  s.argv = {o.bin_dir + "/postgres", "-D", o.dir};
  s.log_file = o.log_file;
  s.run_as_user = RunningAsRoot() ? o.os_user : "";
  s.cwd = o.dir;
  s.parent_death_signal = SIGINT;  // fast shutdown if the supervisor dies
  return s;
}

std::string PostgresUrl(int port, const std::string& database) {
  return fmt::format("postgresql://{}@127.0.0.1:{}/{}", kRole, port, database);
}

Status WaitPostgresReady(int port, pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string url = PostgresUrl(port, "postgres");
  Backoff backoff;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pid > 0 && !ProcessAlive(pid)) {
      return MakeError(ErrorCode::kUnavailable, "PostgreSQL exited during start-up");
    }
    if (PQping(url.c_str()) == PQPING_OK) return Ok();
    if (pid > 0) {
      if (auto status = TryReap(pid)) {
        return MakeError(ErrorCode::kUnavailable, "PostgreSQL exited during start-up (status {})",
                         *status);
      }
    }
    backoff.Wait();
  }
  return MakeError(ErrorCode::kDeadlineExceeded, "PostgreSQL on port {} not ready after {} ms",
                   port, timeout.count());
}

Status EnsureDatabase(int port) {
  TQ_ASSIGN_OR_RETURN(db::Connection conn, db::Connection::Open(PostgresUrl(port, "postgres")));
  TQ_ASSIGN_OR_RETURN(db::PgResult r,
                      conn.ExecParams("SELECT 1 FROM pg_database WHERE datname = $1", {kDatabase}));
  if (r.rows() == 0) {
    TQ_RETURN_IF_ERROR(conn.Exec(fmt::format("CREATE DATABASE {}", db::QuoteIdent(kDatabase))));
  }
  return Ok();
}

Status PrepareRedis(const RedisOptions& o) { return MakeDirs(o.dir, 0755); }

SpawnOptions RedisCommand(const RedisOptions& o) {
  SpawnOptions s;
  s.argv = {o.server_bin,
            "--port",
            std::to_string(o.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            o.dir,
            "--daemonize",
            "no",
            "--save",
            "",
            "--logfile",
            "",
            "--appendonly",
            o.append_only ? "yes" : "no",
            "--protected-mode",
            "yes"};
  if (o.replica_of_port == 0) {
    // Replicas (re)synchronise at once instead of after the default 5 s batching delay.
    s.argv.insert(s.argv.end(), {"--repl-diskless-sync-delay", "0"});
  } else {
    s.argv.insert(s.argv.end(), {"--replicaof", "127.0.0.1", std::to_string(o.replica_of_port),
                                 "--replica-read-only", "yes"});
  }
  s.log_file = o.log_file;
  s.cwd = o.dir;
  return s;
}

std::string RedisUrl(int port) { return fmt::format("redis://127.0.0.1:{}", port); }

Status WaitRedisReady(int port, bool replica, pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  Backoff backoff;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pid > 0) {
      if (auto status = TryReap(pid)) {
        return MakeError(ErrorCode::kUnavailable, "redis-server on port {} exited (status {})",
                         port, *status);
      }
    }
    timeval tv{0, 200000};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
    bool ready = false;
    if (c != nullptr && c->err == 0) {
      auto* reply =
          static_cast<redisReply*>(redisCommand(c, replica ? "INFO replication" : "PING"));
      if (reply != nullptr) {
        if (!replica) {
          ready = reply->type == REDIS_REPLY_STATUS;
        } else if (reply->type == REDIS_REPLY_STRING) {
          ready = std::string_view(reply->str, reply->len).find("master_link_status:up") !=
                  std::string_view::npos;
        }
        freeReplyObject(reply);
      }
    }
    if (c != nullptr) redisFree(c);
    if (ready) return Ok();
    backoff.Wait();
  }
  return MakeError(ErrorCode::kDeadlineExceeded, "Redis on port {} not ready after {} ms", port,
                   timeout.count());
}

}  // namespace taquilla::stack
