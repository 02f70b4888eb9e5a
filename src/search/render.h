// The API's search answer (API.md: {"items":[EventSummary + "score"], "total", "facets"})
// from a SearchResult: each hit's stored summary goes through sync's ComposeEvent, so money
// is formatted for the reader's locale exactly as on every other read path. Pure;
// thread-safe.
#pragma once

#include <boost/json.hpp>
#include <string>

#include "common/result.h"
#include "search/searcher.h"

namespace taquilla::search {

// `locale` is sync::SiteLocale(lang, site country). A hit whose stored data cannot be read
// is left out (and counted in "total" still: it is in the index).
boost::json::object SearchResultJson(const SearchResult& result, const SearchRequest& request,
                                     const std::string& locale);

}  // namespace taquilla::search
