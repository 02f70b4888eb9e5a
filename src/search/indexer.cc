#include "search/indexer.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <ostream>
#include <set>
#include <thread>

#include "common/clock.h"
#include "common/log.h"
#include "common/progress.h"
#include "queue/reliable_queue.h"
#include "redis/client.h"
#include "search/index.h"
#include "search/source.h"
#include "stack/endpoints.h"
#include "sync/keys.h"

namespace taquilla::search {

namespace {

using Steady = std::chrono::steady_clock;

double Since(Steady::time_point t) {
  return std::chrono::duration<double>(Steady::now() - t).count();
}

std::string ReindexFlag(const std::string& prefix) { return prefix + "search:reindex"; }
std::string TouchedSet(const std::string& prefix) { return prefix + "search:touched"; }

// KEYS[1] flag, KEYS[2] touched set; ARGV items. Adds them when a reindex is running.
const redis::Script kTouch(R"(
if redis.call('EXISTS', KEYS[1]) == 1 then
  for i = 1, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
  return 1
end
return 0
)");

// KEYS[1] flag, KEYS[2] touched set: ends a reindex, returning what was touched meanwhile.
const redis::Script kFinish(R"(
redis.call('DEL', KEYS[1])
local items = redis.call('SMEMBERS', KEYS[2])
redis.call('DEL', KEYS[2])
return items
)");

// "event:123" -> 123; 0 for other entities.
int64_t EventIdOf(const std::string& item) {
  if (item.rfind("event:", 0) != 0) return 0;
  char* end = nullptr;
  long long id = std::strtoll(item.c_str() + 6, &end, 10);
  return *end == '\0' && id > 0 ? id : 0;
}

queue::Options QueueOptionsOf(const IndexerOptions& o) {
  queue::Options q;
  q.prefix = o.prefix;
  q.group = o.group;
  q.max_deliveries = o.max_deliveries;
  q.heartbeat_ttl = o.heartbeat_ttl;
  return q;
}

}  // namespace

std::string IndexerMetrics::Render() const {
  std::string s;
  auto counter = [&s](const char* name, const char* help, auto v) {
    s += fmt::format(
        "# HELP taquilla_indexer_{0} {1}\n# TYPE taquilla_indexer_{0} counter\n"
        "taquilla_indexer_{0} {2}\n",
        name, help, v);
  };
  auto gauge = [&s](const char* name, const char* help, auto v) {
    s += fmt::format(
        "# HELP taquilla_indexer_{0} {1}\n# TYPE taquilla_indexer_{0} gauge\n"
        "taquilla_indexer_{0} {2}\n",
        name, help, v);
  };
  counter("batches_total", "Batches committed", batches.load());
  counter("items_total", "Queue items acknowledged", items.load());
  counter("events_total", "Events whose documents were rebuilt", events.load());
  counter("documents_total", "Documents written", documents.load());
  counter("errors_total", "Batches that failed (their items went back to the queue)",
          errors.load());
  counter("purged_total", "Documents of started events deleted", purged.load());
  counter("replays_total", "Batches done again after a reindex swapped the index", replays.load());
  counter("build_seconds_total", "Seconds reading projections and building documents",
          seconds_build.load());
  counter("write_seconds_total", "Seconds writing and committing the index", seconds_write.load());
  gauge("documents", "Documents in the index", docs_in_index.load());
  gauge("generation", "The live index generation", generation.load());
  return s;
}

Result<IndexerOptions> IndexerOptionsOf(const Config& config) {
  IndexerOptions o;
  TQ_ASSIGN_OR_RETURN(o.redis_url, stack::ResolveRedisMasterUrl(config));
  o.prefix = config.redis.prefix;
  o.index_dir = IndexDirOf(config);
  o.shards = config.search.shards;
  o.fsync = config.search.fsync == "true";
  o.batch = static_cast<size_t>(config.search.batch);
  o.max_deliveries = config.queue.max_deliveries;
  o.heartbeat_ttl = std::chrono::seconds(config.queue.heartbeat_seconds);
  o.purge_interval = std::chrono::seconds(config.search.purge_seconds);
  return o;
}

std::string IndexDirOf(const Config& config) {
  return config.search.dir.empty() ? config.stack.data_dir + "/index" : config.search.dir;
}

namespace {

// One indexer's state: its connections, writer and caches. Owned by the loop's thread.
class Indexer {
 public:
  Indexer(const IndexerOptions& o, IndexerMetrics& m)
      : o_(o), m_(m), log_(Logger("indexer")), source_(nullptr, sync::Keys(o.prefix)) {}

