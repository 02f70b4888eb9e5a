// The read side of an event's two projection units: the API's Event (or EventSummary) is
// its content document in a site language (ev:) joined with its offers document on that
// site (eo:), every Money given its "formatted" string by ICU for the reader's locale.
// Offers are kept per site, not per site language, so a listing change rewrites one small
// document per site instead of every language's copy; the formatting that made them
// language-dependent happens here, where read servers cache the result. Pure functions;
// thread-safe (the formatted-money cache is per thread).
#pragma once

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "common/result.h"

namespace taquilla::sync {

enum class EventShape { kEvent, kSummary };

// `content` is the ev: document; `offers` the eo: document, or empty when it is missing (a
// reader between the two units' writes sees no listings rather than an error). `locale`
// is SiteLocale(lang, site country). Errors: a document that is not the projection's JSON.
Result<boost::json::object> ComposeEvent(std::string_view content, std::string_view offers,
                                         const std::string& locale, EventShape shape);

// The Money object {amount_minor, currency} with "formatted" for `locale` added; a null
// stays null.
boost::json::value FormatMoneyValue(const boost::json::value& money, const std::string& locale);

}  // namespace taquilla::sync
