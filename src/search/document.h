// EventDoc: what the search index holds for one event in one site language, and how it
// becomes a Xapian document. Pure functions over the projection documents that sync writes
// (ev:, eo:, venue:, cats:), so the indexer, `taquilla reindex` and `taquilla verify --index`
// build exactly the same documents. Thread-safe (no shared state).
//
// A Xapian document of an event, per (site, language):
//   terms     Q{site}:{lang}:{id} (unique id), XE{id} (every document of the event),
//             XS{site}:{lang} (the site language), XC{id} for its category and every
//             ancestor (category filters cover subtrees), XA when tickets are on sale, and
//             the analysed text: title (weight 3), performers (2), venue, city, category
//             and description (1), with positions for phrase search (not the
//             description's).
//   values    see Slot.
//   data      {"c": content (the ev: document without description and performers),
//              "o": {"min_price", "tickets_available"}}: what ComposeEvent needs to answer
//             an EventSummary without another round trip.
#pragma once

#include <xapian.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace taquilla::search {

enum Slot : Xapian::valueno {
  kDate = 0,       // sortable_serialise(start, epoch seconds)
  kPrice = 1,      // sortable_serialise(min price, site currency minor units); absent: none
  kTickets = 2,    // sortable_serialise(tickets available)
  kCategory = 3,   // "{id}|{name}" of its own category (the category facet)
  kMonth = 4,      // "YYYY-MM" of the start in the event's time zone (the month facet)
  kLatLong = 5,    // Xapian::LatLongCoords of the venue, serialised
  kPriceSort = 6,  // sortable_serialise(min price, or 1e15 when nothing is on sale)
  kSignature = 7,  // 16 hex digits: a hash of every input, for verify
  kEventId = 8,    // the event id in decimal (a hit's id without reading its term list)
  kFacets = 9,     // "YYYY-MM|{category id}|{name}": both facets from one value per match
};

struct EventDoc {
  std::string site, lang;
  int64_t id = 0;
  std::string title, description, status, starts_at;
  int64_t starts_epoch = 0;
  std::string month;
  int64_t category_id = 0;
  std::string category_name;
  std::vector<int64_t> category_path;  // its category, then each ancestor
  int64_t venue_id = 0;
  std::string venue_name, city, country;
  std::vector<std::string> performers;
  std::optional<double> latitude, longitude;
  std::optional<int64_t> min_price;
  int64_t tickets_available = 0;
  std::string data;       // the document data (see above)
  std::string signature;  // 16 hex digits
};

// category id -> parent id (absent for a root), from a cats: document.
Result<std::map<int64_t, int64_t>> CategoryParents(std::string_view cats_json);

// Builds the document of an event in a site language from its projections: `content` (ev:),
// `offers` (eo:, empty when missing), `venue` (venue:, empty when missing: no location).
// nullopt when the event must not be searchable: cancelled, or starting at or before `now`.
// Errors: a projection that is not the expected JSON.
Result<std::optional<EventDoc>> BuildEventDoc(std::string_view site, std::string_view lang,
                                              std::string_view content, std::string_view offers,
                                              std::string_view venue,
                                              const std::map<int64_t, int64_t>& parents,
                                              int64_t now);

// Term names.
std::string UniqueTerm(std::string_view site, std::string_view lang, int64_t id);
std::string EventTerm(int64_t id);
std::string SiteLangTerm(std::string_view site, std::string_view lang);
std::string CategoryTerm(int64_t id);
inline constexpr std::string_view kAvailableTerm = "XA";

// The Xapian document. `generator` is reused across calls (its stemmer, flags and document
// are set here); one per thread.
Xapian::Document ToXapian(const EventDoc& doc, Xapian::TermGenerator& generator);

}  // namespace taquilla::search
