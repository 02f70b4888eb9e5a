#include "secure/db_errors.h"

#include <string_view>

#include "db/pg.h"
#include "http/json_input.h"

namespace taquilla::secure {
namespace {

struct ConstraintField {
  std::string_view constraint, field, problem;
};

// The constraints a request can trip over, by the field the caller sent.
constexpr ConstraintField kFields[] = {
    {"events_check", "ends_at", "must not be before starts_at"},
    {"events_venue_id_fkey", "venue_id", "is not a venue"},
    {"events_category_id_fkey", "category_id", "is not a category"},
    {"event_sites_site_code_fkey", "sites", "names a site that does not exist"},
    {"event_performers_performer_id_fkey", "performer_ids",
     "names a performer that does not exist"},
    {"performers_category_id_fkey", "category_id", "is not a category"},
    {"categories_parent_id_fkey", "parent_id", "is not a category"},
    {"listings_event_id_fkey", "event_id", "is not an event"},
    {"listings_currency_fkey", "currency", "is not a currency Taquilla knows"},
    {"listings_pairs_even", "quantity", "must be even for a listing sold in pairs"},
    {"listings_seats", "seat_to", "must not be lower than seat_from"},
    {"users_locale_fkey", "locale", "is not a language Taquilla offers"},
    {"sites_currency_fkey", "currency", "is not a currency Taquilla knows"},
    {"sites_default_language_offered", "default_language", "must be one of languages"},
    {"site_languages_language_code_fkey", "languages", "names an unknown language"},
    {"venues_city_id_fkey", "city_id", "is not a city"},
};

}  // namespace

Error ApiErrorOf(const Error& e) {
  std::string state = db::SqlStateOf(e);
  std::string c = db::ConstraintOf(e);
  if (state.empty()) {
    if (e.code == ErrorCode::kUnavailable) {
      return MakeReason(ErrorCode::kUnavailable, "unavailable", "The database is unavailable.");
    }
    return e;
  }
  if (state == "23505") {
    if (c == "users_email") {
      return MakeReason(ErrorCode::kAlreadyExists, "email_taken",
                        "An account with this email already exists.");
    }
  }
  for (const auto& f : kFields) {
    if (c == f.constraint) return http::InvalidField(f.field, f.problem);
  }
  if (state == "23505") {
    return MakeReason(ErrorCode::kAlreadyExists, "already_exists", "It already exists{}.",
                      c.empty() ? "" : fmt::format(" ({})", c));
  }
  if (state == "23503") {
    return MakeReason(ErrorCode::kInvalidArgument, "invalid_field",
                      "A referenced record does not exist ({}).", c);
  }
  if (state.rfind("23", 0) == 0 || state.rfind("22", 0) == 0) {
    return MakeReason(ErrorCode::kInvalidArgument, "invalid_field", "A value is not valid{}.",
                      c.empty() ? "" : fmt::format(" ({})", c));
  }
  if (state == "40001" || state == "40P01" || state == "55P03") {
    return MakeReason(ErrorCode::kUnavailable, "unavailable", "The database is busy; try again.");
  }
  if (e.code == ErrorCode::kUnavailable || state.rfind("08", 0) == 0 || state == "57P01") {
    return MakeReason(ErrorCode::kUnavailable, "unavailable", "The database is unavailable.");
  }
  return e;
}

}  // namespace taquilla::secure
