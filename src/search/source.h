// ProjectionSource: reads, from Redis, the projections an event's search documents are
// built from (sync's sites, ev:, eo:, venue: and cats: documents) and builds the EventDocs.
// The indexer reads the Redis master, where sync writes them before it queues the event,
// so a queued event's documents are at least as new as the change that queued it.
//
// It caches the site list and each site language's category tree; Invalidate() drops
// them (the indexer calls it when the queue carries "sites" or "cats"). It uses the
// redis::Client it is given (not owned; one thread at a time, as the client requires).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "redis/client.h"
#include "search/document.h"
#include "sync/keys.h"

namespace taquilla::search {

struct SiteLanguages {
  std::string site;
  std::vector<std::string> languages;
};

class ProjectionSource {
 public:
  ProjectionSource(redis::Client* client, sync::Keys keys)
      : client_(client), keys_(std::move(keys)) {}

  void set_client(redis::Client* client) { client_ = client; }
  void Invalidate();

  // Every site and its languages (from the cached site list).
  Result<std::vector<SiteLanguages>> Sites();

  // The documents of events `ids` in every site language that has one, restricted to
  // `lang` and to `site` when they are not empty. An event that is cancelled, past or gone
  // has none.
  Result<std::vector<EventDoc>> Build(std::span<const int64_t> ids, int64_t now,
                                      const std::string& lang = "", const std::string& site = "");
  // The upcoming events of one site, in id order.
  Result<std::vector<int64_t>> UpcomingOnSite(const std::string& site, int64_t now);

  // Every event upcoming on some site (the union of the sites' date sorted sets), in id
  // order: what a complete index holds.
  Result<std::vector<int64_t>> UpcomingEvents(int64_t now);
  // The upcoming events at a venue on any site (their documents carry its location).
  Result<std::vector<int64_t>> EventsAtVenue(int64_t venue_id, int64_t now);

 private:
  Status LoadSites();
  Result<const std::map<int64_t, int64_t>*> Parents(const std::string& site,
                                                    const std::string& lang);

  redis::Client* client_;
  sync::Keys keys_;
  bool sites_loaded_ = false;
  std::vector<SiteLanguages> sites_;
  std::map<std::pair<std::string, std::string>, std::map<int64_t, int64_t>> parents_;
};

}  // namespace taquilla::search
