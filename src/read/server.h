// ReadServer: `taquilla read`, the public half of the API and the public HTML pages,
// answered from a local Redis replica and the search index. It never opens a database
// connection.
//
// Requests are served by Boost.Beast on one io_context per I/O thread. A GET whose
// answer is in the ResponseCache (cache.h, kept current by the Invalidator) is answered
// on the I/O thread with no Redis round trip; anything else runs on a pool of handler
// threads, each with its own Redis connection and its own Searcher. Answers carry strong
// ETags (If-None-Match gives 304), are gzipped when the client accepts it, and HEAD gets
// GET's headers. Transactional paths (/login, /sell, /checkout/…, /api/v1/users…) answer
// 303 to the same path on the secure app. X-Taquilla-Min-LSN waits (bounded) until the
// replica has applied that commit, then reads the replica directly.
//
// Thread-safety: Start and Stop from one owning thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/config.h"
#include "common/result.h"
#include "search/searcher.h"

namespace taquilla::read {

struct ReadOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  int io_threads = 2;
  int handler_threads = 4;
  std::string replica_url;
  std::string prefix = "tq:";
  std::string secure_url;  // where transactional paths go (no trailing slash)
  search::SearcherOptions search;
  size_t cache_bytes = 64u << 20;
  std::chrono::milliseconds max_stale{500};
  std::chrono::milliseconds min_lsn_wait{1000};
  std::chrono::milliseconds ping_interval{50};
};

class ReadServer {
 public:
  explicit ReadServer(ReadOptions options);
  ~ReadServer();
  ReadServer(const ReadServer&) = delete;
  ReadServer& operator=(const ReadServer&) = delete;

  Status Start();
  int port() const;
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ReadOptions from the configuration (read.*, redis.replica_url, search.*).
Result<ReadOptions> ReadOptionsOf(const Config& config);
// The `taquilla read` subcommand: serves until SIGINT/SIGTERM. Returns the exit code.
int RunRead(const Config& config);

}  // namespace taquilla::read
