// Hermetic tests of the change-capture layer: LSN forms and the wal2json v2 parser, on
// messages captured from PostgreSQL 15.18 with wal2json 2.5 (pg_recvlogical, options as
// ReplicationStream::Start sends them, plus include-pk and include-timestamp in some).
#include "sync/stream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "sync/change.h"
#include "sync/lsn.h"

namespace taquilla::sync {
namespace {

// ---- LSN ----

TEST(LsnTest, ParsesAndFormatsPostgresForm) {
  auto a = ParseLsn("16/B374D848");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, 0x16B374D848ULL);
  EXPECT_EQ(FormatLsn(*a), "16/B374D848");
  EXPECT_EQ(*ParseLsn("0/0"), 0u);
  EXPECT_EQ(FormatLsn(0), "0/0");
  EXPECT_EQ(*ParseLsn("0/1a2d6b0"), 0x1A2D6B0u);  // any case in, upper case out
  EXPECT_EQ(FormatLsn(0x1A2D6B0), "0/1A2D6B0");
  EXPECT_EQ(*ParseLsn("FFFFFFFF/FFFFFFFF"), UINT64_MAX);
  EXPECT_EQ(FormatLsn(UINT64_MAX), "FFFFFFFF/FFFFFFFF");
  EXPECT_EQ(*ParseLsn("00000001/00000002"), 0x100000002ULL);  // leading zeros accepted
  EXPECT_EQ(FormatLsn(0x100000002ULL), "1/2");
}

TEST(LsnTest, RejectsMalformed) {
  for (const char* bad : {"", "/", "1/", "/1", "1", "1/2/3", "G/1", "1/-1", "+1/1", "1 /1",
                          "123456789/0", "0/123456789", "0x1/0", "1/2 "}) {
    auto r = ParseLsn(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    }
  }
}

TEST(LsnTest, KeyIsFixedWidthAndRoundTrips) {
  EXPECT_EQ(LsnKey(0x16B374D848ULL), "00000016B374D848");
  EXPECT_EQ(LsnKey(0), "0000000000000000");
  EXPECT_EQ(LsnKey(UINT64_MAX), "FFFFFFFFFFFFFFFF");
  EXPECT_EQ(*ParseLsnKey("00000016B374D848"), 0x16B374D848ULL);
  EXPECT_EQ(*ParseLsnKey("00000016b374d848"), 0x16B374D848ULL);
  EXPECT_FALSE(ParseLsnKey("16B374D848").ok());
  EXPECT_FALSE(ParseLsnKey("00000016B374D84G").ok());
}

TEST(LsnTest, KeyStringOrderIsNumericOrder) {
  // Where the PostgreSQL form sorts wrongly as a string ("9/0" > "10/0"), the key does not.
  EXPECT_GT(std::string("9/0"), std::string("10/0"));
  EXPECT_LT(LsnKey(*ParseLsn("9/0")), LsnKey(*ParseLsn("10/0")));
  std::mt19937_64 rng(42);
  std::vector<Lsn> lsns = {0, 1, 0xF, 0x10, 0xFFFFFFFF, 0x100000000ULL, UINT64_MAX};
  for (int i = 0; i < 2000; ++i) lsns.push_back(rng() >> (rng() % 64));
  for (size_t i = 1; i < lsns.size(); ++i) {
    Lsn a = lsns[i - 1], b = lsns[i];
    EXPECT_EQ(a < b, LsnKey(a) < LsnKey(b)) << a << " " << b;
    EXPECT_EQ(*ParseLsn(FormatLsn(a)), a);
    EXPECT_EQ(*ParseLsnKey(LsnKey(a)), a);
  }
}

// ---- wal2json v2 samples (one transaction: B, I x3, C) ----

constexpr const char* kBegin =
    R"({"action":"B","xid":781,"lsn":"0/1A2D6B0","nextlsn":"0/1A2D6E0"})";
constexpr const char* kCommit =
    R"({"action":"C","xid":781,"lsn":"0/1A2D6B0","nextlsn":"0/1A2D6E0"})";

// Every kind of value: bigint past 2^53, numeric(40,10), float8, real, boolean, text with
// quotes, backslash, newline, tab and non-ASCII, timestamptz, jsonb, int[], bytea, uuid, and
// numeric 'NaN' (which wal2json sends as null).
constexpr const char* kInsertAllTypes =
    R"({"action":"I","xid":781,"lsn":"0/1A2D3C8","schema":"public","table":"kinds","columns":[)"
    R"({"name":"id","value":9007199254740993},{"name":"i","value":-5},{"name":"s","value":7},)"
    R"({"name":"n","value":12345678901234567890.0123456789},{"name":"f8","value":0.1},)"
    R"({"name":"f4","value":1.5},{"name":"b","value":true},)"
    R"({"name":"t","value":"quote \" back \\ nl \n tab \t uni ñ 日本 😀"},)"
    R"({"name":"ts","value":"2024-01-02 03:04:05.123456+00"},)"
    R"({"name":"j","value":"{\"a\": [1, 2.50, \"x\"]}"},{"name":"arr","value":"{1,NULL,3}"},)"
    R"({"name":"by","value":"00ff"},{"name":"u","value":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},)"
    R"({"name":"nn","value":null}],"pk":[{"name":"id"}]})";