  Status Connect() {
    TQ_ASSIGN_OR_RETURN(redis::Client reads, redis::Client::Connect(o_.redis_url));
    reads_ = std::make_unique<redis::Client>(std::move(reads));
    source_.set_client(reads_.get());
    source_.Invalidate();
    if (!worker_) {
      TQ_ASSIGN_OR_RETURN(redis::Client wc, redis::Client::Connect(o_.redis_url));
      TQ_ASSIGN_OR_RETURN(queue::Worker w,
                          queue::Worker::Start(std::move(wc), QueueOptionsOf(o_), o_.worker_id));
      worker_ = std::make_unique<queue::Worker>(std::move(w));
      TQ_ASSIGN_OR_RETURN(queue::Queue q, queue::Queue::Open(QueueOptionsOf(o_)));
      queue_ = std::make_unique<queue::Queue>(std::move(q));
      log_->info("worker {} consumes queue '{}' on {}", worker_->id(), o_.group, o_.redis_url);
    }
    return Ok();
  }

  Status OpenWriter() {
    writer_.reset();
    TQ_ASSIGN_OR_RETURN(int64_t live, LiveGeneration(o_.index_dir));
    if (live == 0) {
      // No index yet: build it from the projections sync already wrote (sync's initial
      // build may not queue every event), then follow the queue.
      TQ_ASSIGN_OR_RETURN(ReindexReport r, Reindex(o_, "", false));
      log_->info("built the index from the projections: {} events, {} documents", r.events,
                 r.documents);
    }
    TQ_ASSIGN_OR_RETURN(IndexWriter w, IndexWriter::OpenLive({o_.index_dir, o_.shards, o_.fsync}));
    writer_ = std::make_unique<IndexWriter>(std::move(w));
    m_.generation = writer_->generation();
    m_.docs_in_index = static_cast<int64_t>(writer_->DocCount());
    log_->info("writing index generation {} in {} ({} shards, {} documents)", writer_->generation(),
               o_.index_dir, writer_->shards(), writer_->DocCount());
    return Ok();
  }

  // The live generation moved (a reindex published another): write there from now on.
  Result<bool> FollowGeneration() {
    TQ_ASSIGN_OR_RETURN(int64_t live, LiveGeneration(o_.index_dir));
    if (writer_ && live == writer_->generation()) return false;
    TQ_RETURN_IF_ERROR(OpenWriter());
    return true;
  }

