// Helpers the end-to-end tests share: running the `taquilla` binary to completion, a
// demo-seeded PostgreSQL database copied per test, and small Redis reads. Every function
// is safe to call from several threads.
#pragma once

#include <chrono>
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

}  // namespace taquilla::e2e
