#include "search/index.h"

#include <fmt/format.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <set>
#include <system_error>

#include "search/analyzer.h"

namespace taquilla::search {
namespace fs = std::filesystem;

namespace {

Error XapianError(const Xapian::Error& e, std::string_view what) {
  return MakeError(ErrorCode::kInternal, "{}: {}: {}", what, e.get_type(), e.get_msg());
}

int64_t GenerationOf(const std::string& name) {
  if (name.size() < 2 || name[0] != 'g') return 0;
  int64_t g = 0;
  for (size_t i = 1; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return 0;
    g = g * 10 + (name[i] - '0');
  }
  return g;
}

std::set<int64_t> GenerationsOnDisk(const std::string& dir) {
  std::set<int64_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (int64_t g = GenerationOf(e.path().filename().string()); g > 0 && e.is_directory()) {
      out.insert(g);
    }
  }
  return out;
}

// Adds the words of an event's title to the spelling dictionary of `db`, once per language
// and title (`learned` remembers them; the same title is shown on several sites).
void LearnSpelling(Xapian::TermGenerator& speller, Xapian::WritableDatabase& db,
                   std::string_view lang, std::string_view title, std::set<std::string>& learned) {
  std::string key = std::string(lang) + '\n' + std::string(title);
  if (learned.size() > 1'000'000) learned.clear();
  if (!learned.insert(std::move(key)).second) return;
  Xapian::Document scratch;
  speller.set_database(db);
  speller.set_flags(Xapian::TermGenerator::FLAG_SPELLING | Analyzer::kTermGeneratorFlags);
  speller.set_stemmer(Xapian::Stem());
  speller.set_document(scratch);
  speller.index_text(Analyzer::For(lang).Normalize(title));
}

// A document with every term (wdf and positions), value and the data of `src` read now, so
// it no longer refers to the database `src` came from.
Xapian::Document Materialize(const Xapian::Document& src) {
  Xapian::Document d;
  d.set_data(src.get_data());
  for (auto v = src.values_begin(); v != src.values_end(); ++v) d.add_value(v.get_valueno(), *v);
  for (auto t = src.termlist_begin(); t != src.termlist_end(); ++t) {
    const std::string term = *t;
    for (auto p = t.positionlist_begin(); p != t.positionlist_end(); ++p) {
      d.add_posting(term, *p, 0);
    }
    d.add_term(term, t.get_wdf());
  }
  return d;
}

// The language (from its XS{site}:{lang} term) and the title (from its data) of a document.
std::pair<std::string, std::string> LanguageAndTitle(const Xapian::Document& doc) {
  std::string lang, title;
  auto t = doc.termlist_begin();
  t.skip_to("XS");
  if (t != doc.termlist_end() && (*t).rfind("XS", 0) == 0) {
    const std::string term = *t;
    lang = term.substr(term.find(':') + 1);
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(doc.get_data(), ec);
  if (!ec && v.is_object()) {
    const boost::json::value* c = v.as_object().if_contains("c");
    const boost::json::value* tv =
        c != nullptr && c->is_object() ? c->as_object().if_contains("title") : nullptr;
    if (tv != nullptr && tv->is_string()) title = tv->as_string();
  }
  return {lang, title};
}

}  // namespace

Result<int64_t> LiveGeneration(const std::string& dir) {
  std::error_code ec;
  fs::path target = fs::read_symlink(fs::path(dir) / "current", ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return int64_t{0};
    return MakeError(ErrorCode::kUnavailable, "cannot read {}/current: {}", dir, ec.message());
  }
  int64_t g = GenerationOf(target.filename().string());
  if (g == 0) {
    return MakeError(ErrorCode::kFailedPrecondition, "{}/current points at '{}', not a generation",
                     dir, target.string());
  }
  return g;
}

std::string GenerationDir(const std::string& dir, int64_t generation) {
  return fmt::format("{}/g{}", dir, generation);
}
std::string ShardPath(const std::string& dir, int64_t generation, int shard) {
  return fmt::format("{}/g{}/shard-{}", dir, generation, shard);
}
std::string LiveShardPath(const std::string& dir, int shard) {
  return fmt::format("{}/current/shard-{}", dir, shard);
}

int CountShards(const std::string& dir, int64_t generation) {
  int n = 0;
  while (fs::exists(ShardPath(dir, generation, n))) ++n;
  return n;
}

Status Publish(const std::string& dir, int64_t generation) {
  auto old = LiveGeneration(dir);
  const fs::path tmp = fs::path(dir) / fmt::format(".current-{}", getpid());
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_symlink(fmt::format("g{}", generation), tmp, ec);
  if (!ec) fs::rename(tmp, fs::path(dir) / "current", ec);
  if (ec) {
    return MakeError(ErrorCode::kUnavailable, "cannot publish generation {} in {}: {}", generation,
                     dir, ec.message());
  }
  // Readers of the generation just replaced may still be finishing a query on it; the
  // ones before it have had a whole reindex to move on.
  for (int64_t g : GenerationsOnDisk(dir)) {
    if (g != generation && (!old.ok() || g != *old)) fs::remove_all(GenerationDir(dir, g), ec);
  }
  return Ok();
}

IndexWriter::IndexWriter(WriterOptions options, int64_t generation)
    : options_(std::move(options)), generation_(generation) {}
IndexWriter::IndexWriter(IndexWriter&&) noexcept = default;
IndexWriter& IndexWriter::operator=(IndexWriter&&) noexcept = default;
IndexWriter::~IndexWriter() { Close(); }

Status IndexWriter::OpenShards(bool create) {
  if (options_.shards < 1 || options_.shards > 256) {
    return MakeError(ErrorCode::kInvalidArgument, "search.shards must be 1-256, got {}",
                     options_.shards);
  }
  int flags = create ? Xapian::DB_CREATE : Xapian::DB_OPEN;
  if (!options_.fsync) flags |= Xapian::DB_NO_SYNC;
  try {
    for (int i = 0; i < options_.shards; ++i) {
      dbs_.emplace_back(ShardPath(options_.dir, generation_, i), flags);
    }
    learned_.resize(dbs_.size());
  } catch (const Xapian::Error& e) {
    dbs_.clear();
    return XapianError(
        e, fmt::format("cannot open the index generation {} in {}", generation_, options_.dir));
  }
  return Ok();
}

Result<IndexWriter> IndexWriter::OpenLive(const WriterOptions& options) {
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) {
    return MakeError(ErrorCode::kUnavailable, "cannot create {}: {}", options.dir, ec.message());
  }
  TQ_ASSIGN_OR_RETURN(int64_t live, LiveGeneration(options.dir));
  if (live == 0) {
    TQ_ASSIGN_OR_RETURN(IndexWriter w, CreateAside(options));
    TQ_RETURN_IF_ERROR(w.Commit());
    TQ_RETURN_IF_ERROR(Publish(options.dir, w.generation()));
    return w;
  }
  int have = CountShards(options.dir, live);
  if (have != options.shards) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "the index in {} has {} shards and search.shards is {}; run `taquilla "
                     "reindex` to rebuild it with {}",
                     options.dir, have, options.shards, options.shards);
  }
  IndexWriter w(options, live);
  TQ_RETURN_IF_ERROR(w.OpenShards(false));
  return w;
}

