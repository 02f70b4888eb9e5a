// Helpers the end-to-end tests share: running the `taquilla` binary to completion, a
// demo-seeded PostgreSQL database copied per test, and small Redis reads. Every function
// is safe to call from several threads.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "db/pg.h"

namespace taquilla::e2e {

struct CliResult {
  int status = -1;
  std::string output;  // stdout and stderr
};

// Runs `taquilla args...` to completion (killed after `deadline`), capturing its output.
CliResult RunCli(const std::vector<std::string>& args,
                 std::chrono::milliseconds deadline = std::chrono::seconds(120));

std::string DbName(const std::string& url);
// The name of a database of the shared PostgreSQL fixture seeded with the demo marketplace
// (seeded on first use, once per test binary), or "" after printing why not.
const std::string& SeededTemplate();
// A fresh copy of the seeded database named {prefix}_{pid}_{n}; its URL, or "" on failure.
std::string SeededDatabase(const std::string& prefix);
// A connection, or abort with the reason.
db::Connection MustConnect(const std::string& url);

// GET of a string key, "" when missing or on error (a new client each time: the server may
// have been restarted).
std::string RedisGet(const std::string& url, const std::string& key);

// A taquilla daemon (sync, the indexer) as a child process, its /metrics on a new free port
// at every start. One thread uses it.
class Daemon {
 public:
  // `argv` is the whole command line but --listen, which Start appends.
  Daemon(std::vector<std::string> argv, std::string log)
      : argv_(std::move(argv)), log_(std::move(log)) {}
  ~Daemon() { Kill(); }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Spawns it (a gtest assertion fails when it cannot).
  void Start();
  void Kill();
  // SIGTERM; returns the exit status.
  int Stop();
  // Still running (not exited). Reaps it if it has exited.
  bool Running();
  int exit_status() const { return exit_status_; }
  // /metrics as name -> value (labels kept in the name); empty if unreachable.
  std::map<std::string, std::string> Metrics() const;
  // A metric's value; -1 when unreachable.
  double Metric(const std::string& name) const;
  std::string Log() const;
  // The last `lines` lines of the log.
  std::string LogTail(size_t lines = 60) const;
  int starts() const { return starts_; }

 private:
  std::vector<std::string> argv_;
  std::string log_;
  int port_ = 0;
  pid_t pid_ = 0;
  int exit_status_ = -1;
  int starts_ = 0;
};

}  // namespace taquilla::e2e
