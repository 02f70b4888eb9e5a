#include "secure/market.h"

#include <regex>

#include "db/pg.h"
#include "http/json_input.h"
#include "i18n/money.h"
#include "secure/db_errors.h"
#include "secure/rules.h"
#include "secure/sql.h"

namespace taquilla::secure {

using db::Param;
using db::PgResult;

std::string IsoTime(Clock::WallTime t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us % 1'000'000);
}

bool IsIsoDateTime(const std::string& s) {
  static const std::regex re(
      R"(^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$)");
  return s.size() <= 40 && std::regex_match(s, re);
}

namespace {

json::value Money(int64_t minor, const std::string& currency, const std::string& locale) {
  json::object m;
  m["amount_minor"] = minor;
  m["currency"] = currency;
  m["formatted"] = i18n::FormatMoney(minor, currency, locale);
  return m;
}

// Runs one statement, retrying a deadlock or serialization failure once.
Result<PgResult> Run(db::Connection& c, std::string_view sql, const std::vector<Param>& params) {
  for (int attempt = 0;; ++attempt) {
    auto r = c.ExecPrepared(std::string(sql), params);
    if (r.ok()) return r;
    std::string state = db::SqlStateOf(r.error());
    if (attempt < 2 && (state == "40001" || state == "40P01")) continue;
    return ApiErrorOf(r.error());
  }
}

thread_local std::string t_last_lsn;

// Run for an autocommitted write: also learns the WAL position after its commit, in the
// same round trip, for the request's X-Taquilla-LSN.
Result<PgResult> RunWrite(db::Connection& c, std::string_view sql,
                          const std::vector<Param>& params) {
  for (int attempt = 0;; ++attempt) {
    std::string lsn;
    auto r = c.ExecPreparedWithLsn(std::string(sql), params, &lsn);
    if (r.ok()) {
      if (!lsn.empty()) t_last_lsn = lsn;
      return r;
    }
    std::string state = db::SqlStateOf(r.error());
    if (attempt < 2 && (state == "40001" || state == "40P01")) continue;
    return ApiErrorOf(r.error());
  }
}

Error NotFound(std::string_view what) {
  return MakeReason(ErrorCode::kNotFound, "not_found", "No such {}.", what);
}

constexpr const char* kUserCols = "id, email, display_name, locale, role, tq_iso(created_at)";

json::object UserJson(const PgResult& r, int i) {
  json::object u;
  u["id"] = r.GetInt(i, 0);
  u["email"] = r.GetString(i, 1);
  u["display_name"] = r.GetString(i, 2);
  u["locale"] = r.GetString(i, 3);
  u["role"] = r.GetString(i, 4);
  u["created_at"] = r.GetString(i, 5);
  return u;
}

constexpr const char* kListingCols =
    "l.id, l.event_id, l.seller_id, l.section, l.\"row\", l.seat_from, l.seat_to, l.quantity, "
    "l.quantity_available, l.price_minor, l.face_value_minor, l.currency, l.split, l.delivery, "
    "l.notes, l.status, tq_iso(l.created_at), tq_iso(l.updated_at)";

json::object ListingJson(const PgResult& r, int i, const std::string& locale) {
  json::object o;
  std::string cur = r.GetString(i, 11);
  o["id"] = r.GetInt(i, 0);
  o["event_id"] = r.GetInt(i, 1);
  o["seller_id"] = r.GetInt(i, 2);
  o["section"] = r.GetString(i, 3);
  o["row"] = r.GetString(i, 4);
  o["seat_from"] = IntOrNull(r, i, 5);
  o["seat_to"] = IntOrNull(r, i, 6);
  o["quantity"] = r.GetInt(i, 7);
  o["quantity_available"] = r.GetInt(i, 8);
  o["price"] = Money(r.GetInt(i, 9), cur, locale);
  o["face_value"] = r.IsNull(i, 10) ? json::value(nullptr) : Money(r.GetInt(i, 10), cur, locale);
  o["currency"] = cur;
  o["split"] = r.GetString(i, 12);
  o["delivery"] = r.GetString(i, 13);
  o["notes"] = r.GetString(i, 14);
  o["status"] = r.GetString(i, 15);
  o["created_at"] = r.GetString(i, 16);
  o["updated_at"] = r.GetString(i, 17);
  return o;
}

constexpr const char* kHoldCols =
    "h.id, h.listing_id, h.quantity, h.status, tq_iso(h.expires_at), tq_iso(h.created_at), "
    "h.unit_price_minor, h.currency, h.expires_at <= $2::timestamptz";

json::object HoldJson(const PgResult& r, int i, const std::string& locale) {
  json::object o;
  std::string status = r.GetString(i, 3);
  if (status == "active" && r.Get(i, 8) == "t") status = "expired";
  o["id"] = r.GetInt(i, 0);
  o["listing_id"] = r.GetInt(i, 1);
  o["quantity"] = r.GetInt(i, 2);
  o["status"] = status;
  o["expires_at"] = r.GetString(i, 4);
  o["created_at"] = r.GetString(i, 5);
  o["unit_price"] = Money(r.GetInt(i, 6), r.GetString(i, 7), locale);
  return o;
}

constexpr const char* kOrderCols =
    "o.id, o.status, o.listing_id, o.hold_id, o.quantity, o.unit_price_minor, o.fee_minor, "
    "o.total_minor, o.currency, o.payment_ref, tq_iso(o.created_at), tq_iso(o.paid_at), "
    "o.buyer_id, l.event_id";

json::object OrderJson(const PgResult& r, int i, const std::string& locale) {
  json::object o;
  std::string cur = r.GetString(i, 8);
  o["id"] = r.GetInt(i, 0);
  o["status"] = r.GetString(i, 1);
  o["listing_id"] = r.GetInt(i, 2);
  o["hold_id"] = IntOrNull(r, i, 3);
  o["quantity"] = r.GetInt(i, 4);
  o["unit_price"] = Money(r.GetInt(i, 5), cur, locale);
  o["fee"] = Money(r.GetInt(i, 6), cur, locale);
  o["total"] = Money(r.GetInt(i, 7), cur, locale);
  o["payment_ref"] = StrOrNull(r, i, 9);
  o["created_at"] = r.GetString(i, 10);
  o["paid_at"] = StrOrNull(r, i, 11);
  o["buyer_id"] = r.GetInt(i, 12);
  o["event_id"] = r.GetInt(i, 13);
  return o;
}

}  // namespace

