#include "sync/stream.h"

#include <fmt/format.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace taquilla::sync {
namespace {

using Clock = std::chrono::steady_clock;

// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01 00:00:00 UTC).
constexpr int64_t kPgEpochOffsetUs = 946684800LL * 1000000;

uint64_t ReadU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void WriteU64(char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xFF);
    v >>= 8;
  }
}

std::string TrimmedError(PGconn* c) {
  std::string msg = c ? PQerrorMessage(c) : "no connection";
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return msg;
}

// An Error for a failed replication command or a stream that ended with an error.
// Recognises the slot conditions a consumer must act on. Takes ownership of `r`.
Error CommandError(PGconn* conn, PGresult* r, std::string_view what) {
  const char* state_field = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string state = state_field ? state_field : "";
  const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  const char* detail = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : nullptr;
  std::string msg = primary ? primary : TrimmedError(conn);
  if (detail) msg += fmt::format(" ({})", detail);
  if (r) PQclear(r);
  Error e = MakeError(ErrorCode::kUnavailable, "{}: {}{}", what,
                      state.empty() ? "" : fmt::format("[{}] ", state), msg);
  if (!state.empty()) {
    e.code = db::CodeForSqlState(state);
    e.reason = "pg:" + state;
  }
  if (state == "55006") {  // object_in_use: another walsender still holds the slot
    e.code = ErrorCode::kUnavailable;
    e.reason = "slot_active";
  } else if (state == "55000" && msg.find("invalidated") != std::string::npos) {
    e.code = ErrorCode::kFailedPrecondition;
    e.reason = "slot_lost";
  } else if (state == "42704") {  // undefined_object: no such slot
    e.code = ErrorCode::kNotFound;
  } else if (state.empty() || state.rfind("57P", 0) == 0 || state.rfind("08", 0) == 0) {
    e.code = ErrorCode::kUnavailable;  // the connection or the server went away
  }
  return e;
}

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (!(std::islower(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c)) || c == '_';
  });
}

Status CheckSlotName(const std::string& slot) {
  bool ok = !slot.empty() && slot.size() <= 63 && std::all_of(slot.begin(), slot.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c)) || c == '_';
  });
  if (!ok) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "bad replication slot name '{}': use a-z, 0-9 and _, at most 63", slot);
  }
  return Ok();
}

// A string literal for the replication command grammar, which knows '' but not E'...'.
std::string ReplicationLiteral(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') out += c;
    out += c;
  }
  return out + "'";
}

Lsn LsnOrZero(const db::PgResult& r, int row, int col) {
  if (r.IsNull(row, col)) return 0;
  auto lsn = ParseLsn(r.Get(row, col));
  return lsn.ok() ? *lsn : 0;
}

}  // namespace

Result<std::string> ReplicationStream::ReplicationConninfo(const std::string& postgres_url) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(postgres_url.c_str(), &err);
  if (opts == nullptr) {
    std::string msg = err ? err : "out of memory";
    if (err) PQfreemem(err);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return MakeError(ErrorCode::kInvalidArgument, "bad PostgreSQL URL: {}", msg);
  }
  std::string out;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || std::strcmp(o->keyword, "replication") == 0) continue;
    out += o->keyword;
    out += "='";
    for (const char* p = o->val; *p; ++p) {
      if (*p == '\'' || *p == '\\') out += '\\';
      out += *p;
    }
    out += "' ";
  }
  PQconninfoFree(opts);
  out += "replication='database'";
  return out;
}

Result<ReplicationStream> ReplicationStream::Open(const std::string& postgres_url) {
  TQ_ASSIGN_OR_RETURN(std::string conninfo, ReplicationConninfo(postgres_url));
  TQ_ASSIGN_OR_RETURN(db::Connection conn, db::Connection::Open(conninfo));
  return ReplicationStream(std::move(conn));
}