Result<IndexWriter> IndexWriter::CreateAside(const WriterOptions& options) {
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  auto gens = GenerationsOnDisk(options.dir);
  TQ_ASSIGN_OR_RETURN(int64_t live, LiveGeneration(options.dir));
  int64_t next = std::max(live, gens.empty() ? int64_t{0} : *gens.rbegin()) + 1;
  fs::create_directories(GenerationDir(options.dir, next), ec);
  if (ec) {
    return MakeError(ErrorCode::kUnavailable, "cannot create {}: {}",
                     GenerationDir(options.dir, next), ec.message());
  }
  IndexWriter w(options, next);
  TQ_RETURN_IF_ERROR(w.OpenShards(true));
  return w;
}

Status IndexWriter::Replace(std::span<const int64_t> ids, std::span<const EventDoc> docs) {
  try {
    std::set<std::string> existed;
    for (int64_t id : ids) {
      auto& db = ShardOf(id);
      const std::string term = EventTerm(id);
      for (auto it = db.postlist_begin(term); it != db.postlist_end(term); ++it) {
        Xapian::Document old = db.get_document(*it);
        auto t = old.termlist_begin();
        t.skip_to("Q");
        if (t != old.termlist_end() && (*t)[0] == 'Q') existed.insert(*t);
      }
      db.delete_document(term);
    }
    for (const auto& d : docs) {
      auto& db = ShardOf(d.id);
      Place(d.id, d.site, d.lang, ToXapian(d, generator_));
      if (!existed.count(UniqueTerm(d.site, d.lang, d.id))) {
        // Spelling suggestions learn each title once, when its document first appears.
        LearnSpelling(speller_, db, d.lang, d.title, learned_[ShardIndex(d.id)]);
      }
    }
  } catch (const Xapian::Error& e) {
    return XapianError(e, "cannot update the index");
  }
  return Ok();
}

Status IndexWriter::Add(std::span<const EventDoc> docs) {
  try {
    for (const auto& d : docs) {
      auto& db = ShardOf(d.id);
      Place(d.id, d.site, d.lang, ToXapian(d, generator_));
      LearnSpelling(speller_, db, d.lang, d.title, learned_[ShardIndex(d.id)]);
    }
  } catch (const Xapian::Error& e) {
    return XapianError(e, "cannot add to the index");
  }
  return Ok();
}

