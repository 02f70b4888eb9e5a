// Log sequence numbers: positions in PostgreSQL's write-ahead log, as the replication
// protocol carries them (a 64-bit byte position). Pure functions; thread-safe.
//
//   ParseLsn("16/B374D848") == 0x16B374D848     PostgreSQL's text form (pg_lsn), both
//   FormatLsn(0x16B374D848) == "16/B374D848"    halves in hex without leading zeros
//   LsnKey(0x16B374D848) == "00000016B374D848"  fixed width: string order == LSN order,
//                                               for Redis values compared as strings
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace taquilla::sync {

using Lsn = uint64_t;

// Parses PostgreSQL's "XXXXXXXX/XXXXXXXX" form (1 to 8 hex digits each side, any case).
Result<Lsn> ParseLsn(std::string_view text);
// PostgreSQL's form: upper-case hex, no leading zeros ("0/0", "16/B374D848").
std::string FormatLsn(Lsn lsn);
// 16 upper-case hex digits, zero-padded.
std::string LsnKey(Lsn lsn);
// The inverse of LsnKey (exactly 16 hex digits, any case).
Result<Lsn> ParseLsnKey(std::string_view key);

}  // namespace taquilla::sync