Result<SlotInfo> ReplicationStream::EnsureSlot(const std::string& slot) {
  TQ_RETURN_IF_ERROR(CheckSlotName(slot));
  if (streaming_) return MakeError(ErrorCode::kFailedPrecondition, "the stream has started");
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto status = QuerySlot(conn_, slot);
    if (status.ok()) {
      TQ_ASSIGN_OR_RETURN(db::PgResult db, conn_.Exec("SELECT current_database()"));
      if (status->plugin != "wal2json" || status->database != db.GetString(0, 0)) {
        return MakeError(ErrorCode::kFailedPrecondition,
                         "replication slot {} exists for plugin '{}' on database '{}'", slot,
                         status->plugin, status->database);
      }
      return SlotInfo{false, status->confirmed_flush, ""};
    }
    if (status.error().code != ErrorCode::kNotFound) return status.error();

    std::string cmd = fmt::format("CREATE_REPLICATION_SLOT {} LOGICAL wal2json EXPORT_SNAPSHOT",
                                  db::QuoteIdent(slot));
    PGresult* r = PQexec(conn_.raw(), cmd.c_str());
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) >= 3) {
      db::PgResult created(r);
      auto point = ParseLsn(created.Get(0, 1));
      if (!point.ok()) return point.error().Wrap("CREATE_REPLICATION_SLOT");
      return SlotInfo{true, *point, created.GetString(0, 2)};
    }
    Error e = CommandError(conn_.raw(), r, "CREATE_REPLICATION_SLOT");
    if (e.reason != "pg:42710") return e;  // duplicate_object: someone else just made it
  }
  return MakeError(ErrorCode::kConflict, "replication slot {} appears and disappears", slot);
}

Status ReplicationStream::DropSlot(const std::string& postgres_url, const std::string& slot) {
  TQ_RETURN_IF_ERROR(CheckSlotName(slot));
  TQ_ASSIGN_OR_RETURN(ReplicationStream s, Open(postgres_url));
  std::string cmd = fmt::format("DROP_REPLICATION_SLOT {} WAIT", db::QuoteIdent(slot));
  PGresult* r = PQexec(s.conn_.raw(), cmd.c_str());
  if (PQresultStatus(r) == PGRES_COMMAND_OK) {
    PQclear(r);
    return Ok();
  }
  Error e = CommandError(s.conn_.raw(), r, "DROP_REPLICATION_SLOT");
  if (e.code == ErrorCode::kNotFound) return Ok();
  return e;
}

Result<SlotStatus> ReplicationStream::QuerySlot(db::Connection& conn, const std::string& slot) {
  // Simple-query text with a quoted literal: a replication connection takes no parameters.
  TQ_ASSIGN_OR_RETURN(
      db::PgResult r,
      conn.Exec(fmt::format(
          "SELECT slot_name, coalesce(plugin, ''), coalesce(database, ''), active, "
          "confirmed_flush_lsn, restart_lsn, pg_current_wal_lsn(), coalesce(wal_status, ''), "
          "safe_wal_size FROM pg_replication_slots WHERE slot_name = {}",
          db::QuoteLiteral(slot))));
  if (r.rows() == 0) {
    return MakeError(ErrorCode::kNotFound, "replication slot {} does not exist", slot);
  }
  SlotStatus s;
  s.slot = r.GetString(0, 0);
  s.plugin = r.GetString(0, 1);
  s.database = r.GetString(0, 2);
  s.active = r.Get(0, 3) == "t";
  s.confirmed_flush = LsnOrZero(r, 0, 4);
  s.restart_lsn = LsnOrZero(r, 0, 5);
  s.current_wal = LsnOrZero(r, 0, 6);
  s.wal_status = r.GetString(0, 7);
  if (!r.IsNull(0, 8)) s.safe_wal_size = r.GetInt(0, 8);
  if (s.wal_status == "lost") {
    return MakeReason(ErrorCode::kFailedPrecondition, "slot_lost",
                      "replication slot {} is lost: the server removed WAL it still needed "
                      "(max_slot_wal_keep_size); rebuild from a new slot",
                      slot);
  }
  return s;
}