  Status Apply(const std::vector<std::string>& items) {
    std::vector<int64_t> ids;
    for (const auto& item : items) {
      if (int64_t id = EventIdOf(item)) {
        ids.push_back(id);
      } else if (item.rfind("venue:", 0) == 0) {
        // A venue's location is in its events' documents.
        int64_t venue = std::strtoll(item.c_str() + 6, nullptr, 10);
        TQ_ASSIGN_OR_RETURN(std::vector<int64_t> at, source_.EventsAtVenue(venue, UnixSeconds()));
        ids.insert(ids.end(), at.begin(), at.end());
      } else if (item == "sites" || item.rfind("cats", 0) == 0) {
        source_.Invalidate();  // new languages, renamed or moved categories
      }
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    if (ids.empty()) return Ok();
    // In slices, with a heartbeat after each: venue items can expand a batch to thousands of
    // events, and a worker whose heartbeat expires mid-batch would have its items reaped.
    constexpr size_t kSlice = 500;
    for (size_t i = 0; i < ids.size(); i += kSlice) {
      std::span<const int64_t> slice(ids.data() + i, std::min(kSlice, ids.size() - i));
      auto t0 = Steady::now();
      TQ_ASSIGN_OR_RETURN(std::vector<EventDoc> docs, source_.Build(slice, UnixSeconds()));
      m_.seconds_build = m_.seconds_build + Since(t0);
      auto t1 = Steady::now();
      TQ_RETURN_IF_ERROR(writer_->Replace(slice, docs));
      m_.seconds_write = m_.seconds_write + Since(t1);
      m_.events += static_cast<int64_t>(slice.size());
      m_.documents += static_cast<int64_t>(docs.size());
      if (i + kSlice < ids.size()) TQ_RETURN_IF_ERROR(worker_->Heartbeat());
    }
    auto t2 = Steady::now();
    TQ_RETURN_IF_ERROR(writer_->Commit());
    m_.seconds_write = m_.seconds_write + Since(t2);
    return Ok();
  }

  // One claimed batch: index, commit, note for a running reindex, acknowledge.
  Status Process(const std::vector<std::string>& items) {
    TQ_ASSIGN_OR_RETURN(bool moved, FollowGeneration());
    (void)moved;
    for (int round = 0;; ++round) {
      TQ_RETURN_IF_ERROR(Apply(items));
      std::vector<std::string> keys{ReindexFlag(o_.prefix), TouchedSet(o_.prefix)};
      TQ_ASSIGN_OR_RETURN(redis::Reply r, reads_->Eval(kTouch, keys, items));
      if (r.IsError()) {
        return MakeError(ErrorCode::kUnavailable, "noting touched items: {}", r.str());
      }
      TQ_ASSIGN_OR_RETURN(bool swapped, FollowGeneration());
      if (!swapped || round > 3) break;
      ++m_.replays;  // committed to the generation a reindex just replaced
    }
    TQ_ASSIGN_OR_RETURN(queue::AckReport ack, worker_->Ack(items));
    if (!ack.not_held.empty()) {
      log_->warn(
          "{} items were no longer held when acknowledged (their worker was presumed "
          "dead; another delivery will index them again)",
          ack.not_held.size());
    }
    ++m_.batches;
    m_.items += static_cast<int64_t>(ack.acked);
    m_.docs_in_index = static_cast<int64_t>(writer_->DocCount());
    return Ok();
  }

  Status Housekeeping() {
    auto now = Steady::now();
    if (now - last_reap_ >= o_.heartbeat_ttl / 2) {
      last_reap_ = now;
      auto report = queue_->RecoverExpired(*reads_);
      if (!report.ok()) return report.error();
      if (report->requeued + report->dead > 0) {
        log_->info("reaper: {} items of {} dead workers back in the queue, {} dead-lettered",
                   report->requeued, report->reaped_workers.size(), report->dead);
      }
    }
    if (now - last_purge_ >= o_.purge_interval) {
      last_purge_ = now;
      TQ_ASSIGN_OR_RETURN(bool moved, FollowGeneration());
      (void)moved;
      TQ_ASSIGN_OR_RETURN(size_t purged, writer_->PurgeBefore(UnixSeconds()));
      if (purged > 0) {
        TQ_RETURN_IF_ERROR(writer_->Commit());
        m_.purged += static_cast<int64_t>(purged);
        m_.docs_in_index = static_cast<int64_t>(writer_->DocCount());
        log_->info("purged {} documents of started events", purged);
      }
    }
    return Ok();
  }

  Status Run(const std::atomic<bool>& stop) {
    int failures = 0;
    while (!stop) {
      Status s = Step();
      if (s.ok()) {
        failures = 0;
        continue;
      }
      ++m_.errors;
      log_->error("{}", s.error().message);
      // Back off (up to 5 s), then start over with fresh connections and writer.
      auto until =
          Steady::now() + std::chrono::milliseconds(std::min(5000, 100 << std::min(failures, 6)));
      ++failures;
      while (!stop && Steady::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      reads_.reset();
      writer_.reset();
    }
    if (worker_) {
      auto left = worker_->Leave();
      if (left.ok()) log_->info("stopped; handed {} items back", *left);
    }
    return Ok();
  }

 private:
  Status Step() {
    if (!reads_ || reads_->broken()) TQ_RETURN_IF_ERROR(Connect());
    if (!writer_) TQ_RETURN_IF_ERROR(OpenWriter());
    TQ_RETURN_IF_ERROR(Housekeeping());
    TQ_ASSIGN_OR_RETURN(std::vector<queue::Delivery> batch,
                        worker_->Claim(o_.batch, o_.claim_wait));
    if (batch.empty()) return Ok();
    std::vector<std::string> items;
    items.reserve(batch.size());
    for (auto& d : batch) items.push_back(std::move(d.item));
    Status s = Process(items);
    if (!s.ok()) {
      auto failed = worker_->Fail(items);
      if (!failed.ok()) log_->warn("could not give the batch back: {}", failed.error().message);
      return s;
    }
    return Ok();
  }

  const IndexerOptions& o_;
  IndexerMetrics& m_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<redis::Client> reads_;
  std::unique_ptr<queue::Worker> worker_;
  std::unique_ptr<queue::Queue> queue_;
  std::unique_ptr<IndexWriter> writer_;
  ProjectionSource source_;
  Steady::time_point last_reap_{}, last_purge_ = Steady::now();
};

}  // namespace

Status RunIndexerLoop(const IndexerOptions& options, IndexerMetrics& metrics,
                      const std::atomic<bool>& stop) {
  if (options.shards < 1) return MakeError(ErrorCode::kInvalidArgument, "search.shards < 1");
  Indexer indexer(options, metrics);
  return indexer.Run(stop);
}

Result<ReindexReport> Reindex(const IndexerOptions& o, const std::string& lang, bool progress) {
  TQ_ASSIGN_OR_RETURN(redis::Client client, redis::Client::Connect(o.redis_url));
  const std::string flag = ReindexFlag(o.prefix);
  constexpr int kFlagTtlMs = 60'000;
  TQ_ASSIGN_OR_RETURN(redis::Reply set,
                      client.Cmd("SET", flag, "1", "PX", std::to_string(kFlagTtlMs)));
  if (set.IsError()) return MakeError(ErrorCode::kUnavailable, "{}", set.str());
  auto flag_set_at = Steady::now();
  auto keep_flag = [&]() -> Status {
    if (Steady::now() - flag_set_at < std::chrono::milliseconds(kFlagTtlMs / 4)) return Ok();
    flag_set_at = Steady::now();
    TQ_ASSIGN_OR_RETURN(redis::Reply r,
                        client.Cmd("SET", flag, "1", "PX", std::to_string(kFlagTtlMs)));
    return Ok();
  };

  ReindexReport report;
  TQ_ASSIGN_OR_RETURN(int64_t live, LiveGeneration(o.index_dir));
  TQ_ASSIGN_OR_RETURN(IndexWriter aside,
                      IndexWriter::CreateAside({o.index_dir, o.shards, o.fsync}));
  report.generation = aside.generation();
  if (!lang.empty() && live > 0) {
    TQ_ASSIGN_OR_RETURN(report.copied, aside.CopyOtherLanguages(o.index_dir, live, lang));
  }
  ProjectionSource source(&client, sync::Keys(o.prefix));
  const int64_t now = UnixSeconds();
  TQ_ASSIGN_OR_RETURN(std::vector<int64_t> ids, source.UpcomingEvents(now));
  // Site language by site language, events in id order: documents arrive in document id
  // order (see index.h), so Xapian appends to its B-trees instead of inserting all over.
  TQ_ASSIGN_OR_RETURN(std::vector<SiteLanguages> sites, source.Sites());
  std::vector<std::pair<std::string, std::vector<int64_t>>> per_site;
  uint64_t steps = 0;
  for (const auto& s : sites) {
    TQ_ASSIGN_OR_RETURN(std::vector<int64_t> on_site, source.UpcomingOnSite(s.site, now));
    for (const auto& l : s.languages) {
      if (lang.empty() || l == lang) steps += on_site.size();
    }
    per_site.emplace_back(s.site, std::move(on_site));
  }
  Progress bar(lang.empty() ? "reindex" : "reindex " + lang, steps);
  constexpr size_t kChunk = 200;
  for (size_t si = 0; si < sites.size(); ++si) {
    const auto& on_site = per_site[si].second;
    for (const auto& l : sites[si].languages) {
      if (!lang.empty() && l != lang) continue;
      for (size_t i = 0; i < on_site.size(); i += kChunk) {
        TQ_RETURN_IF_ERROR(keep_flag());
        std::span<const int64_t> chunk(on_site.data() + i, std::min(kChunk, on_site.size() - i));
        TQ_ASSIGN_OR_RETURN(std::vector<EventDoc> docs,
                            source.Build(chunk, now, l, sites[si].site));
        TQ_RETURN_IF_ERROR(aside.Add(docs));
        report.documents += docs.size();
        if (progress) bar.Add(chunk.size());
      }
    }
  }
  if (progress) bar.Finish();
  report.events = ids.size();
  TQ_RETURN_IF_ERROR(aside.Commit());
  aside.Close();
  TQ_RETURN_IF_ERROR(keep_flag());
  TQ_RETURN_IF_ERROR(Publish(o.index_dir, report.generation));
  TQ_ASSIGN_OR_RETURN(redis::Reply touched, client.Eval(kFinish, {flag, TouchedSet(o.prefix)}, {}));
  std::vector<std::string> items;
  for (size_t i = 0; i < touched.size(); ++i) items.emplace_back(touched[i].str());
  if (!items.empty()) {
    TQ_ASSIGN_OR_RETURN(queue::Queue q, queue::Queue::Open(QueueOptionsOf(o)));
    TQ_ASSIGN_OR_RETURN(size_t n, q.Enqueue(client, items));
    (void)n;
  }
  report.requeued = items.size();
  return report;
}

Result<IndexVerifyReport> VerifyIndex(const IndexerOptions& o, std::ostream& out) {
  TQ_ASSIGN_OR_RETURN(redis::Client client, redis::Client::Connect(o.redis_url));
  ProjectionSource source(&client, sync::Keys(o.prefix));
  const int64_t now = UnixSeconds();
  TQ_ASSIGN_OR_RETURN(std::vector<int64_t> ids, source.UpcomingEvents(now));
  std::map<std::string, std::string> expected;  // unique term -> signature
  for (size_t i = 0; i < ids.size(); i += 100) {
    std::span<const int64_t> chunk(ids.data() + i, std::min<size_t>(100, ids.size() - i));
    TQ_ASSIGN_OR_RETURN(std::vector<EventDoc> docs, source.Build(chunk, now));
    for (const auto& d : docs) expected[UniqueTerm(d.site, d.lang, d.id)] = d.signature;
  }
  IndexVerifyReport report;
  std::vector<std::string> lines;
  // The indexer may commit while the index is read; a discarded revision starts the scan
  // again.
  for (int attempt = 0;; ++attempt) {
    report = IndexVerifyReport{};
    report.expected = expected.size();
    lines.clear();
    auto note = [&](const std::string& line) {
      if (++report.differences <= 20) lines.push_back(line);
    };
    try {
      TQ_ASSIGN_OR_RETURN(int64_t live, LiveGeneration(o.index_dir));
      Xapian::Database db;
      for (int s = 0; live > 0 && s < CountShards(o.index_dir, live); ++s) {
        db.add_database(Xapian::Database(ShardPath(o.index_dir, live, s)));
      }
      std::set<std::string> seen;
      if (db.size() > 0) {
        for (auto t = db.allterms_begin("Q"); t != db.allterms_end("Q"); ++t) {
          const std::string term = *t;
          auto p = db.postlist_begin(term);
          Xapian::Document doc = db.get_document(*p);
          // Events that started since the expectations were computed are not differences.
          const double starts = Xapian::sortable_unserialise(doc.get_value(kDate));
          ++report.indexed;
          seen.insert(term);
          auto e = expected.find(term);
          if (e == expected.end()) {
            if (starts > static_cast<double>(now)) note("extra in the index: " + term.substr(1));
          } else if (doc.get_value(kSignature) != e->second) {
            note("stale in the index: " + term.substr(1));
          }
          if (t.get_termfreq() > 1) note("duplicated in the index: " + term.substr(1));
        }
      }
      for (const auto& [term, sig] : expected) {
        if (!seen.count(term)) note("missing from the index: " + term.substr(1));
      }
      break;
    } catch (const Xapian::DatabaseModifiedError& e) {
      if (attempt >= 20) {
        return MakeError(ErrorCode::kUnavailable, "cannot read the index: {}", e.get_msg());
      }
    } catch (const Xapian::Error& e) {
      return MakeError(ErrorCode::kUnavailable, "cannot read the index: {}", e.get_msg());
    }
  }
  for (const auto& line : lines) out << line << "\n";
  return report;
}

}  // namespace taquilla::search