// int64 minimum, false, numeric scale kept ("0.0000000000"), float8 '+-Infinity' -> null.
constexpr const char* kInsertExtremes =
    R"({"action":"I","xid":781,"lsn":"0/1A2D580","schema":"public","table":"kinds","columns":[)"
    R"({"name":"id","value":-9223372036854775808},{"name":"i","value":null},)"
    R"({"name":"s","value":null},{"name":"n","value":0.0000000000},{"name":"f8","value":null},)"
    R"({"name":"f4","value":null},{"name":"b","value":false},{"name":"t","value":null}],)"
    R"("pk":[{"name":"id"}]})";

constexpr const char* kInsertMax =
    R"({"action":"I","xid":781,"lsn":"0/1A2D620","schema":"public","table":"kinds","columns":[)"
    R"({"name":"id","value":9223372036854775807},{"name":"f8","value":1e+300}],)"
    R"("pk":[{"name":"id"}]})";

// UPDATE with the default replica identity that leaves the key alone: identity = the key.
constexpr const char* kUpdateSameKey =
    R"({"action":"U","xid":782,"lsn":"0/1A2D6E0","schema":"public","table":"kinds","columns":[)"
    R"({"name":"id","value":9007199254740993},{"name":"i","value":42},{"name":"t","value":null}],)"
    R"("identity":[{"name":"id","value":9007199254740993}],"pk":[{"name":"id"}]})";

// UPDATE that changes the key: columns hold the new key, identity the old one.
constexpr const char* kUpdateNewKey =
    R"({"action":"U","xid":783,"lsn":"0/1A2D810","schema":"public","table":"kinds","columns":[)"
    R"({"name":"id","value":5},{"name":"f8","value":1e+300}],)"
    R"("identity":[{"name":"id","value":9223372036854775807}],"pk":[{"name":"id"}]})";

constexpr const char* kDelete =
    R"({"action":"D","xid":784,"lsn":"0/1A2D8F0","schema":"public","table":"kinds",)"
    R"("identity":[{"name":"id","value":5}]})";

// REPLICA IDENTITY FULL: identity = the whole old row.
constexpr const char* kUpdateFull =
    R"({"action":"U","xid":792,"lsn":"0/1A30038","schema":"public","table":"currencies",)"
    R"("columns":[{"name":"code","value":"EUR"},{"name":"minor_units","value":0}],)"
    R"("identity":[{"name":"code","value":"EUR"},{"name":"minor_units","value":3}],)"
    R"("pk":[{"name":"code"}]})";