Status ReplicationStream::Start(const std::string& slot, Lsn from,
                                const std::vector<std::string>& tables,
                                const StartOptions& options) {
  TQ_RETURN_IF_ERROR(CheckSlotName(slot));
  if (streaming_) return MakeError(ErrorCode::kFailedPrecondition, "the stream has started");
  if (tables.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "Start needs at least one table to stream");
  }
  // wal2json lists are comma-separated with backslash escapes for special characters;
  // plain lower-case identifiers need none, and anything else is refused here.
  std::string add_tables;
  for (const std::string& t : tables) {
    size_t dot = t.find('.');
    std::string schema = dot == std::string::npos ? "public" : t.substr(0, dot);
    std::string table = dot == std::string::npos ? t : t.substr(dot + 1);
    if (!ValidName(schema) || !ValidName(table)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "table '{}': use lower-case identifiers (schema.table or table)", t);
    }
    if (!add_tables.empty()) add_tables += ',';
    add_tables += schema + "." + table;
  }
  std::string prefixes;
  for (const std::string& p : options.message_prefixes) {
    if (!ValidName(p)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "message prefix '{}': use a lower-case identifier", p);
    }
    if (!prefixes.empty()) prefixes += ',';
    prefixes += p;
  }
  // The server starts at the later of `from` and the slot's confirmed position, and
  // everything before that is applied downstream: report no less (the server would
  // otherwise move the slot back and replay more after the next restart).
  TQ_ASSIGN_OR_RETURN(SlotStatus status, QuerySlot(conn_, slot));
  std::string cmd = fmt::format(
      "START_REPLICATION SLOT {} LOGICAL {} ("
      "\"format-version\" '2', \"include-transaction\" 'true', \"include-lsn\" 'true', "
      "\"include-xids\" 'true', \"include-timestamp\" 'false', \"include-types\" 'false', "
      "\"include-typmod\" 'false', \"include-type-oids\" 'false', \"include-pk\" 'false', "
      "\"include-not-null\" 'false', \"include-default\" 'false', \"add-tables\" {}{})",
      db::QuoteIdent(slot), FormatLsn(from), ReplicationLiteral(add_tables),
      prefixes.empty() ? "" : ", \"add-msg-prefixes\" " + ReplicationLiteral(prefixes));
  PGresult* r = PQexec(conn_.raw(), cmd.c_str());
  if (PQresultStatus(r) != PGRES_COPY_BOTH) {
    return CommandError(conn_.raw(), r, fmt::format("START_REPLICATION of slot {}", slot));
  }
  PQclear(r);
  streaming_ = true;
  confirmed_ = std::max({confirmed_, from, status.confirmed_flush});
  status_interval_ = options.status_interval;
  last_status_ = Clock::now();
  return Ok();
}

Result<std::optional<Change>> ReplicationStream::Next(std::chrono::milliseconds timeout) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  if (!streaming_) return MakeError(ErrorCode::kFailedPrecondition, "the stream is not started");
  PGconn* c = conn_.raw();
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (Clock::now() - last_status_ >= status_interval_) TQ_RETURN_IF_ERROR(SendStatus(false));
    char* buf = nullptr;
    int n = PQgetCopyData(c, &buf, /*async=*/1);
    if (n > 0) {
      std::optional<Change> out;
      Status handled = HandleCopyData(buf, static_cast<size_t>(n), &out);
      PQfreemem(buf);
      if (!handled.ok()) return handled.error();
      if (out) return out;
      continue;  // a keepalive
    }
    if (n == -1) return StreamEnded();
    if (n < -1) {
      streaming_ = false;
      return MakeError(ErrorCode::kUnavailable, "replication stream broke: {}", TrimmedError(c));
    }
    // Nothing buffered: wait for the socket until the deadline or the next status update.
    auto now = Clock::now();
    auto until = std::min(deadline, last_status_ + status_interval_);
    int64_t wait_ms = until > now ? duration_cast<milliseconds>(until - now).count() + 1 : 0;
    pollfd p{PQsocket(c), POLLIN, 0};
    if (p.fd < 0) {
      streaming_ = false;
      return MakeError(ErrorCode::kUnavailable, "replication connection is closed");
    }
    int ready = poll(&p, 1, static_cast<int>(std::min<int64_t>(wait_ms, 60000)));
    if (ready < 0 && errno != EINTR) {
      return MakeError(ErrorCode::kUnavailable, "poll: {}", std::strerror(errno));
    }
    if (ready > 0) {
      if (PQconsumeInput(c) == 0) {
        streaming_ = false;
        return MakeError(ErrorCode::kUnavailable, "replication stream broke: {}", TrimmedError(c));
      }
      continue;
    }
    if (Clock::now() >= deadline) return std::optional<Change>();
  }
}

