#include "db/pg.h"

#include <charconv>

namespace taquilla::db {
namespace {

// libpq ends its messages with a newline (and sometimes spaces).
void TrimTrailingSpace(std::string& msg) {
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
}

}  // namespace

int64_t PgResult::GetInt(int row, int col) const {
  std::string_view v = Get(row, col);
  int64_t out = 0;
  std::from_chars(v.data(), v.data() + v.size(), out);
  return out;
}

int64_t PgResult::affected() const {
  if (!r_) return 0;
  const char* n = PQcmdTuples(r_.get());
  return n && *n ? std::stoll(n) : 0;
}

ErrorCode CodeForSqlState(std::string_view s) {
  if (s.rfind("23", 0) == 0) return ErrorCode::kInvalidArgument;  // integrity violations
  if (s.rfind("22", 0) == 0) return ErrorCode::kInvalidArgument;  // data exceptions
  if (s == "40001" || s == "40P01" || s == "55P03") return ErrorCode::kConflict;
  if (s.rfind("08", 0) == 0 || s == "57P01" || s == "57P03") return ErrorCode::kUnavailable;
  if (s.rfind("42", 0) == 0) return ErrorCode::kInternal;
  return ErrorCode::kInternal;
}

std::string SqlStateOf(const Error& error) {
  if (error.reason.rfind("pg:", 0) != 0 || error.reason.size() < 8) return "";
  return error.reason.substr(3, 5);
}

std::string ConstraintOf(const Error& error) {
  if (error.reason.rfind("pg:", 0) != 0 || error.reason.size() < 10) return "";
  return error.reason.substr(9);
}

Result<Connection> Connection::Open(const std::string& url, std::chrono::seconds timeout) {
  std::string conninfo = url;
  std::string timeout_s = std::to_string(std::max<int64_t>(1, timeout.count()));
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {conninfo.c_str(), timeout_s.c_str(), "taquilla", nullptr};
  PGconn* c = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (c == nullptr) return MakeError(ErrorCode::kUnavailable, "PostgreSQL: out of memory");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(c);
    PQfinish(c);
    TrimTrailingSpace(msg);
    return MakeError(ErrorCode::kUnavailable, "cannot connect to PostgreSQL: {}", msg);
  }
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  return Connection(c);
}

Error Connection::ErrorFrom(PGresult* r, std::string_view what) {
  std::string msg = r ? PQresultErrorMessage(r) : PQerrorMessage(conn_.get());
  const char* state_field = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string state = state_field ? state_field : "";
  const char* constraint_field = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : nullptr;
  std::string constraint = constraint_field ? constraint_field : "";
  TrimTrailingSpace(msg);
  if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
  ErrorCode code = ErrorCode::kUnavailable;
  if (!state.empty())
    code = CodeForSqlState(state);
  else if (PQstatus(conn_.get()) == CONNECTION_OK)
    code = ErrorCode::kInternal;
  if (r) PQclear(r);
  Error e = MakeError(code, "{}{}{}", state.empty() ? "" : fmt::format("[{}] ", state), msg,
                      what.empty() ? "" : fmt::format(" ({})", what));
  if (!state.empty()) e.reason = "pg:" + state + (constraint.empty() ? "" : ":" + constraint);
  return e;
}

Result<PgResult> Connection::Exec(std::string_view sql) {
  std::string s(sql);
  PGresult* r = PQexec(conn_.get(), s.c_str());
  auto st = PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
    return PgResult(r);
  }
  return ErrorFrom(r, "");
}

Result<PgResult> Connection::ExecParams(std::string_view sql, const std::vector<Param>& params) {
  std::string s(sql);
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  PGresult* r = PQexecParams(conn_.get(), s.c_str(), static_cast<int>(params.size()), nullptr,
                             values.data(), nullptr, nullptr, 0);
  auto st = PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return PgResult(r);
  return ErrorFrom(r, "");
}

Result<std::string> Connection::Prepare(const std::string& sql, size_t n_params) {
  auto it = prepared_.find(sql);
  if (it != prepared_.end()) return it->second;
  std::string name = "tq" + std::to_string(prepared_.size() + 1);
  PGresult* p =
      PQprepare(conn_.get(), name.c_str(), sql.c_str(), static_cast<int>(n_params), nullptr);
  if (PQresultStatus(p) != PGRES_COMMAND_OK) return ErrorFrom(p, "");
  PQclear(p);
  prepared_.emplace(sql, name);
  return name;
}

Result<PgResult> Connection::ExecPrepared(const std::string& sql,
                                          const std::vector<Param>& params) {
  TQ_ASSIGN_OR_RETURN(std::string name, Prepare(sql, params.size()));
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& v : params) values.push_back(v ? v->c_str() : nullptr);
  PGresult* r = PQexecPrepared(conn_.get(), name.c_str(), static_cast<int>(params.size()),
                               values.data(), nullptr, nullptr, 0);
  auto st = PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return PgResult(r);
  return ErrorFrom(r, "");
}

