// The search side of the CLI: `taquilla indexer` (the daemon and its /metrics), `taquilla
// reindex`, `taquilla search` and the index half of `taquilla verify --index`. Each returns
// the process exit code. Call from the main thread.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "common/config.h"

namespace taquilla::search {

int RunIndexer(const Config& config);
int RunReindex(const Config& config, const std::string& lang, bool progress);

struct SearchCommand {
  std::string site, lang;  // lang empty: the site's default language
  std::string query;
  std::map<std::string, std::string> params;  // the filters, as the API's query parameters
  bool json = false;
};
// Exit 0 with results (even none), 2 on invalid input, 1 when the index cannot be read.
int RunSearch(const Config& config, const SearchCommand& command);

// Waits (up to `wait`) until the search queue is drained, then compares the index with
// the projections. Exit 0 when equal, 1 with the differences, 2 on errors.
int RunVerifyIndex(const Config& config, std::chrono::milliseconds wait);

}  // namespace taquilla::search
