// Change: one decoded message of a logical replication stream (wal2json format-version 2):
// a transaction boundary, a row change, a TRUNCATE or a logical message. A plain value type
// owning its strings; safe to copy and move between threads, not to mutate concurrently.
//
// What wal2json v2 sends (captured from PostgreSQL 15 + wal2json 2.5, see stream_test.cc):
//   {"action":"B","xid":781,"lsn":"0/1A2D6B0","nextlsn":"0/1A2D6E0"}
//   {"action":"I","xid":781,"lsn":"0/1A2D3C8","schema":"public","table":"kinds",
//    "columns":[{"name":"id","value":9007199254740993},{"name":"t","value":"x"},...]}
//   {"action":"U",...,"columns":[...],"identity":[{"name":"id","value":9007199254740993}]}
//   {"action":"D",...,"identity":[...]}    {"action":"T",...,"schema":..,"table":..}
//   {"action":"M","xid":null,"lsn":..,"transactional":false,"prefix":"p","content":"..."}
//   {"action":"C","xid":781,"lsn":"0/1A2D6B0","nextlsn":"0/1A2D6E0"}
//
// LSNs. In B and C, wal2json's "lsn" is the START of the transaction's commit record and
// "nextlsn" its END (the first byte after it). The XLogData message carrying C starts at
// that end, and a change message at its own record's start. Change::lsn and
// Change::commit_lsn are filled accordingly (see below).
//
// Which LSN to confirm: the commit_lsn of a C (= its lsn, the end of the commit record).
// PostgreSQL skips, on a restart from position P, every transaction whose commit record
// starts before P; the commit record of a transaction starts before its own end, so
// confirming a C's commit_lsn resumes after that transaction, while confirming anything
// lower (e.g. wal2json's "lsn" of the C, the record's start) replays it. Replays are
// harmless downstream (projections compare LSNs), losses are not: confirm only what is
// applied.
//
// Framing: every transaction of the database gets a B and a C, also those whose changes
// were all filtered out (other tables, DDL): confirming their commit_lsn moves the slot on.
// A TRUNCATE sends one T per streamed table (CASCADE included, in no documented order),
// all with the same lsn. A transactional message sits inside its B/C; a non-transactional
// one ("xid":null) arrives on its own, at once.
//
// Values are PostgreSQL's text form: strings as they are, numbers exactly as PostgreSQL
// printed them (bigints beyond 2^53 and numeric(40,10) values stay exact), booleans "t"/"f",
// SQL NULL as nullopt. wal2json quirks kept as they come: NaN and +-Infinity (float and
// numeric) arrive as null; bytea arrives as bare hex without PostgreSQL's "\x" prefix; an
// UPDATE that does not change a TOASTed (large, out-of-line) column omits that column.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "sync/lsn.h"

namespace taquilla::sync {

// name -> text value (nullopt = SQL NULL), in table column order. A row has few columns, so
// a vector searched linearly beats a map.
struct Column {
  std::string name;
  std::optional<std::string> value;
  bool operator==(const Column&) const = default;
};
using Columns = std::vector<Column>;

struct Change {
  enum Kind : uint8_t { kBegin, kCommit, kInsert, kUpdate, kDelete, kTruncate, kMessage };

  Kind kind = kBegin;
  // Where the server puts this message in the WAL: for a row change, TRUNCATE or message
  // the start of its record; for kCommit the END of the commit record (== commit_lsn, the
  // position to confirm); for kBegin the XLogData start the server sent (the transaction's
  // first record).
  Lsn lsn = 0;
  // The end of the enclosing transaction's commit record. Set by the parser on kBegin and
  // kCommit (wal2json's "nextlsn"); ReplicationStream also sets it on every change inside a
  // transaction, so a consumer knows the commit LSN a change will be visible at before the
  // commit arrives. 0 for non-transactional messages.
  Lsn commit_lsn = 0;
  uint32_t xid = 0;  // 0 for non-transactional messages

  std::string schema;  // I, U, D, T
  std::string table;   // I, U, D, T
  Columns columns;     // I, U: the new row
  Columns identity;    // U, D: the old row's replica identity (the primary key by default)

  bool transactional = false;  // M
  std::string prefix;          // M
  std::string content;         // M

  // A column's value: first the new row, then the identity. nullptr if absent.
  const std::optional<std::string>* Get(std::string_view name) const;
  // The same as an integer; nullopt if absent, NULL or not an integer.
  std::optional<int64_t> GetInt(std::string_view name) const;
  // Only in the identity (the old key of an UPDATE that changed it).
  const std::optional<std::string>* GetOld(std::string_view name) const;

  bool is_row() const { return kind == kInsert || kind == kUpdate || kind == kDelete; }
};

// "begin", "commit", "insert", "update", "delete", "truncate", "message".
std::string_view KindName(Change::Kind kind);

// Parses one wal2json format-version 2 message (as sent with include-transaction,
// include-lsn and include-xids; other include-* fields are accepted and ignored).
// `wal_start` is the XLogData start position the message came with (0 if unknown, e.g.
// from the SQL interface). Numbers are read from their text, never through a double.
Result<Change> ParseWal2JsonV2(std::string_view json, Lsn wal_start);

}  // namespace taquilla::sync
