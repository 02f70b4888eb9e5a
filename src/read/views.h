// The read side's documents: events, lists of events, venues, performers and category
// trees, read from the replica and composed for a site language. Each answer also names
// the Redis keys it was built from (`deps`), so a cached rendering of it can be dropped
// when one of them changes. Functions of a Replica; thread-safe.
#pragma once

#include <boost/json.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "read/replica.h"
#include "search/searcher.h"

namespace taquilla::read {

// Who a read is for: a site, one of its languages, and the ICU locale money and dates are
// formatted in (the language with the site's country).
struct Audience {
  std::shared_ptr<const SiteDirectory> directory;  // keeps `site` alive
  const Site* site = nullptr;
  std::string lang;
  std::string locale;
};

// The filters of /events (and of the category, venue and performer pages).
struct ListQuery {
  std::optional<int64_t> category, venue, performer;
  std::optional<int64_t> from, to;  // epoch seconds, inclusive
  bool by_price = false;            // sort=price: events with tickets, cheapest first
  int page = 1, per_page = 20;
};

// From the query parameters (empty values count as absent): category, venue, performer,
// from, to, sort=date|price, page, per_page. Errors: kInvalidArgument, reason
// "invalid_parameter", naming the parameter.
Result<ListQuery> ParseListQuery(const std::map<std::string, std::string>& params);

struct EventList {
  int64_t total = 0;
  boost::json::array items;  // EventSummary
};

// Upcoming events of the audience's site matching `q`, from the sorted sets; `now` bounds
// `from`. Events whose documents vanished meanwhile are left out.
Result<EventList> ListEvents(Replica& replica, const Audience& a, const ListQuery& q, int64_t now,
                             std::vector<std::string>& deps);

// The Event (or EventSummary) `id` in the audience's language; nullopt when the site does
// not show it.
Result<std::optional<boost::json::object>> LoadEvent(Replica& replica, const Audience& a,
                                                     int64_t id, bool full,
                                                     std::vector<std::string>& deps);

// A document as stored (venue, performer, category tree), parsed; nullopt when missing.
Result<std::optional<boost::json::value>> LoadDocument(Replica& replica, const std::string& key,
                                                       std::vector<std::string>& deps);

// A positive decimal id, or nullopt ("12", not "012x" or "-1").
std::optional<int64_t> ParseId(std::string_view text);

// Query parameters without empty values.
std::map<std::string, std::string> NonEmpty(const std::map<std::string, std::string>& params);

}  // namespace taquilla::read
