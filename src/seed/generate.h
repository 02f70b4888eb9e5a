// The deterministic marketplace generator: turns SeedData, a scale, a seed and a
// reference day into COPY rows for every marketplace table, written through a
// TableWriter in load order. One Generator per load; single-threaded.
#pragma once

#include <cstdint>
#include <string>

#include "seed/data.h"
#include "seed/pipe.h"
#include "seed/seed.h"

namespace taquilla::seed {

struct GenerateInput {
  const SeedData* data = nullptr;
  Scale scale;
  uint64_t seed = 1;
  int64_t base_day = 0;  // days since 1970-01-01 (UTC) of the reference "now"
  std::string password_hash;
};

// Writes every table; fills the counts (not seconds). Throws PipeAborted if the
// consumer gave up.
void Generate(const GenerateInput& in, TableWriter& w, SeedCounts* counts);

// Tables with identity ids the generator assigns explicitly.
extern const char* const kIdentityTables[7];
// Every table the seed writes or clears, in load order (holds and orders stay empty).
extern const char* const kMarketplaceTables[20];

// "YYYY-MM-DD HH:MM:SS+00" for a Unix time.
std::string FormatTimestamp(int64_t unix_seconds);

}  // namespace taquilla::seed