constexpr const char* kTruncate =
    R"({"action":"T","xid":799,"lsn":"0/1A39D00","schema":"public","table":"kinds"})";

constexpr const char* kMessageTx =
    R"({"action":"M","xid":789,"lsn":"0/1A2FD80","transactional":true,"prefix":"tq",)"
    R"("content":"hello \"transactional\""})";
constexpr const char* kMessageNonTx =
    R"({"action":"M","xid":null,"lsn":"0/1A2FDF0","transactional":false,"prefix":"tq",)"
    R"("content":"non-tx"})";

// With include-timestamp (on every message) and include-types off.
constexpr const char* kInsertWithTimestamp =
    R"({"action":"I","xid":798,"timestamp":"2026-12-02 13:38:11.523973+00","lsn":"0/1A37818",)"
    R"("schema":"public","table":"languages","columns":[{"name":"code","value":"pt-BR"},)"
    R"({"name":"name","value":"Português (Brasil) \"quoted\" \\ back"},)"
    R"({"name":"direction","value":"ltr"},)"
    R"({"name":"created_at","value":"2026-12-02 13:38:11.522703+00"}]})";

// An UPDATE leaving a TOASTed column unchanged: the column ("big") is not sent at all.
constexpr const char* kUpdateToast =
    R"({"action":"U","xid":797,"lsn":"0/1A37788","schema":"public","table":"toasty",)"
    R"("columns":[{"name":"id","value":1},{"name":"small","value":2}],)"
    R"("identity":[{"name":"id","value":1}]})";

// With include-types on (not what Start asks for, but accepted).
constexpr const char* kInsertWithTypes =
    R"({"action":"I","xid":5,"lsn":"0/10","schema":"public","table":"t","columns":[)"
    R"({"name":"a","type":"integer","value":1},{"name":"b","type":"text","value":"x"}],)"
    R"("pk":[{"name":"a","type":"integer"}]})";

Change MustParse(const char* json, Lsn wal_start) {
  auto c = ParseWal2JsonV2(json, wal_start);
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
  return c.ok() ? std::move(c).value() : Change{};
}

std::string ValueOf(const Change& c, const char* name) {
  const auto* v = c.Get(name);
  if (v == nullptr) return "<absent>";
  return v->has_value() ? **v : "<null>";
}

TEST(ParseWal2JsonTest, BeginAndCommitCarryTheEndOfTheCommitRecord) {
  // The server sends B at the transaction's first record and C at the end of the commit
  // record (= nextlsn); wal2json's own "lsn" in both is the commit record's start.
  Change b = MustParse(kBegin, 0x1A2D3C8);
  EXPECT_EQ(b.kind, Change::kBegin);
  EXPECT_EQ(b.xid, 781u);
  EXPECT_EQ(b.lsn, 0x1A2D3C8u);
  EXPECT_EQ(b.commit_lsn, 0x1A2D6E0u);
  Change c = MustParse(kCommit, 0x1A2D6E0);
  EXPECT_EQ(c.kind, Change::kCommit);
  EXPECT_EQ(c.xid, 781u);
  EXPECT_EQ(c.lsn, 0x1A2D6E0u);
  EXPECT_EQ(c.commit_lsn, 0x1A2D6E0u);
  EXPECT_GT(c.commit_lsn, *ParseLsn("0/1A2D6B0"));  // past the commit record's start
  // Without an XLogData position (SQL interface) the commit still reads nextlsn.
  EXPECT_EQ(MustParse(kCommit, 0).lsn, 0x1A2D6E0u);
  EXPECT_EQ(MustParse(kBegin, 0).commit_lsn, 0x1A2D6E0u);
}

