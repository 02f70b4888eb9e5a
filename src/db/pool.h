// Pool: a bounded set of PostgreSQL connections shared by the threads of a server.
//
// Connections open lazily, so a server starts (and answers 503) while PostgreSQL is
// down. Acquire waits up to a deadline for a free connection; a Lease gives it back on
// destruction, and a connection that broke or was left inside a transaction is closed
// instead of reused. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "common/result.h"
#include "db/pg.h"

namespace taquilla::db {

class Pool {
 public:
  Pool(std::string url, int size, std::chrono::milliseconds acquire_timeout);
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  class Lease {
   public:
    Lease(Pool* pool, Connection conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), conn_(std::move(o.conn_)) { o.pool_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return &*conn_; }

   private:
    Pool* pool_;
    std::optional<Connection> conn_;
  };

  // A connection, or kUnavailable when PostgreSQL cannot be reached or none frees up in
  // time.
  Result<Lease> Acquire();
  const std::string& url() const { return url_; }

 private:
  void Release(Connection conn);

  const std::string url_;
  const int size_;
  const std::chrono::milliseconds acquire_timeout_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Connection> idle_;
  int open_ = 0;  // connections handed out or idle
};

// Runs `fn` inside BEGIN … COMMIT on `conn`, rolling back when it fails. A serialization
// failure or deadlock (SQLSTATE 40001/40P01) runs it again, up to `attempts` times.
Status InTransaction(Connection& conn, const std::function<Status(Connection&)>& fn,
                     int attempts = 3);

// The server's current WAL write position ("0/16B3748"), read after a commit: a read
// server that has applied this LSN sees the commit.
Result<std::string> CurrentLsn(Connection& conn);

}  // namespace taquilla::db