Market::Market(db::Pool& pool, const Clock& clock, PaymentProvider& payments, MarketOptions options)
    : pool_(pool), clock_(clock), payments_(payments), options_(options) {}

std::string Market::Now() const { return IsoTime(clock_.Now()); }
std::string Market::Later(std::chrono::seconds d) const { return IsoTime(clock_.Now() + d); }

std::string Market::TakeLsn() {
  std::string lsn;
  lsn.swap(t_last_lsn);
  return lsn;
}

Result<std::string> Market::Lsn() {
  TQ_LEASE(c);
  auto r = db::CurrentLsn(c);
  if (!r.ok()) return ApiErrorOf(r.error());
  return r;
}

bool Market::Healthy() {
  auto lease = pool_.Acquire();
  return lease.ok() && (*lease)->Exec("SELECT 1").ok();
}

// ---------------------------------------------------------------- accounts and sessions

Result<json::object> Market::Register(const NewUser& u) {
  TQ_ASSIGN_OR_RETURN(std::string hash, HashPassword(u.password));
  TQ_LEASE(c);
  auto lang = Run(c, "SELECT 1 FROM languages WHERE code = $1", {u.locale});
  if (!lang.ok()) return lang.error();
  if (lang->rows() == 0) return http::InvalidField("locale", "is not a language Taquilla offers");
  TQ_ASSIGN_OR_RETURN(auto r, Run(c,
                                  fmt::format("INSERT INTO users (email, password_hash, "
                                              "display_name, locale, role, created_at, "
                                              "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) "
                                              "RETURNING {}",
                                              kUserCols),
                                  {u.email, hash, u.display_name, u.locale, u.role, Now()}));
  return UserJson(r, 0);
}