Status ReplicationStream::HandleCopyData(const char* data, size_t len, std::optional<Change>* out) {
  auto server_time = [](uint64_t pg_us) {
    return std::chrono::system_clock::time_point(
        std::chrono::microseconds(static_cast<int64_t>(pg_us) + kPgEpochOffsetUs));
  };
  if (len >= 25 && data[0] == 'w') {  // XLogData: start, end, send time, payload
    Lsn wal_start = ReadU64(data + 1);
    server_wal_end_ = std::max(server_wal_end_, ReadU64(data + 9));
    server_time_ = server_time(ReadU64(data + 17));
    auto change = ParseWal2JsonV2(std::string_view(data + 25, len - 25), wal_start);
    if (!change.ok()) return change.error();
    Change& ch = *change;
    switch (ch.kind) {
      case Change::kBegin:
        txn_commit_lsn_ = ch.commit_lsn;
        break;
      case Change::kCommit:
        txn_commit_lsn_ = 0;
        break;
      case Change::kMessage:
        if (ch.transactional) ch.commit_lsn = txn_commit_lsn_;
        break;
      default:
        ch.commit_lsn = txn_commit_lsn_;
    }
    received_ = std::max({received_, wal_start, ch.lsn});
    *out = std::move(ch);
    return Ok();
  }
  if (len >= 18 && data[0] == 'k') {  // primary keepalive: end, send time, reply requested
    server_wal_end_ = std::max(server_wal_end_, ReadU64(data + 1));
    server_time_ = server_time(ReadU64(data + 9));
    if (data[17] != 0) return SendStatus(false);
    return Ok();
  }
  return MakeError(ErrorCode::kInternal, "unexpected replication message '{}' ({} bytes)",
                   len > 0 ? data[0] : '?', len);
}

Status ReplicationStream::SendStatus(bool reply_requested) {
  // Standby status update: written, flushed, applied, client clock, reply requested. Only
  // the confirmed position is ever reported, so the server keeps everything after it.
  char msg[34];
  msg[0] = 'r';
  WriteU64(msg + 1, confirmed_);
  WriteU64(msg + 9, confirmed_);
  WriteU64(msg + 17, confirmed_);
  auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  WriteU64(msg + 25, static_cast<uint64_t>(now_us - kPgEpochOffsetUs));
  msg[33] = reply_requested ? 1 : 0;
  PGconn* c = conn_.raw();
  if (PQputCopyData(c, msg, sizeof msg) != 1 || PQflush(c) != 0) {
    streaming_ = false;
    return MakeError(ErrorCode::kUnavailable, "cannot send a status update: {}", TrimmedError(c));
  }
  last_status_ = Clock::now();
  return Ok();
}

Status ReplicationStream::Confirm(Lsn flushed) {
  if (flushed > confirmed_) confirmed_ = flushed;
  if (!streaming_) return Ok();  // reported when Start-ed (as its `from`)
  return SendStatus(false);
}

Error ReplicationStream::StreamEnded() {
  streaming_ = false;
  PGconn* c = conn_.raw();
  Error e = MakeError(ErrorCode::kUnavailable, "the server ended the replication stream");
  while (PGresult* r = PQgetResult(c)) {
    if (PQresultStatus(r) == PGRES_FATAL_ERROR) {
      e = CommandError(c, r, "replication stream");
    } else {
      PQclear(r);
    }
  }
  return e;
}

Status ReplicationStream::Close(std::chrono::milliseconds timeout) {
  if (!streaming_) return Ok();
  streaming_ = false;
  PGconn* c = conn_.raw();
  if (PQputCopyEnd(c, nullptr) != 1 || PQflush(c) != 0) {
    return MakeError(ErrorCode::kUnavailable, "cannot end the stream: {}", TrimmedError(c));
  }
  // The server answers with its own CopyDone after what it already sent; the slot is
  // released before the command completes.
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    char* buf = nullptr;
    int n = PQgetCopyData(c, &buf, /*async=*/1);
    if (n > 0) {
      PQfreemem(buf);
      continue;
    }
    if (n < 0) break;
    auto now = Clock::now();
    if (now >= deadline) {
      return MakeError(ErrorCode::kDeadlineExceeded, "the server did not end the stream");
    }
    pollfd p{PQsocket(c), POLLIN, 0};
    int64_t wait_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
    if (poll(&p, 1, static_cast<int>(std::min<int64_t>(wait_ms, 60000))) > 0 &&
        PQconsumeInput(c) == 0) {
      break;
    }
  }
  Status result = Ok();
  while (PGresult* r = PQgetResult(c)) {
    if (PQresultStatus(r) == PGRES_FATAL_ERROR) {
      result = CommandError(c, r, "ending replication");
    } else {
      PQclear(r);
    }
  }
  return result;
}

}  // namespace taquilla::sync