TEST(ParseWal2JsonTest, InsertKeepsEveryValueInPostgresTextForm) {
  Change c = MustParse(kInsertAllTypes, 0x1A2D3C8);
  EXPECT_EQ(c.kind, Change::kInsert);
  EXPECT_EQ(c.lsn, 0x1A2D3C8u);
  EXPECT_EQ(c.xid, 781u);
  EXPECT_EQ(c.commit_lsn, 0u);  // the stream fills it from the B
  EXPECT_EQ(c.schema, "public");
  EXPECT_EQ(c.table, "kinds");
  ASSERT_EQ(c.columns.size(), 14u);
  EXPECT_TRUE(c.identity.empty());
  EXPECT_EQ(c.columns[0].name, "id");  // table order
  EXPECT_EQ(c.columns[13].name, "nn");
  EXPECT_EQ(ValueOf(c, "id"), "9007199254740993");  // 2^53 + 1: not representable as double
  EXPECT_EQ(c.GetInt("id"), 9007199254740993LL);
  EXPECT_EQ(ValueOf(c, "i"), "-5");
  EXPECT_EQ(c.GetInt("i"), -5);
  EXPECT_EQ(ValueOf(c, "s"), "7");
  EXPECT_EQ(ValueOf(c, "n"), "12345678901234567890.0123456789");
  EXPECT_EQ(c.GetInt("n"), std::nullopt);
  EXPECT_EQ(ValueOf(c, "f8"), "0.1");
  EXPECT_EQ(ValueOf(c, "f4"), "1.5");
  EXPECT_EQ(ValueOf(c, "b"), "t");
  EXPECT_EQ(ValueOf(c, "t"), "quote \" back \\ nl \n tab \t uni ñ 日本 😀");
  EXPECT_EQ(ValueOf(c, "ts"), "2024-01-02 03:04:05.123456+00");
  EXPECT_EQ(ValueOf(c, "j"), R"({"a": [1, 2.50, "x"]})");
  EXPECT_EQ(ValueOf(c, "arr"), "{1,NULL,3}");
  EXPECT_EQ(ValueOf(c, "by"), "00ff");  // wal2json drops bytea's "\x"
  EXPECT_EQ(ValueOf(c, "u"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  EXPECT_EQ(ValueOf(c, "nn"), "<null>");  // numeric NaN arrives as null
  EXPECT_EQ(c.GetInt("nn"), std::nullopt);
  EXPECT_EQ(ValueOf(c, "missing"), "<absent>");
  EXPECT_EQ(c.GetInt("missing"), std::nullopt);
  EXPECT_EQ(c.GetInt("t"), std::nullopt);
}

TEST(ParseWal2JsonTest, ExtremeNumbersStayExact) {
  Change lo = MustParse(kInsertExtremes, 0);
  EXPECT_EQ(lo.lsn, 0x1A2D580u);  // from "lsn" when no XLogData position is given
  EXPECT_EQ(ValueOf(lo, "id"), "-9223372036854775808");
  EXPECT_EQ(lo.GetInt("id"), INT64_MIN);
  EXPECT_EQ(ValueOf(lo, "n"), "0.0000000000");
  EXPECT_EQ(ValueOf(lo, "b"), "f");
  EXPECT_EQ(ValueOf(lo, "f8"), "<null>");  // float8 'Infinity' arrives as null
  Change hi = MustParse(kInsertMax, 0x1A2D620);
  EXPECT_EQ(ValueOf(hi, "id"), "9223372036854775807");
  EXPECT_EQ(hi.GetInt("id"), INT64_MAX);
  EXPECT_EQ(ValueOf(hi, "f8"), "1e+300");
}

TEST(ParseWal2JsonTest, NumbersBeyondInt64AndDoubleKeepTheirText) {
  // Not wal2json captures: the JSON number forms Boost.JSON treats as uint64 or double.
  auto c =
      MustParse(R"({"action":"I","xid":1,"lsn":"0/1","schema":"public","table":"t","columns":[)"
                R"({"name":"u64","value":18446744073709551615},)"
                R"({"name":"big","value":123456789012345678901234567890123456789},)"
                R"({"name":"frac","value":-0.000000000000000000000000000001},)"
                R"({"name":"exp","value":1.5E-7}]})",
                0);
  EXPECT_EQ(ValueOf(c, "u64"), "18446744073709551615");
  EXPECT_EQ(c.GetInt("u64"), std::nullopt);  // out of int64 range
  EXPECT_EQ(ValueOf(c, "big"), "123456789012345678901234567890123456789");
  EXPECT_EQ(ValueOf(c, "frac"), "-0.000000000000000000000000000001");
  EXPECT_EQ(ValueOf(c, "exp"), "1.5E-7");
}

TEST(ParseWal2JsonTest, UpdateWithDefaultIdentityCarriesTheKey) {
  Change same = MustParse(kUpdateSameKey, 0x1A2D6E0);
  EXPECT_EQ(same.kind, Change::kUpdate);
  EXPECT_EQ(same.xid, 782u);
  EXPECT_EQ(ValueOf(same, "i"), "42");
  EXPECT_EQ(ValueOf(same, "t"), "<null>");
  ASSERT_EQ(same.identity.size(), 1u);
  EXPECT_EQ(same.identity[0], (Column{"id", "9007199254740993"}));

  Change moved = MustParse(kUpdateNewKey, 0x1A2D810);
  EXPECT_EQ(moved.GetInt("id"), 5);  // new row first
  ASSERT_NE(moved.GetOld("id"), nullptr);
  EXPECT_EQ(**moved.GetOld("id"), "9223372036854775807");
}

TEST(ParseWal2JsonTest, DeleteHasOnlyTheIdentity) {
  Change d = MustParse(kDelete, 0x1A2D8F0);
  EXPECT_EQ(d.kind, Change::kDelete);
  EXPECT_TRUE(d.columns.empty());
  EXPECT_EQ(d.GetInt("id"), 5);  // Get falls back to the identity
  EXPECT_TRUE(d.is_row());
}

TEST(ParseWal2JsonTest, ReplicaIdentityFullGivesTheOldRow) {
  Change u = MustParse(kUpdateFull, 0x1A30038);
  EXPECT_EQ(u.table, "currencies");
  EXPECT_EQ(ValueOf(u, "minor_units"), "0");
  ASSERT_NE(u.GetOld("minor_units"), nullptr);
  EXPECT_EQ(**u.GetOld("minor_units"), "3");
}

TEST(ParseWal2JsonTest, TruncateAndMessages) {
  Change t = MustParse(kTruncate, 0x1A39D00);
  EXPECT_EQ(t.kind, Change::kTruncate);
  EXPECT_EQ(t.table, "kinds");
  EXPECT_EQ(t.xid, 799u);
  EXPECT_FALSE(t.is_row());

  Change m = MustParse(kMessageTx, 0x1A2FD80);
  EXPECT_EQ(m.kind, Change::kMessage);
  EXPECT_TRUE(m.transactional);
  EXPECT_EQ(m.xid, 789u);
  EXPECT_EQ(m.prefix, "tq");
  EXPECT_EQ(m.content, "hello \"transactional\"");

  Change n = MustParse(kMessageNonTx, 0x1A2FDF0);
  EXPECT_FALSE(n.transactional);
  EXPECT_EQ(n.xid, 0u);  // "xid":null
  EXPECT_EQ(n.lsn, 0x1A2FDF0u);
  EXPECT_EQ(n.content, "non-tx");
}

TEST(ParseWal2JsonTest, IgnoresExtraFields) {
  Change c = MustParse(kInsertWithTimestamp, 0x1A37818);
  EXPECT_EQ(c.table, "languages");
  EXPECT_EQ(ValueOf(c, "code"), "pt-BR");
  EXPECT_EQ(ValueOf(c, "name"), "Português (Brasil) \"quoted\" \\ back");
  Change typed = MustParse(kInsertWithTypes, 0x10);
  ASSERT_EQ(typed.columns.size(), 2u);
  EXPECT_EQ(typed.columns[1], (Column{"b", "x"}));
  Change toast = MustParse(kUpdateToast, 0x1A37788);
  EXPECT_EQ(toast.columns.size(), 2u);
  EXPECT_EQ(toast.Get("big"), nullptr);  // unchanged TOAST: absent, not NULL
}

TEST(ParseWal2JsonTest, RejectsMalformedMessages) {
  for (const char* bad : {
           "",
           "not json",
           "[]",
           R"({"action":"B","xid":1,"lsn":"0/1"})",               // no nextlsn
           R"({"action":"X","xid":1,"lsn":"0/1"})",               // unknown action
           R"({"xid":1,"lsn":"0/1"})",                            // no action
           R"({"action":"I","xid":1,"lsn":"0/1","columns":[]})",  // no table
           R"({"action":"I","xid":-1,"lsn":"0/1","table":"t","columns":[]})",
           R"({"action":"I","xid":1,"lsn":"nope","table":"t","columns":[]})",
           R"({"action":"I","xid":1,"lsn":"0/1","table":"t","columns":[1]})",
           R"({"action":"I","xid":1,"lsn":"0/1","table":"t","columns":[{"value":1}]})",
           R"({"action":"I","xid":1,"lsn":"0/1","table":"t","columns":[{"name":"a","value":[1]}]})",
           R"({"action":"I","xid":1,"lsn":"0/1","table":"t","columns":[{"name":"a","value":1})",
           R"({"action":"C","xid":1,"lsn":"0/1","nextlsn":"0/2"} trailing)",
       }) {
    auto r = ParseWal2JsonV2(bad, 0);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, ErrorCode::kInternal) << bad;
    }
  }
}

