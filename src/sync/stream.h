// ReplicationStream: reads committed changes, in commit order, from a PostgreSQL logical
// replication slot over the streaming replication protocol (START_REPLICATION ... LOGICAL
// with the wal2json plugin, format-version 2), one message at a time.
//
// Ownership: a ReplicationStream owns one libpq connection opened with
// replication=database (a walsender); the slot itself lives in the server and outlives it.
// Thread-safety: none; one thread owns a stream at a time (move it, don't share it).
//
// Use:
//   auto s = ReplicationStream::Open(url);
//   auto slot = s->EnsureSlot("taquilla");     // created? build the initial state from
//                                              // slot->snapshot_name first (see SlotInfo)
//   s->Start("taquilla", from, {"events", "listings"});
//   while (running) {
//     auto c = s->Next(100ms);                 // nullopt: nothing within 100 ms
//     ... apply; after Redis has durably applied a whole transaction:
//     if (c->kind == Change::kCommit) s->Confirm(c->commit_lsn);
//   }
// On any error from Next/Confirm the stream is dead: open a new one and Start it again from
// the last confirmed position (Start(slot, 0, ...) resumes from the slot's own).
//
// Position reporting: the server is only ever told (write = flush = apply) the highest LSN
// given to Confirm (or where Start began: the later of `from` and the slot's confirmed
// position), never what was merely received, so a crash downstream loses nothing; the
// server keeps WAL from there and replays the rest. A status update goes out on Confirm,
// when a primary keepalive asks for one, and every `status_interval` while Next is being
// called, so wal_sender_timeout never fires. See change.h for which LSN to confirm.
//
// Memory: wal2json v2 sends one message per row and libpq buffers only what the socket
// delivered, so a transaction of any size streams through in bounded memory.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "db/pg.h"
#include "sync/change.h"
#include "sync/lsn.h"

namespace taquilla::sync {

struct SlotInfo {
  bool created = false;
  // created: the slot's consistent point — the exported snapshot sees exactly the
  // transactions committed before it, and the stream delivers exactly those after it.
  // Existing slot: its confirmed_flush_lsn (where a Start(slot, 0) resumes).
  Lsn consistent_point = 0;
  // Only when created: a snapshot another connection can adopt with
  // `BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT '<name>'` to read the
  // state at consistent_point. Valid until the next command on this stream (Start).
  std::string snapshot_name;
};

struct SlotStatus {
  std::string slot;
  std::string plugin;
  std::string database;
  bool active = false;                   // a walsender is streaming from it
  Lsn confirmed_flush = 0;               // what the consumer has confirmed
  Lsn restart_lsn = 0;                   // the oldest WAL the slot keeps
  Lsn current_wal = 0;                   // pg_current_wal_lsn() on the server
  std::string wal_status;                // reserved | extended | unreserved (lost is an error)
  std::optional<int64_t> safe_wal_size;  // bytes left before the slot is lost; none = no limit
  // Bytes of WAL written after what the consumer confirmed.
  uint64_t lag_bytes() const {
    return current_wal > confirmed_flush ? current_wal - confirmed_flush : 0;
  }
};

struct StartOptions {
  // Logical messages (pg_logical_emit_message) delivered: only these prefixes; empty = all.
  std::vector<std::string> message_prefixes = {"taquilla"};
  // How often an idle stream tells the server its position (keep well under
  // wal_sender_timeout, 60 s by default).
  std::chrono::milliseconds status_interval = std::chrono::seconds(10);
};

class ReplicationStream {
 public:
  // Connects to a postgresql:// URL or a keyword string, adding replication=database.
  static Result<ReplicationStream> Open(const std::string& postgres_url);
  // The connection string Open uses (keyword form, replication=database set).
  static Result<std::string> ReplicationConninfo(const std::string& postgres_url);

  // Creates the logical slot `slot` (wal2json, exporting a snapshot) unless it exists. A
  // slot that exists for another plugin or database is kFailedPrecondition; a lost one
  // (wal_status 'lost': the server removed WAL it needed) is kFailedPrecondition with
  // reason "slot_lost": the consumer must rebuild from scratch on a new slot.
  Result<SlotInfo> EnsureSlot(const std::string& slot);
  // Drops the slot, waiting for a walsender still using it to let go. Ok if it is absent.
  static Status DropSlot(const std::string& postgres_url, const std::string& slot);
  // The slot's position and health, for metrics. kNotFound if absent; kFailedPrecondition
  // with reason "slot_lost" if lost. Works on normal and replication connections.
  static Result<SlotStatus> QuerySlot(db::Connection& conn, const std::string& slot);

  // Starts streaming the given tables ("events" = public.events, or "schema.table") from
  // `from` (0 = the slot's confirmed position; a lower position than the slot's is raised
  // to it by the server, and confirmed() starts at the higher of the two). Switches the
  // connection to COPY BOTH mode. No such slot: kNotFound; a slot in use by another
  // connection: kUnavailable with reason "slot_active" (retry); a lost slot:
  // kFailedPrecondition with reason "slot_lost".
  Status Start(const std::string& slot, Lsn from, const std::vector<std::string>& tables,
               const StartOptions& options = {});

  // The next change, or nullopt if none arrived within `timeout` (0 = don't wait).
  // Answers keepalives and sends periodic status updates meanwhile. When the server ends
  // the stream or the connection breaks: kUnavailable; malformed output: kInternal.
  Result<std::optional<Change>> Next(std::chrono::milliseconds timeout);

  // Records that everything up to `flushed` is durably applied downstream and tells the
  // server (write = flush = apply = the highest position confirmed so far).
  Status Confirm(Lsn flushed);

  // Ends streaming cleanly: tells the server, drains what is in flight (discarded) and
  // waits up to `timeout` for it to release the slot. The stream cannot be restarted.
  Status Close(std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // The highest position confirmed (what the server has been or will be told).
  Lsn confirmed() const { return confirmed_; }
  // The WAL position of the last message received.
  Lsn received() const { return received_; }
  // The server's position as of its last message: how far its walsender has read the WAL.
  // Primary keepalives carry it (in a logical stream an XLogData's "end" merely repeats its
  // start). Every transaction committed before it has been sent. For the lag behind new
  // writes use QuerySlot (pg_current_wal_lsn).
  Lsn server_wal_end() const { return server_wal_end_; }
  // The server's clock when it sent its last message (XLogData or keepalive); the epoch if
  // none arrived yet. now - server_time() is the age of the newest news from the server.
  std::chrono::system_clock::time_point server_time() const { return server_time_; }
  bool streaming() const { return streaming_; }

 private:
  explicit ReplicationStream(db::Connection conn) : conn_(std::move(conn)) {}
  Status SendStatus(bool reply_requested);
  // Handles one CopyData payload; sets *out for XLogData.
  Status HandleCopyData(const char* data, size_t len, std::optional<Change>* out);
  Error StreamEnded();

  db::Connection conn_;
  bool streaming_ = false;
  Lsn confirmed_ = 0;
  Lsn received_ = 0;
  Lsn server_wal_end_ = 0;
  std::chrono::system_clock::time_point server_time_{};
  std::chrono::steady_clock::time_point last_status_{};
  std::chrono::milliseconds status_interval_{std::chrono::seconds(10)};
  Lsn txn_commit_lsn_ = 0;  // of the transaction being received, from its B
};

}  // namespace taquilla::sync