Result<size_t> IndexWriter::CopyOtherLanguages(const std::string& dir, int64_t from,
                                               const std::string& lang) {
  size_t copied = 0;
  try {
    // The old generation may have another shard count: read all of its shards.
    const int old_shards = CountShards(dir, from);
    for (int s = 0; s < old_shards; ++s) {
      Xapian::Database old(ShardPath(dir, from, s));
      // The indexer keeps committing to the generation being copied, and a reader's
      // revision is discarded two commits later: reopen and go on from the next document.
      // A document the indexer rewrites meanwhile is copied under its unique term (no
      // duplicate), and its event is queued again after the swap (see indexer.h).
      Xapian::docid next = 1;
      for (int reopened = 0;; ++reopened) {
        try {
          auto p = old.postlist_begin("");
          if (next > 1) p.skip_to(next);
          for (; p != old.postlist_end(""); next = *p + 1, ++p) {
            next = *p;  // not done until the loop moves on
            Xapian::Document doc = old.get_document(*p);
            auto [doc_lang, title] = LanguageAndTitle(doc);
            if (doc_lang == lang) continue;
            auto t = doc.termlist_begin();
            t.skip_to("Q");
            if (t == doc.termlist_end() || (*t)[0] != 'Q') continue;
            const std::string unique = *t;
            t.skip_to("XE");
            if (t == doc.termlist_end() || (*t).rfind("XE", 0) != 0) continue;
            const int64_t id = std::stoll((*t).substr(2));
            // Read all of it before writing: a DatabaseModifiedError inside a write makes
            // Xapian cancel every uncommitted change of this generation, not just the
            // document's.
            Xapian::Document copy = Materialize(doc);
            auto& db = ShardOf(id);
            // Under its unique term: a document the indexer rewrote meanwhile is seen twice.
            db.delete_document(unique);
            const std::string sl = unique.substr(1, unique.rfind(':') - 1);  // site:lang
            Place(id, sl.substr(0, sl.find(':')), sl.substr(sl.find(':') + 1), copy);
            // The spelling dictionary is not part of the documents: learn their titles again.
            if (!title.empty())
              LearnSpelling(speller_, db, doc_lang, title, learned_[ShardIndex(id)]);
            ++copied;
          }
          break;
        } catch (const Xapian::DatabaseModifiedError&) {
          if (reopened >= 10'000) throw;
          old.reopen();
        }
      }
    }
  } catch (const Xapian::Error& e) {
    return XapianError(e, "cannot copy the index");
  }
  return copied;
}

uint32_t IndexWriter::SiteLangBlock(size_t shard, const std::string& site,
                                    const std::string& lang) {
  constexpr uint32_t kMaxBlock = 4094;  // 4095 is the overflow block
  if (blocks_.size() != dbs_.size()) blocks_.resize(dbs_.size());
  const std::string key = site + ":" + lang;
  auto& known = blocks_[shard];
  if (auto it = known.find(key); it != known.end()) return it->second;
  auto& db = dbs_[shard];
  uint32_t block =
      static_cast<uint32_t>(std::strtoul(db.get_metadata("sl:" + key).c_str(), nullptr, 10));
  if (block == 0) {
    uint32_t next =
        static_cast<uint32_t>(std::strtoul(db.get_metadata("sl:next").c_str(), nullptr, 10));
    if (next == 0) next = 1;
    if (next > kMaxBlock) return 0;
    block = next;
    db.set_metadata("sl:" + key, std::to_string(block));
    db.set_metadata("sl:next", std::to_string(block + 1));
  }
  known.emplace(key, block);
  return block;
}

void IndexWriter::Place(int64_t id, const std::string& site, const std::string& lang,
                        const Xapian::Document& doc) {
  const size_t shard = ShardIndex(id);
  auto& db = dbs_[shard];
  const uint32_t low = static_cast<uint32_t>(id) & 0xFFFFF;
  auto free = [&db](Xapian::docid did) {
    auto it = db.postlist_begin("");
    it.skip_to(did);
    return it == db.postlist_end("") || *it != did;
  };
  for (uint32_t block : {SiteLangBlock(shard, site, lang), 4095u}) {
    if (block == 0) continue;
    const Xapian::docid did = (static_cast<Xapian::docid>(block) << 20) | low;
    if (did != 0 && free(did)) {
      db.replace_document(did, doc);
      return;
    }
  }
  db.add_document(doc);
}

Status IndexWriter::Commit() {
  try {
    for (auto& db : dbs_) db.commit();
  } catch (const Xapian::Error& e) {
    return XapianError(e, "cannot commit the index");
  }
  return Ok();
}

Result<size_t> IndexWriter::PurgeBefore(int64_t epoch) {
  size_t purged = 0;
  try {
    for (auto& db : dbs_) {
      Xapian::Enquire enquire(db);
      enquire.set_query(Xapian::Query(Xapian::Query::OP_VALUE_LE, kDate,
                                      Xapian::sortable_serialise(static_cast<double>(epoch))));
      enquire.set_weighting_scheme(Xapian::BoolWeight());
      Xapian::MSet m = enquire.get_mset(0, db.get_doccount());
      for (auto it = m.begin(); it != m.end(); ++it) {
        db.delete_document(*it);
        ++purged;
      }
    }
  } catch (const Xapian::Error& e) {
    return XapianError(e, "cannot purge past events");
  }
  return purged;
}

uint64_t IndexWriter::DocCount() const {
  uint64_t n = 0;
  for (const auto& db : dbs_) n += db.get_doccount();
  return n;
}

void IndexWriter::Close() {
  for (auto& db : dbs_) {
    try {
      db.close();
    } catch (const Xapian::Error&) {
    }
  }
  dbs_.clear();
}

}  // namespace taquilla::search