TEST(ParseWal2JsonTest, KindNames) {
  EXPECT_EQ(KindName(Change::kBegin), "begin");
  EXPECT_EQ(KindName(Change::kTruncate), "truncate");
  EXPECT_EQ(KindName(Change::kMessage), "message");
}

// ---- connection strings ----

TEST(ReplicationConninfoTest, AddsReplicationToUrlsAndKeywordStrings) {
  auto url = ReplicationStream::ReplicationConninfo(
      "postgresql://taquilla@127.0.0.1:5432/taq?sslmode=disable");
  ASSERT_TRUE(url.ok()) << url.error().message;
  EXPECT_NE(url->find("host='127.0.0.1'"), std::string::npos) << *url;
  EXPECT_NE(url->find("port='5432'"), std::string::npos) << *url;
  EXPECT_NE(url->find("dbname='taq'"), std::string::npos) << *url;
  EXPECT_NE(url->find("user='taquilla'"), std::string::npos) << *url;
  EXPECT_NE(url->find("sslmode='disable'"), std::string::npos) << *url;
  EXPECT_NE(url->find("replication='database'"), std::string::npos) << *url;

  auto kw = ReplicationStream::ReplicationConninfo(
      "host=db dbname='it\\'s' password='a\\\\b' replication=true");
  ASSERT_TRUE(kw.ok()) << kw.error().message;
  EXPECT_NE(kw->find("dbname='it\\'s'"), std::string::npos) << *kw;
  EXPECT_NE(kw->find("password='a\\\\b'"), std::string::npos) << *kw;
  EXPECT_EQ(kw->find("replication='true'"), std::string::npos) << *kw;  // replaced
  EXPECT_NE(kw->find("replication='database'"), std::string::npos) << *kw;

  EXPECT_FALSE(ReplicationStream::ReplicationConninfo("postgresql://[bad").ok());
  EXPECT_FALSE(ReplicationStream::ReplicationConninfo("nokey").ok());
}

}  // namespace
}  // namespace taquilla::sync
