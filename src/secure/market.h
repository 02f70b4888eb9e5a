// Market: the secure app's operations on PostgreSQL — accounts and sessions, selling,
// holds, orders and the backoffice. It is the only writer of the marketplace data.
//
// Every rule that protects money or tickets is enforced in one statement or transaction
// and backed by the schema's own constraints: a hold decrements quantity_available with a
// conditional UPDATE that re-checks the split rule under the row lock, so concurrent
// buyers can never oversell. Times come from the injected Clock (tests fake it), never
// from the database's now(). Results are API-ready JSON objects; money is formatted for
// the caller's locale.
//
// Thread-safety: all methods may be called concurrently; each takes its own connection
// from the Pool. The Pool, Clock and PaymentProvider must outlive the Market.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "db/pool.h"
#include "secure/auth.h"
#include "secure/payment.h"

namespace taquilla::secure {

namespace json = boost::json;

struct MarketOptions {
  std::chrono::seconds hold_ttl{600};
  std::chrono::seconds session_ttl{30 * 24 * 3600};
  int fee_bp = 1000;  // service fee in basis points of the subtotal
  // How long this process trusts a session it looked up before asking PostgreSQL again
  // (0: every request asks). A logout or a disabled account through this process takes
  // effect at once; through another process, within this time.
  std::chrono::seconds session_cache{5};
};

// The authenticated user of a request.
struct Caller {
  int64_t user_id = 0;
  int64_t session_id = 0;
  std::string email, display_name, role, locale, csrf_token;
  bool is_admin() const { return role == "admin"; }
};

struct Page {
  int64_t page = 1, per_page = 20;
};

struct NewUser {
  std::string email, password, display_name, locale;
  std::string role = "buyer";
};

struct NewSession {
  std::string token, csrf_token, expires_at;
  json::object user;
};

struct NewListing {
  int64_t event_id = 0;
  std::string section, row;
  std::optional<int64_t> seat_from, seat_to;
  int64_t quantity = 0, price_minor = 0;
  std::optional<int64_t> face_value_minor;
  std::string currency, split = "any", delivery = "eticket", notes;
};

struct ListingPatch {
  std::optional<int64_t> price_minor, quantity;
  bool set_face_value = false;
  std::optional<int64_t> face_value_minor;
  std::optional<std::string> split, delivery, notes, section, row;
};

struct Payment {
  std::string method, number;
};

class Market {
 public:
  Market(db::Pool& pool, const Clock& clock, PaymentProvider& payments, MarketOptions options);

  // Accounts and sessions.
  Result<json::object> Register(const NewUser& user);
  // Checks the password; kUnauthenticated "invalid_credentials" when it is wrong.
  Result<NewSession> Login(const std::string& email, const std::string& password,
                           const std::string& user_agent, const std::string& client);
  // The caller of a session token; kUnauthenticated when unknown, expired or revoked.
  Result<Caller> Authenticate(const std::string& token);
  Status Logout(const Caller& caller);
  Result<json::object> Me(const Caller& caller);
  Result<json::object> MyListings(const Caller& caller, const Page& page);
  Result<json::object> MyOrders(const Caller& caller, const Page& page);
  Result<json::object> MySales(const Caller& caller, const Page& page);
  Result<json::object> MyHolds(const Caller& caller, const Page& page);

  // Selling.
  Result<json::object> CreateListing(const Caller& caller, const NewListing& listing);
  Result<json::object> GetListing(const Caller& caller, int64_t id);
  Result<json::object> UpdateListing(const Caller& caller, int64_t id, const ListingPatch& patch);
  Status WithdrawListing(const Caller& caller, int64_t id);

  // Buying.
  Result<json::object> Hold(const Caller& caller, int64_t listing_id, int64_t quantity);
  Result<json::object> GetHold(const Caller& caller, int64_t id);
  Status ReleaseHold(const Caller& caller, int64_t id);
  Result<json::object> Order(const Caller& caller, int64_t hold_id, const Payment& payment);
  Result<json::object> GetOrder(const Caller& caller, int64_t id);
  // Expires every hold past its time and puts its tickets back on sale; returns how many.
  Result<int64_t> ExpireHolds();

  // Backoffice (callers are checked to be admins by the API layer).
  Result<json::object> AdminCreateLanguage(const json::object& body);
  Result<json::object> AdminCreateSite(const json::object& body);
  Result<json::object> AdminAddSiteLanguage(const std::string& site, const json::object& body);
  Result<json::object> AdminCreateVenue(const json::object& body);
  Result<json::object> AdminCreateCategory(const json::object& body);
  Result<json::object> AdminCreatePerformer(const json::object& body);
  Result<json::object> AdminCreateEvent(const json::object& body);
  Result<json::object> AdminUpdateEvent(int64_t id, const json::object& body);
  Result<json::object> AdminPutEventTranslation(int64_t id, const std::string& lang,
                                                const json::object& body);
  Result<json::object> AdminGetEvent(int64_t id);
  Result<json::object> AdminListEvents(const std::string& q, const Page& page);
  Result<json::object> AdminPutExchangeRate(const std::string& base, const std::string& quote,
                                            const json::object& body);
  Result<json::object> AdminListExchangeRates();
  Result<json::object> AdminUpdateUser(int64_t id, const json::object& body);
  Result<json::object> AdminListSites();
  Result<json::object> AdminListLanguages();
  // Lists for the backoffice pages (lists.cc): the newest first, a page at a time;
  // names in `lang` where translated.
  Result<json::object> AdminListVenues(const Page& page);
  Result<json::object> AdminListCities();
  Result<json::object> AdminListCategories(const std::string& lang);
  Result<json::object> AdminListPerformers(const Page& page);

  // Public facts for the selling and buying pages (lists.cc): up to `limit` scheduled
  // upcoming events ({"items":[{id,title,starts_at,venue}]}), and what a listing sells
  // ({listing_id, event_id, title, starts_at, venue, city, section, row, seat_from, seat_to,
  // delivery, split, quantity_available}). Titles in `lang`, else the first translation.
  Result<json::object> UpcomingEvents(const std::string& lang, int64_t limit);
  Result<json::object> ListingSummary(int64_t listing_id, const std::string& lang);

  // Drops cached sessions of a session or a user (after a logout, role change or disable).
  void ForgetSessions(std::optional<int64_t> session_id, std::optional<int64_t> user_id);

  // The WAL position after the caller's last commit (see db::CurrentLsn).
  Result<std::string> Lsn();
  // The WAL position after the last hot-path write this thread made (learnt in the same
  // round trip as the write), and forgets it; "" when there was none.
  std::string TakeLsn();
  // True when PostgreSQL answers.
  bool Healthy();

  const MarketOptions& options() const { return options_; }

 private:
  std::string Now() const;
  std::string Later(std::chrono::seconds d) const;

  struct CachedSession {
    Caller caller;
    Clock::WallTime expires_at;
    Clock::MonoTime fetched;
  };

  db::Pool& pool_;
  std::mutex sessions_mu_;
  std::unordered_map<std::string, CachedSession> sessions_;  // by token hash
  const Clock& clock_;
  PaymentProvider& payments_;
  const MarketOptions options_;
};

// ISO 8601 UTC with microseconds, as PostgreSQL reads it.
std::string IsoTime(Clock::WallTime t);
// True if `s` is an ISO 8601 date-time with an offset (2026-05-01T20:00:00+02:00).
bool IsIsoDateTime(const std::string& s);

}  // namespace taquilla::secure
