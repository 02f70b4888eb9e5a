// A thin libpq adapter: one PostgreSQL connection with Result errors, parameterised
// queries and COPY FROM STDIN streaming. A Connection is owned by one thread at a time
// (libpq connections are not thread-safe); move it, don't share it.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"

namespace taquilla::db {

class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* r) : r_(r, &PQclear) {}

  int rows() const { return r_ ? PQntuples(r_.get()) : 0; }
  int cols() const { return r_ ? PQnfields(r_.get()) : 0; }
  bool IsNull(int row, int col) const { return PQgetisnull(r_.get(), row, col) == 1; }
  std::string_view Get(int row, int col) const {
    return {PQgetvalue(r_.get(), row, col), static_cast<size_t>(PQgetlength(r_.get(), row, col))};
  }
  std::string GetString(int row, int col) const { return std::string(Get(row, col)); }
  int64_t GetInt(int row, int col) const;
  // Rows changed by an INSERT/UPDATE/DELETE.
  int64_t affected() const;

 private:
  std::shared_ptr<PGresult> r_;
};

using Param = std::optional<std::string>;  // nullopt is SQL NULL

class Connection {
 public:
  // Connects to a libpq URL or keyword string, failing after `timeout`.
  static Result<Connection> Open(const std::string& url,
                                 std::chrono::seconds timeout = std::chrono::seconds(10));

  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;

  // Runs one or more statements with no parameters; returns the last result.
  Result<PgResult> Exec(std::string_view sql);
  // Runs one statement with text parameters $1..$n.
  Result<PgResult> ExecParams(std::string_view sql, const std::vector<Param>& params);
  // The same, as a prepared statement: the first call on this connection prepares `sql`,
  // later calls with the same text only bind and execute (no parsing or planning). For
  // the hot statements of a server's pooled connections.
  Result<PgResult> ExecPrepared(const std::string& sql, const std::vector<Param>& params);
  // ExecPrepared of one autocommitted write, then pg_current_wal_lsn() after its commit,
  // sent together in one round trip (libpq pipeline mode, a sync point after each). On
  // success *lsn is the WAL position a reader must reach to see the write.
  Result<PgResult> ExecPreparedWithLsn(const std::string& sql, const std::vector<Param>& params,
                                       std::string* lsn);

  // Several prepared statements sent together and answered in one round trip (libpq
  // pipeline mode, one sync point): for a group of reads that would otherwise pay one
  // round trip each. Results come back in order; the first failure is the Error.
  struct Statement {
    std::string sql;
    std::vector<Param> params;
  };
  Result<std::vector<PgResult>> ExecPipeline(const std::vector<Statement>& statements);

  // COPY ... FROM STDIN: Begin, Put any number of chunks, then End (which reports errors
  // such as constraint violations).
  Status CopyBegin(std::string_view copy_sql);
  Status CopyPut(std::string_view data);
  Status CopyEnd();

  PGconn* raw() { return conn_.get(); }

 private:
  explicit Connection(PGconn* c) : conn_(c, &PQfinish) {}
  Error ErrorFrom(PGresult* r, std::string_view what);
  Result<std::string> Prepare(const std::string& sql, size_t n_params);
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
};

// The SQLSTATE of a failed statement is kept in the message as "[23514]"; this returns
// the error code a constraint violation maps to.
ErrorCode CodeForSqlState(std::string_view sqlstate);

// A failed statement's Error has reason "pg:<SQLSTATE>[:<constraint>]"; these read it
// back ("" when the error did not come from the server).
std::string SqlStateOf(const Error& error);
std::string ConstraintOf(const Error& error);

// Quotes an identifier or a literal for SQL text built by the program itself.
std::string QuoteIdent(std::string_view name);
std::string QuoteLiteral(std::string_view value);

// Escapes a value for COPY's text format (backslash, tab, newline, CR).
void AppendCopyValue(std::string& out, std::string_view value);

}  // namespace taquilla::db