Result<NewSession> Market::Login(const std::string& email, const std::string& password,
                                 const std::string& user_agent, const std::string& client) {
  PgResult r;
  {
    TQ_LEASE(c);
    TQ_ASSIGN_OR_RETURN(r, Run(c,
                               fmt::format("SELECT {}, password_hash, disabled FROM users "
                                           "WHERE lower(email) = lower($1)",
                                           kUserCols),
                               {email}));
  }
  // Hashing is slow on purpose; it runs without holding a connection. An unknown email
  // costs the same as a wrong password, so timing does not tell which accounts exist.
  static const std::string kDummy = HashPassword("taquilla-no-such-user").value();
  bool ok = VerifyPassword(r.rows() ? r.GetString(0, 6) : kDummy, password) && r.rows() == 1;
  if (!ok) {
    return MakeReason(ErrorCode::kUnauthenticated, "invalid_credentials",
                      "The email or password is wrong.");
  }
  if (r.Get(0, 7) == "t") {
    return MakeReason(ErrorCode::kPermissionDenied, "account_disabled",
                      "This account is disabled.");
  }
  NewSession s;
  s.token = NewToken();
  s.csrf_token = NewToken();
  s.user = UserJson(r, 0);
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(
      auto ins, Run(c,
                    "INSERT INTO sessions (token_hash, user_id, csrf_token, user_agent, client, "
                    "created_at, expires_at) VALUES ($1::bytea, $2, $3, left($4, 500), "
                    "left($5, 100), $6, $7) RETURNING tq_iso(expires_at)",
                    {TokenHashHex(s.token), P(r.GetInt(0, 0)), s.csrf_token, user_agent, client,
                     Now(), Later(options_.session_ttl)}));
  s.expires_at = ins.GetString(0, 0);
  return s;
}

