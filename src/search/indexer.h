// The indexer and the index tools: `taquilla indexer` keeps the search index equal to the
// projections by consuming the reliable queue's "search" group; `taquilla reindex` rebuilds
// the index aside and swaps it in; VerifyIndex compares the index with the projections.
//
// The indexer's loop: claim a batch of queued entities, rebuild the documents of the events
// among them from the Redis master (ProjectionSource), replace them in the index, commit,
// and only then acknowledge the items. A process killed at any point leaves its items in
// its processing list; the reaper (which every indexer runs) hands them to a live worker
// once its heartbeat expires, and replaying a batch is harmless because a document is
// rebuilt from the projections, not from the queue item. Other entities (venue:, performer:,
// sites, cats) are acknowledged after dropping the caches they invalidate: sync queues every
// event whose documents a venue or performer change touched.
//
// Reindex without losing a change. Reindex builds generation N+1 while the indexer keeps
// writing N. Before it reads a single projection it sets {p}search:reindex (a flag with a
// TTL it keeps refreshing); an indexer that finds the flag set after committing a batch
// adds the batch's items to {p}search:touched. After publishing N+1, reindex clears the
// flag and re-queues every touched item in one script. An indexer that committed to N after
// the swap sees the live generation move when it checks it after the commit, and processes
// the batch again on N+1 before acknowledging it. So every change a reader could have seen
// in N is either in N+1's snapshot (read after the flag) or queued again.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>

#include "common/config.h"
#include "common/result.h"

namespace taquilla::search {

struct IndexerOptions {
  std::string redis_url;  // the master: the queue and the projections
  std::string prefix = "tq:";
  std::string group = "search";
  std::string index_dir;
  int shards = 1;
  bool fsync = true;
  size_t batch = 500;
  int max_deliveries = 5;
  std::chrono::milliseconds heartbeat_ttl{10'000};
  std::chrono::milliseconds claim_wait{200};
  std::chrono::seconds purge_interval{60};
  std::string worker_id;  // empty: hostname:pid:random
};

// Counters the indexer's /metrics renders. Written by the indexer thread, read by any.
struct IndexerMetrics {
  std::atomic<int64_t> batches{0}, items{0}, events{0}, documents{0}, errors{0}, purged{0};
  std::atomic<int64_t> replays{0};  // batches done again after a reindex swap
  std::atomic<int64_t> docs_in_index{0}, generation{0};
  std::atomic<double> seconds_build{0}, seconds_write{0};
  std::string Render() const;
};

// Runs until `stop` is set; returns early only on a configuration error (an error after
// start-up is logged and retried).
Status RunIndexerLoop(const IndexerOptions& options, IndexerMetrics& metrics,
                      const std::atomic<bool>& stop);

struct ReindexReport {
  int64_t generation = 0;
  uint64_t events = 0, documents = 0, copied = 0, requeued = 0;
};
// `lang` empty rebuilds every language; otherwise that language's documents are rebuilt
// and the others copied from the live generation.
Result<ReindexReport> Reindex(const IndexerOptions& options, const std::string& lang,
                              bool progress);

struct IndexVerifyReport {
  uint64_t expected = 0, indexed = 0, differences = 0;
};
// Compares every document the projections call for (upcoming events, every site language)
// with the live index; prints up to 20 differences to `out`.
Result<IndexVerifyReport> VerifyIndex(const IndexerOptions& options, std::ostream& out);

// The options from the Config (Redis URL resolved from the stack when not set).
Result<IndexerOptions> IndexerOptionsOf(const Config& config);
// search.dir, or <data_dir>/index.
std::string IndexDirOf(const Config& config);

}  // namespace taquilla::search
