#include "db/pool.h"

namespace taquilla::db {

Pool::Pool(std::string url, int size, std::chrono::milliseconds acquire_timeout)
    : url_(std::move(url)), size_(std::max(1, size)), acquire_timeout_(acquire_timeout) {}

Pool::Lease::~Lease() {
  if (pool_ && conn_) pool_->Release(std::move(*conn_));
}

Result<Pool::Lease> Pool::Acquire() {
  std::unique_lock lock(mu_);
  auto deadline = std::chrono::steady_clock::now() + acquire_timeout_;
  for (;;) {
    if (!idle_.empty()) {
      Connection c = std::move(idle_.front());
      idle_.pop_front();
      return Lease(this, std::move(c));
    }
    if (open_ < size_) {
      ++open_;
      lock.unlock();
      auto conn = Connection::Open(url_, std::chrono::seconds(2));
      if (!conn.ok()) {
        lock.lock();
        --open_;
        cv_.notify_one();
        return MakeError(ErrorCode::kUnavailable, "the database is unavailable");
      }
      return Lease(this, std::move(*conn));
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= size_) {
      return MakeError(ErrorCode::kUnavailable, "the database is busy; try again");
    }
  }
}

void Pool::Release(Connection conn) {
  bool reusable =
      PQstatus(conn.raw()) == CONNECTION_OK && PQtransactionStatus(conn.raw()) == PQTRANS_IDLE;
  std::lock_guard lock(mu_);
  if (reusable) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  cv_.notify_one();
}

Status InTransaction(Connection& conn, const std::function<Status(Connection&)>& fn, int attempts) {
  for (int i = 1;; ++i) {
    TQ_RETURN_IF_ERROR(conn.Exec("BEGIN"));
    Status s = fn(conn);
    if (s.ok()) {
      auto c = conn.Exec("COMMIT");
      if (c.ok()) return Ok();
      s = c.error();
    } else {
      (void)conn.Exec("ROLLBACK");
    }
    std::string state = SqlStateOf(s.error());
    if (i >= attempts || (state != "40001" && state != "40P01")) return s;
  }
}

Result<std::string> CurrentLsn(Connection& conn) {
  TQ_ASSIGN_OR_RETURN(auto r, conn.ExecPrepared("SELECT pg_current_wal_lsn()::text", {}));
  return r.GetString(0, 0);
}

}  // namespace taquilla::db