Result<Caller> Market::Authenticate(const std::string& token) {
  if (token.empty() || token.size() > 200) {
    return MakeReason(ErrorCode::kUnauthenticated, "unauthenticated", "Log in first.");
  }
  std::string hash = TokenHashHex(token);
  if (options_.session_cache.count() > 0) {
    std::lock_guard lock(sessions_mu_);
    auto it = sessions_.find(hash);
    if (it != sessions_.end()) {
      if (clock_.Monotonic() - it->second.fetched < options_.session_cache &&
          clock_.Now() < it->second.expires_at) {
        return it->second.caller;
      }
      sessions_.erase(it);
    }
  }
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(auto r, Run(c,
                                  "SELECT s.id, s.csrf_token, u.id, u.email, u.display_name, "
                                  "u.role, u.locale, (extract(epoch FROM s.expires_at) * "
                                  "1000000)::bigint FROM sessions s JOIN users u ON u.id = "
                                  "s.user_id WHERE s.token_hash = $1::bytea AND s.revoked_at IS "
                                  "NULL AND s.expires_at > $2 AND NOT u.disabled",
                                  {hash, Now()}));
  if (r.rows() == 0) {
    return MakeReason(ErrorCode::kUnauthenticated, "unauthenticated",
                      "The session is unknown, expired or logged out; log in again.");
  }
  Caller caller;
  caller.session_id = r.GetInt(0, 0);
  caller.csrf_token = r.GetString(0, 1);
  caller.user_id = r.GetInt(0, 2);
  caller.email = r.GetString(0, 3);
  caller.display_name = r.GetString(0, 4);
  caller.role = r.GetString(0, 5);
  caller.locale = r.GetString(0, 6);
  if (options_.session_cache.count() > 0) {
    std::lock_guard lock(sessions_mu_);
    if (sessions_.size() >= 100'000) sessions_.clear();  // bounded; refills from the database
    sessions_[hash] = CachedSession{
        caller, Clock::WallTime(std::chrono::microseconds(r.GetInt(0, 7))), clock_.Monotonic()};
  }
  return caller;
}

void Market::ForgetSessions(std::optional<int64_t> session_id, std::optional<int64_t> user_id) {
  std::lock_guard lock(sessions_mu_);
  std::erase_if(sessions_, [&](const auto& kv) {
    return (session_id && kv.second.caller.session_id == *session_id) ||
           (user_id && kv.second.caller.user_id == *user_id);
  });
}

Status Market::Logout(const Caller& caller) {
  ForgetSessions(caller.session_id, std::nullopt);
  TQ_LEASE(c);
  TQ_RETURN_IF_ERROR(
      Run(c, "UPDATE sessions SET revoked_at = $2 WHERE id = $1", {P(caller.session_id), Now()}));
  return Ok();
}

Result<json::object> Market::Me(const Caller& caller) {
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(auto r, Run(c, fmt::format("SELECT {} FROM users WHERE id = $1", kUserCols),
                                  {P(caller.user_id)}));
  if (r.rows() == 0) return NotFound("user");
  return UserJson(r, 0);
}

Result<json::object> Market::MyListings(const Caller& caller, const Page& page) {
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(
      auto r, Run(c,
                  fmt::format("SELECT {}, count(*) OVER () FROM listings l WHERE l.seller_id = $1 "
                              "ORDER BY l.id DESC LIMIT $2 OFFSET $3",
                              kListingCols),
                  {P(caller.user_id), P(page.per_page), P((page.page - 1) * page.per_page)}));
  json::array items;
  for (int i = 0; i < r.rows(); ++i) items.push_back(ListingJson(r, i, caller.locale));
  TQ_ASSIGN_OR_RETURN(int64_t total,
                      TotalOf(c, r, 18, page, "SELECT count(*) FROM listings WHERE seller_id = $1",
                              {P(caller.user_id)}));
  return PageOf(std::move(items), page, total);
}

Result<json::object> Market::MyOrders(const Caller& caller, const Page& page) {
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(
      auto r, Run(c,
                  fmt::format("SELECT {}, count(*) OVER () FROM orders o JOIN listings l ON l.id "
                              "= o.listing_id WHERE o.buyer_id = $1 ORDER BY o.id DESC LIMIT $2 "
                              "OFFSET $3",
                              kOrderCols),
                  {P(caller.user_id), P(page.per_page), P((page.page - 1) * page.per_page)}));
  json::array items;
  for (int i = 0; i < r.rows(); ++i) items.push_back(OrderJson(r, i, caller.locale));
  TQ_ASSIGN_OR_RETURN(int64_t total,
                      TotalOf(c, r, 14, page, "SELECT count(*) FROM orders WHERE buyer_id = $1",
                              {P(caller.user_id)}));
  return PageOf(std::move(items), page, total);
}

Result<json::object> Market::MySales(const Caller& caller, const Page& page) {
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(
      auto r, Run(c,
                  fmt::format("SELECT {}, count(*) OVER () FROM orders o JOIN listings l ON l.id "
                              "= o.listing_id WHERE l.seller_id = $1 ORDER BY o.id DESC LIMIT $2 "
                              "OFFSET $3",
                              kOrderCols),
                  {P(caller.user_id), P(page.per_page), P((page.page - 1) * page.per_page)}));
  json::array items;
  for (int i = 0; i < r.rows(); ++i) {
    json::object o = OrderJson(r, i, caller.locale);
    o.erase("payment_ref");  // the buyer's payment is not the seller's business
    items.push_back(std::move(o));
  }
  TQ_ASSIGN_OR_RETURN(int64_t total, TotalOf(c, r, 14, page,
                                             "SELECT count(*) FROM orders o JOIN listings l ON "
                                             "l.id = o.listing_id WHERE l.seller_id = $1",
                                             {P(caller.user_id)}));
  return PageOf(std::move(items), page, total);
}

Result<json::object> Market::MyHolds(const Caller& caller, const Page& page) {
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(
      auto r,
      Run(c,
          fmt::format("SELECT {}, count(*) OVER () FROM holds h WHERE h.buyer_id = $1 ORDER BY "
                      "h.id DESC LIMIT $3 OFFSET $4",
                      kHoldCols),
          {P(caller.user_id), Now(), P(page.per_page), P((page.page - 1) * page.per_page)}));
  json::array items;
  for (int i = 0; i < r.rows(); ++i) items.push_back(HoldJson(r, i, caller.locale));
  TQ_ASSIGN_OR_RETURN(int64_t total,
                      TotalOf(c, r, 9, page, "SELECT count(*) FROM holds WHERE buyer_id = $1",
                              {P(caller.user_id)}));
  return PageOf(std::move(items), page, total);
}

// ---------------------------------------------------------------- selling

Result<json::object> Market::CreateListing(const Caller& caller, const NewListing& l) {
  TQ_RETURN_IF_ERROR(CheckListingShape({l.quantity, l.split, l.seat_from, l.seat_to}));
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(auto ev, Run(c,
                                   "SELECT status, starts_at > $2::timestamptz FROM events "
                                   "WHERE id = $1",
                                   {P(l.event_id), Now()}));
  if (ev.rows() == 0) return http::InvalidField("event_id", "is not an event");
  if (ev.Get(0, 0) == "cancelled" || ev.Get(0, 1) != "t") {
    return MakeReason(ErrorCode::kConflict, "event_not_on_sale",
                      "This event is cancelled or over; its tickets cannot be sold.");
  }
  TQ_ASSIGN_OR_RETURN(auto cur, Run(c, "SELECT 1 FROM currencies WHERE code = $1", {l.currency}));
  if (cur.rows() == 0) return http::InvalidField("currency", "is not an ISO 4217 currency");
  Result<PgResult> r = PgResult();
  Status s = db::InTransaction(c, [&](db::Connection& tx) -> Status {
    r = tx.ExecParams(
        fmt::format(
            "WITH l AS (INSERT INTO listings (event_id, seller_id, section, \"row\", seat_from, "
            "seat_to, quantity, quantity_available, price_minor, face_value_minor, currency, "
            "split, delivery, notes, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, "
            "$7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING *) SELECT {} FROM l",
            kListingCols),
        {P(l.event_id), P(caller.user_id), l.section, l.row, P(l.seat_from), P(l.seat_to),
         P(l.quantity), P(l.price_minor), P(l.face_value_minor), l.currency, l.split, l.delivery,
         l.notes, Now()});
    if (!r.ok()) return r.error();
    // Listing tickets makes a buyer a seller.
    return tx.ExecParams(
                 "UPDATE users SET role = 'seller', updated_at = $2 WHERE id = $1 AND role = "
                 "'buyer'",
                 {P(caller.user_id), Now()})
                   .ok()
               ? Ok()
               : MakeError(ErrorCode::kUnavailable, "role update failed");
  });
  if (!s.ok()) return ApiErrorOf(s.error());
  return ListingJson(*r, 0, caller.locale);
}

Result<json::object> Market::GetListing(const Caller& caller, int64_t id) {
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(
      auto r,
      Run(c, fmt::format("SELECT {} FROM listings l WHERE l.id = $1", kListingCols), {P(id)}));
  if (r.rows() == 0) return NotFound("listing");
  if (r.GetInt(0, 2) != caller.user_id && !caller.is_admin()) {
    return MakeReason(ErrorCode::kPermissionDenied, "forbidden",
                      "Only the seller can manage this listing.");
  }
  return ListingJson(r, 0, caller.locale);
}

Result<json::object> Market::UpdateListing(const Caller& caller, int64_t id,
                                           const ListingPatch& p) {
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(auto cur, Run(c,
                                    "SELECT seller_id, status, quantity, quantity_available, "
                                    "split, seat_from, seat_to FROM listings WHERE id = $1",
                                    {P(id)}));
  if (cur.rows() == 0) return NotFound("listing");
  if (cur.GetInt(0, 0) != caller.user_id) {
    return MakeReason(ErrorCode::kPermissionDenied, "forbidden",
                      "Only the seller can change this listing.");
  }
  if (cur.Get(0, 1) != "active") {
    return MakeReason(ErrorCode::kConflict, "listing_withdrawn",
                      "This listing was withdrawn; it cannot change.");
  }
  int64_t quantity = p.quantity.value_or(cur.GetInt(0, 2));
  int64_t gone = cur.GetInt(0, 2) - cur.GetInt(0, 3);
  if (quantity < gone) {
    return MakeReason(ErrorCode::kConflict, "quantity_below_sold",
                      "The quantity cannot go below the {} tickets held or sold.", gone);
  }
  ListingShape shape{quantity, p.split.value_or(cur.GetString(0, 4)),
                     cur.IsNull(0, 5) ? std::nullopt : std::optional(cur.GetInt(0, 5)),
                     cur.IsNull(0, 6) ? std::nullopt : std::optional(cur.GetInt(0, 6))};
  if (p.quantity && shape.seat_from) {
    return http::InvalidField("quantity", "cannot change on a listing with seat numbers");
  }
  TQ_RETURN_IF_ERROR(CheckListingShape(shape));
  // The quantity moves by a delta under the row lock, so a concurrent hold is never
  // lost; the check constraint refuses a quantity below what is held or sold.
  TQ_ASSIGN_OR_RETURN(
      auto r,
      Run(c,
          fmt::format("UPDATE listings l SET price_minor = coalesce($3, price_minor), "
                      "quantity_available = quantity_available + coalesce($4 - quantity, 0), "
                      "quantity = coalesce($4, quantity), "
                      "face_value_minor = CASE WHEN $5 THEN $6::bigint ELSE face_value_minor END, "
                      "split = coalesce($7, split), delivery = coalesce($8, delivery), "
                      "notes = coalesce($9, notes), section = coalesce($10, section), "
                      "\"row\" = coalesce($11, \"row\"), updated_at = $12 "
                      "WHERE id = $1 AND seller_id = $2 AND status = 'active' RETURNING {}",
                      kListingCols),
          {P(id), P(caller.user_id), P(p.price_minor), P(p.quantity),
           p.set_face_value ? "true" : "false", P(p.face_value_minor), P(p.split), P(p.delivery),
           P(p.notes), P(p.section), P(p.row), Now()}));
  if (r.rows() == 0) {
    return MakeReason(ErrorCode::kConflict, "listing_withdrawn",
                      "This listing was withdrawn; it cannot change.");
  }
  return ListingJson(r, 0, caller.locale);
}

Status Market::WithdrawListing(const Caller& caller, int64_t id) {
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(auto r, Run(c,
                                  "UPDATE listings SET status = 'withdrawn', updated_at = $3 "
                                  "WHERE id = $1 AND seller_id = $2 RETURNING id",
                                  {P(id), P(caller.user_id), Now()}));
  if (r.rows() == 1) return Ok();
  TQ_ASSIGN_OR_RETURN(auto e, Run(c, "SELECT seller_id FROM listings WHERE id = $1", {P(id)}));
  if (e.rows() == 0) return NotFound("listing");
  return MakeReason(ErrorCode::kPermissionDenied, "forbidden",
                    "Only the seller can withdraw this listing.");
}

// ---------------------------------------------------------------- buying

namespace {

// Puts the tickets of this listing's expired holds back on sale (the lazy half of hold
// expiry; the sweeper is the other). One statement: the holds and the listing change
// together or not at all.
constexpr const char* kExpireListingSql =
    "WITH exp AS (UPDATE holds SET status = 'expired' WHERE listing_id = $1 AND status = "
    "'active' AND expires_at <= $2::timestamptz RETURNING quantity) "
    "UPDATE listings SET quantity_available = quantity_available + (SELECT sum(quantity) FROM "
    "exp), updated_at = $2 WHERE id = $1 AND EXISTS (SELECT 1 FROM exp)";

// The hold: one conditional UPDATE that re-checks availability and the split rule on the
// locked row (SplitAllows in SQL), and the hold row inserted from its result.
constexpr const char* kHoldSql =
    "WITH l AS (UPDATE listings SET quantity_available = quantity_available - $2, updated_at = "
    "$4 WHERE id = $1 AND status = 'active' AND seller_id <> $3 AND quantity_available >= $2 "
    "AND CASE split WHEN 'pairs' THEN $2 % 2 = 0 AND quantity_available - $2 <> 1 "
    "WHEN 'all' THEN $2 = quantity_available WHEN 'no_single' THEN quantity_available - $2 <> 1 "
    "ELSE true END AND EXISTS (SELECT 1 FROM events e WHERE e.id = listings.event_id AND "
    "e.status <> 'cancelled' AND e.starts_at > $4::timestamptz) "
    "RETURNING id, price_minor, currency) "
    "INSERT INTO holds AS h (listing_id, buyer_id, quantity, status, created_at, expires_at, "
    "unit_price_minor, currency) SELECT id, $3, $2, 'active', $4, $5, price_minor, currency "
    "FROM l RETURNING h.id, h.listing_id, h.quantity, h.status, tq_iso(h.expires_at), "
    "tq_iso(h.created_at), h.unit_price_minor, h.currency, false";

}  // namespace

Result<json::object> Market::Hold(const Caller& caller, int64_t listing_id, int64_t quantity) {
  TQ_LEASE(c);
  std::string now = Now();
  std::vector<Param> params = {P(listing_id), P(quantity), P(caller.user_id), now,
                               Later(options_.hold_ttl)};
  TQ_ASSIGN_OR_RETURN(auto r, RunWrite(c, kHoldSql, params));
  if (r.rows() == 1) return HoldJson(r, 0, caller.locale);
  // Not enough tickets: first put this listing's expired holds back on sale, then try
  // once more. (Doing it only here keeps the common case to one statement.)
  TQ_ASSIGN_OR_RETURN(auto expired, Run(c, kExpireListingSql, {P(listing_id), now}));
  if (expired.affected() > 0) {
    TQ_ASSIGN_OR_RETURN(r, RunWrite(c, kHoldSql, params));
    if (r.rows() == 1) return HoldJson(r, 0, caller.locale);
  }
  // Why not: read the listing (outside the lock; only for the message).
  TQ_ASSIGN_OR_RETURN(auto l, Run(c,
                                  "SELECT l.status, l.seller_id, l.split, l.quantity_available, "
                                  "e.status, e.starts_at > $2::timestamptz FROM listings l JOIN "
                                  "events e ON e.id = l.event_id WHERE l.id = $1",
                                  {P(listing_id), now}));
  if (l.rows() == 0) return NotFound("listing");
  if (l.GetInt(0, 1) == caller.user_id) {
    return MakeReason(ErrorCode::kPermissionDenied, "own_listing",
                      "You cannot buy your own tickets.");
  }
  if (l.Get(0, 0) != "active" || l.Get(0, 4) == "cancelled" || l.Get(0, 5) != "t") {
    return MakeReason(ErrorCode::kConflict, "listing_unavailable",
                      "These tickets are no longer on sale.");
  }
  int64_t available = l.GetInt(0, 3);
  if (CheckSplit(l.Get(0, 2), available, quantity) == SplitVerdict::kSplitRule) {
    return MakeReason(ErrorCode::kConflict, "split_rule",
                      "The seller sells these tickets {}; you can hold {} of the {} left.",
                      l.Get(0, 2) == "pairs"       ? "in pairs"
                      : l.Get(0, 2) == "all"       ? "all together"
                      : l.Get(0, 2) == "no_single" ? "without leaving a single ticket"
                                                   : "in any number",
                      AllowedCounts(l.Get(0, 2), available), available);
  }
  return MakeReason(ErrorCode::kConflict, "not_enough_tickets",
                    "Only {} tickets are left in this listing.", available);
}

Result<json::object> Market::GetHold(const Caller& caller, int64_t id) {
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(auto r, Run(c,
                                  fmt::format("SELECT {}, h.buyer_id FROM holds h WHERE h.id = "
                                              "$1",
                                              kHoldCols),
                                  {P(id), Now()}));
  if (r.rows() == 0 || r.GetInt(0, 9) != caller.user_id) return NotFound("hold");
  return HoldJson(r, 0, caller.locale);
}

Status Market::ReleaseHold(const Caller& caller, int64_t id) {
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(
      auto r, RunWrite(c,
                       "WITH h AS (UPDATE holds SET status = 'released' WHERE id = $1 AND "
                       "buyer_id = $2 AND status = 'active' RETURNING listing_id, quantity) "
                       "UPDATE listings l SET quantity_available = l.quantity_available + "
                       "h.quantity, updated_at = $3 FROM h WHERE l.id = h.listing_id "
                       "RETURNING l.id",
                       {P(id), P(caller.user_id), Now()}));
  if (r.rows() == 1) return Ok();
  TQ_ASSIGN_OR_RETURN(auto h, Run(c, "SELECT status FROM holds WHERE id = $1 AND buyer_id = $2",
                                  {P(id), P(caller.user_id)}));
  if (h.rows() == 0) return NotFound("hold");
  return MakeReason(ErrorCode::kConflict, "hold_not_active", "This hold is already {}.",
                    h.GetString(0, 0));
}

Result<json::object> Market::Order(const Caller& caller, int64_t hold_id, const Payment& payment) {
  std::string now = Now();
  int64_t quantity = 0, unit = 0;
  std::string currency;
  {
    TQ_LEASE(c);
    TQ_ASSIGN_OR_RETURN(auto h, Run(c,
                                    "SELECT status, expires_at <= $3::timestamptz, quantity, "
                                    "unit_price_minor, currency, listing_id FROM holds WHERE id "
                                    "= $1 AND buyer_id = $2",
                                    {P(hold_id), P(caller.user_id), now}));
    if (h.rows() == 0) return NotFound("hold");
    std::string status = h.GetString(0, 0);
    if (status == "expired" || (status == "active" && h.Get(0, 1) == "t")) {
      if (status == "active") {
        TQ_RETURN_IF_ERROR(Run(c, kExpireListingSql, {P(h.GetInt(0, 5)), now}));
      }
      return MakeReason(ErrorCode::kFailedPrecondition, "hold_expired",
                        "This hold expired and its tickets went back on sale; hold them again.");
    }
    if (status == "ordered") {
      return MakeReason(ErrorCode::kConflict, "hold_already_ordered",
                        "This hold was already paid for.");
    }
    if (status != "active") {
      return MakeReason(ErrorCode::kConflict, "hold_not_active", "This hold was {}.", status);
    }
    quantity = h.GetInt(0, 2);
    unit = h.GetInt(0, 3);
    currency = h.GetString(0, 4);
  }
  int64_t subtotal = unit * quantity;
  int64_t fee = FeeMinor(subtotal, options_.fee_bp);
  ChargeRequest charge{payment.method, payment.number, subtotal + fee, currency,
                       fmt::format("hold{}", hold_id)};
  // The charge runs outside any transaction: no lock waits on the payment provider.
  TQ_ASSIGN_OR_RETURN(std::string ref, payments_.Charge(charge));
  TQ_LEASE(c);
  auto r = RunWrite(
      c,
      fmt::format("WITH h AS (UPDATE holds SET status = 'ordered' WHERE id = $1 AND "
                  "buyer_id = $2 AND status = 'active' AND expires_at > $3::timestamptz "
                  "RETURNING id, listing_id, quantity), "
                  "o AS (INSERT INTO orders (buyer_id, listing_id, hold_id, quantity, "
                  "unit_price_minor, fee_minor, total_minor, currency, status, "
                  "payment_ref, created_at, paid_at) SELECT $2, h.listing_id, h.id, "
                  "h.quantity, $4, $5, $6, $7, 'paid', $8, $3, $3 FROM h RETURNING *) "
                  "SELECT {} FROM o JOIN listings l ON l.id = o.listing_id",
                  kOrderCols),
      {P(hold_id), P(caller.user_id), now, P(unit), P(fee), P(subtotal + fee), currency, ref});
  if (r.ok() && r->rows() == 1) return OrderJson(*r, 0, caller.locale);
  // The hold changed while the card was charged (expired or paid twice at once): give the
  // money back.
  (void)payments_.Refund(ref);
  if (!r.ok()) return r.error();
  return MakeReason(ErrorCode::kFailedPrecondition, "hold_expired",
                    "This hold expired while paying; the payment was refunded.");
}

Result<json::object> Market::GetOrder(const Caller& caller, int64_t id) {
  TQ_LEASE(c);
  TQ_ASSIGN_OR_RETURN(auto r, Run(c,
                                  fmt::format("SELECT {}, l.seller_id FROM orders o JOIN listings "
                                              "l ON l.id = o.listing_id WHERE o.id = $1",
                                              kOrderCols),
                                  {P(id)}));
  if (r.rows() == 0) return NotFound("order");
  bool buyer = r.GetInt(0, 12) == caller.user_id;
  bool seller = r.GetInt(0, 14) == caller.user_id;
  if (!buyer && !seller && !caller.is_admin()) return NotFound("order");
  json::object o = OrderJson(r, 0, caller.locale);
  if (!buyer && !caller.is_admin()) o.erase("payment_ref");
  return o;
}

Result<int64_t> Market::ExpireHolds() {
  TQ_LEASE(c);
  int64_t total = 0;
  for (;;) {
    TQ_ASSIGN_OR_RETURN(
        auto r, Run(c,
                    "WITH exp AS (UPDATE holds SET status = 'expired' WHERE id IN (SELECT id "
                    "FROM holds WHERE status = 'active' AND expires_at <= $1::timestamptz ORDER "
                    "BY expires_at LIMIT 500 FOR UPDATE SKIP LOCKED) RETURNING listing_id, "
                    "quantity), s AS (SELECT listing_id, sum(quantity) AS q FROM exp GROUP BY "
                    "listing_id), u AS (UPDATE listings l SET quantity_available = "
                    "l.quantity_available + s.q, updated_at = $1 FROM s WHERE l.id = "
                    "s.listing_id RETURNING 1) SELECT (SELECT count(*) FROM exp), (SELECT "
                    "count(*) FROM u)",
                    {Now()}));
    int64_t n = r.GetInt(0, 0);
    total += n;
    if (n < 500) break;
  }
  return total;
}

}  // namespace taquilla::secure
