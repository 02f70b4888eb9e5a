// The on-disk layout of the search index and its one writer.
//
//   {dir}/current -> g{N}          the live generation (a symlink, swapped atomically)
//   {dir}/g{N}/shard-{i}           Xapian (glass) database of shard i, i in [0, shards)
//
// An event's documents (one per site language it is shown in) all live in shard
// id % shards. Readers open {dir}/current/shard-{i} (or a remote shard served by
// xapian-tcpsrv from that path) and reopen when the symlink moves. `taquilla reindex`
// builds generation N+1 aside while the indexer keeps writing N, then swaps the symlink;
// the indexer notices and moves to N+1 (see indexer.h for how no change is lost).
//
// Document ids are clustered by site language: a document's id is its site language's block
// number (1-4094, allocated per shard on first use and kept in the shard's metadata) times
// 2^20 plus its event id modulo 2^20. A query always filters one site language, so its
// posting lists and value streams are read from one contiguous range of the database instead
// of blocks scattered across every language's documents. A rare collision (two live events
// 2^20 ids apart) goes to an overflow block, then to the end.
//
// IndexWriter owns the WritableDatabases of one generation. Xapian allows one writer per
// database, so a generation has one IndexWriter at a time (the lock is Xapian's). Not
// thread-safe: one thread uses it.
#pragma once

#include <xapian.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "search/document.h"

namespace taquilla::search {

// The live generation (0 when the index was never created).
Result<int64_t> LiveGeneration(const std::string& dir);
std::string GenerationDir(const std::string& dir, int64_t generation);
std::string ShardPath(const std::string& dir, int64_t generation, int shard);
// The path readers and xapian-tcpsrv open: {dir}/current/shard-{i}.
std::string LiveShardPath(const std::string& dir, int shard);
// Makes `generation` the live one (atomic rename of the symlink) and deletes generations
// older than the one it replaced.
Status Publish(const std::string& dir, int64_t generation);
// How many shards a generation has (counts its shard-* directories).
int CountShards(const std::string& dir, int64_t generation);

struct WriterOptions {
  std::string dir;
  int shards = 1;
  bool fsync = true;  // Xapian's commit fsyncs; false for tests and throwaway builds
};

class IndexWriter {
 public:
  // The live generation's shards, created (as generation 1, published) when there is none.
  // Errors: the live generation has another number of shards (reindex to change it).
  static Result<IndexWriter> OpenLive(const WriterOptions& options);
  // A new, empty generation after the highest one on disk, not yet published.
  static Result<IndexWriter> CreateAside(const WriterOptions& options);

  IndexWriter(IndexWriter&&) noexcept;
  IndexWriter& operator=(IndexWriter&&) noexcept;
  ~IndexWriter();

  int64_t generation() const { return generation_; }
  int shards() const { return static_cast<int>(dbs_.size()); }

  // Replaces every document of the events `ids` by `docs` (each doc's id must be in ids;
  // an id without docs is removed from the index). Not visible until Commit().
  Status Replace(std::span<const int64_t> ids, std::span<const EventDoc> docs);
  // Adds documents of events not in the index (reindex).
  Status Add(std::span<const EventDoc> docs);
  // Copies every document of the live generation `from` whose site language is not
  // `lang` into this one (reindex --lang). Returns how many.
  Result<size_t> CopyOtherLanguages(const std::string& dir, int64_t from, const std::string& lang);
  Status Commit();
  // Deletes the documents of events that started before `epoch`; returns how many.
  Result<size_t> PurgeBefore(int64_t epoch);
  // Documents in all shards.
  uint64_t DocCount() const;
  void Close();

 private:
  IndexWriter(WriterOptions options, int64_t generation);
  Status OpenShards(bool create);
  size_t ShardIndex(int64_t id) const { return static_cast<size_t>(id) % dbs_.size(); }
  Xapian::WritableDatabase& ShardOf(int64_t id) { return dbs_[ShardIndex(id)]; }
  // Stores `doc` (of event `id` in site language site:lang) at its clustered document id.
  void Place(int64_t id, const std::string& site, const std::string& lang,
             const Xapian::Document& doc);
  // The shard's small number for a site language (allocated on first use, kept in the
  // shard's metadata), 0 when the 4,094 numbers are used up.
  uint32_t SiteLangBlock(size_t shard, const std::string& site, const std::string& lang);

  WriterOptions options_;
  int64_t generation_ = 0;
  std::vector<Xapian::WritableDatabase> dbs_;
  Xapian::TermGenerator generator_;
  Xapian::TermGenerator speller_;
  std::vector<std::map<std::string, uint32_t>> blocks_;  // per shard: site:lang -> block
  std::vector<std::set<std::string>> learned_;  // per shard: titles already in its spelling
};

}  // namespace taquilla::search