Result<std::vector<PgResult>> Connection::ExecPipeline(const std::vector<Statement>& statements) {
  std::vector<std::string> names;
  names.reserve(statements.size());
  for (const auto& st : statements) {
    TQ_ASSIGN_OR_RETURN(std::string name, Prepare(st.sql, st.params.size()));
    names.push_back(std::move(name));
  }
  PGconn* c = conn_.get();
  if (PQenterPipelineMode(c) != 1) return ErrorFrom(nullptr, "pipeline");
  bool sent = true;
  for (size_t i = 0; i < statements.size() && sent; ++i) {
    std::vector<const char*> values;
    values.reserve(statements[i].params.size());
    for (const auto& v : statements[i].params) values.push_back(v ? v->c_str() : nullptr);
    sent = PQsendQueryPrepared(c, names[i].c_str(), static_cast<int>(values.size()), values.data(),
                               nullptr, nullptr, 0) == 1;
  }
  sent = sent && PQpipelineSync(c) == 1;
  std::vector<PgResult> results;
  std::optional<Error> error;
  // Each statement answers with its result then NULL; the sync point ends the pipeline.
  int nulls = 0;
  bool synced = false;
  while (sent && !synced && nulls < 2) {
    PGresult* r = PQgetResult(c);
    if (r == nullptr) {
      ++nulls;
      continue;
    }
    nulls = 0;
    auto st = PQresultStatus(r);
    if (st == PGRES_PIPELINE_SYNC) {
      synced = true;
      PQclear(r);
    } else if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
      results.emplace_back(r);
    } else if (st == PGRES_PIPELINE_ABORTED) {
      PQclear(r);
    } else if (!error) {
      error = ErrorFrom(r, "");  // takes ownership
    } else {
      PQclear(r);
    }
  }
  const bool clean = sent && synced && PQexitPipelineMode(c) == 1;
  if (error) return *error;
  if (!clean || results.size() != statements.size()) {
    return ErrorFrom(nullptr, "pipeline");
  }
  return results;
}

Result<PgResult> Connection::ExecPreparedWithLsn(const std::string& sql,
                                                 const std::vector<Param>& params,
                                                 std::string* lsn) {
  static const std::string kLsnSql = "SELECT pg_current_wal_lsn()::text";
  TQ_ASSIGN_OR_RETURN(std::string name, Prepare(sql, params.size()));
  TQ_ASSIGN_OR_RETURN(std::string lsn_name, Prepare(kLsnSql, 0));
  PGconn* c = conn_.get();
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& v : params) values.push_back(v ? v->c_str() : nullptr);
  if (PQenterPipelineMode(c) != 1) return ErrorFrom(nullptr, "pipeline");
  bool sent = PQsendQueryPrepared(c, name.c_str(), static_cast<int>(params.size()), values.data(),
                                  nullptr, nullptr, 0) == 1 &&
              PQpipelineSync(c) == 1 &&
              PQsendQueryPrepared(c, lsn_name.c_str(), 0, nullptr, nullptr, nullptr, 0) == 1 &&
              PQpipelineSync(c) == 1;
  // Results arrive as: write result, NULL, SYNC, LSN result, NULL, SYNC.
  PGresult* write = nullptr;
  PGresult* position = nullptr;
  int syncs = 0, nulls = 0;
  while (sent && syncs < 2 && nulls < 3) {
    PGresult* r = PQgetResult(c);
    if (r == nullptr) {
      ++nulls;
      continue;
    }
    nulls = 0;
    if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
      ++syncs;
      PQclear(r);
    } else if (syncs == 0 && write == nullptr) {
      write = r;
    } else if (syncs == 1 && position == nullptr) {
      position = r;
    } else {
      PQclear(r);
    }
  }
  bool clean = sent && syncs == 2 && PQexitPipelineMode(c) == 1;
  Result<PgResult> out = PgResult();
  auto st = write ? PQresultStatus(write) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
    out = PgResult(write);
  } else {
    out = ErrorFrom(write, "");  // takes ownership of `write`
  }
  if (position && PQresultStatus(position) == PGRES_TUPLES_OK && PQntuples(position) == 1) {
    *lsn = PQgetvalue(position, 0, 0);
  }
  if (position) PQclear(position);
  // A pipeline that did not end cleanly leaves the connection unusable; the pool drops it
  // (PQpipelineStatus). The write's own result still stands, without an LSN.
  if (!clean) lsn->clear();
  return out;
}

Status Connection::CopyBegin(std::string_view copy_sql) {
  std::string s(copy_sql);
  PGresult* r = PQexec(conn_.get(), s.c_str());
  if (PQresultStatus(r) == PGRES_COPY_IN) {
    PQclear(r);
    return Ok();
  }
  return ErrorFrom(r, copy_sql);
}

Status Connection::CopyPut(std::string_view data) {
  if (PQputCopyData(conn_.get(), data.data(), static_cast<int>(data.size())) != 1) {
    return ErrorFrom(nullptr, "COPY");
  }
  return Ok();
}

Status Connection::CopyEnd() {
  if (PQputCopyEnd(conn_.get(), nullptr) != 1) return ErrorFrom(nullptr, "COPY end");
  Status status;
  while (PGresult* r = PQgetResult(conn_.get())) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
      status = ErrorFrom(r, "COPY");
    } else {
      PQclear(r);
    }
  }
  return status;
}

std::string QuoteIdent(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string QuoteLiteral(std::string_view value) {
  std::string out = "E'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += c;
    out += c;
  }
  return out + "'";
}

void AppendCopyValue(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
}

}  // namespace taquilla::db
