// Seed: generates a deterministic marketplace (sites, languages, categories, cities,
// venues, performers, events with translations in every language, users, listings,
// exchange rates) and loads it into an empty, migrated PostgreSQL database with COPY.
//
// The same options (scale, seed, reference time) always produce byte-identical rows.
// Seed() owns its connections for the duration of the call; it is not re-entrant on
// one database (the emptiness check and the load are one transaction per table group).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace taquilla::seed {

struct Scale {
  std::string name;
  int events;
  int64_t tickets;  // sum of quantity_available over active listings
  int users;
};

// "demo" or "ticketbis"; an error naming the valid scales otherwise.
Result<Scale> ScaleByName(const std::string& name);

struct SeedOptions {
  std::string scale = "demo";
  uint64_t seed = 1;
  bool force = false;    // seed a non-empty database: existing marketplace rows are deleted first
  bool progress = true;  // draw a progress bar when stderr is a terminal
  // Reference "now": events spread over the 12 months after it (plus some before it).
  // Tests pass a FakeClock so the data does not depend on the day it is generated.
  const Clock* clock = &SystemClock::Instance();
};

struct SeedCounts {
  int64_t languages = 0, sites = 0, site_languages = 0, categories = 0, cities = 0, venues = 0,
          performers = 0, events = 0, event_translations = 0, users = 0, listings = 0, tickets = 0,
          exchange_rates = 0;
  double seconds = 0;
};

// Seeds the database at `postgres_url`. Fails without changing anything when the scale
// is unknown, the database is unreachable, or it already holds marketplace data and
// options.force is false.
Result<SeedCounts> Seed(const std::string& postgres_url, const SeedOptions& options);

// A human-readable summary, one "table: count" per line.
std::string FormatCounts(const SeedCounts& counts);

}  // namespace taquilla::seed
