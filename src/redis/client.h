// A synchronous Redis client over hiredis (its redisReader parses RESP): commands as argv
// vectors (binary-safe), pipelining, Lua scripts by SHA with a NOSCRIPT fallback, and
// Result errors. A Client owns one connection and is used by one thread at a time; move
// it, don't share it. A connection error leaves it broken(): callers reconnect.
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace taquilla::redis {

// One reply, shared-owned (copies are cheap and refer to the same hiredis tree).
class Reply {
 public:
  Reply() = default;

  bool IsNil() const { return r_ == nullptr || r_->type == REDIS_REPLY_NIL; }
  bool IsError() const { return r_ != nullptr && r_->type == REDIS_REPLY_ERROR; }
  bool IsString() const {
    return r_ != nullptr && (r_->type == REDIS_REPLY_STRING || r_->type == REDIS_REPLY_STATUS);
  }
  bool IsInteger() const { return r_ != nullptr && r_->type == REDIS_REPLY_INTEGER; }
  bool IsArray() const { return r_ != nullptr && r_->type == REDIS_REPLY_ARRAY; }

  std::string_view str() const {
    return IsString() || IsError() ? std::string_view(r_->str, r_->len) : std::string_view();
  }
  long long integer() const { return IsInteger() ? r_->integer : 0; }
  size_t size() const { return IsArray() ? r_->elements : 0; }
  // Element i of an array reply (shares ownership with this reply).
  Reply operator[](size_t i) const { return Reply(root_, r_->element[i]); }

 private:
  friend class Client;
  Reply(std::shared_ptr<redisReply> root, const redisReply* r) : root_(std::move(root)), r_(r) {}
  static Reply Own(redisReply* r);
  std::shared_ptr<redisReply> root_;
  const redisReply* r_ = nullptr;
};

// A Lua script: its source, and its SHA-1 once a server has told it (SCRIPT LOAD), so
// calls send EVALSHA and only a server that lacks the script gets the source again.
// Thread-safe: one Script may be shared by the clients of many threads.
class Script {
 public:
  explicit Script(std::string source) : source_(std::move(source)) {}
  const std::string& source() const { return source_; }
  std::string sha() const;
  void set_sha(std::string sha) const;

 private:
  std::string source_;
  mutable std::mutex mu_;
  mutable std::string sha_;
};

class Client {
 public:
  // url: redis://[:password@]host:port[/db]. Fails (kUnavailable) after `timeout`.
  static Result<Client> Connect(const std::string& url,
                                std::chrono::milliseconds timeout = std::chrono::seconds(2));

  Client(Client&&) noexcept = default;
  Client& operator=(Client&&) noexcept = default;

  // Runs one command. An error reply becomes an Error (kInternal, reason "redis") unless
  // allow_error_reply, so callers that expect errors can look at them.
  Result<Reply> Command(const std::vector<std::string>& argv);
  template <typename... Args>
  Result<Reply> Cmd(Args&&... args) {
    return Command(std::vector<std::string>{std::string(std::forward<Args>(args))...});
  }

  // Pipelining: Append queues a command; Flush sends every queued command and reads all
  // their replies in order (error replies are returned as replies, not as an Error).
  void Append(const std::vector<std::string>& argv);
  size_t pending() const { return pending_; }
  Result<std::vector<Reply>> Flush();

  // Pub/sub: sends anything queued with Append, then returns the next message the server
  // pushed (or the reply to a queued command, e.g. PING on a subscribed connection), or
  // nullopt when none arrives within `timeout`. A timeout leaves the connection usable.
  Result<std::optional<Reply>> Poll(std::chrono::milliseconds timeout);
  // EVALSHA, falling back to EVAL when the server does not have the script yet.
  Result<Reply> Eval(const Script& script, const std::vector<std::string>& keys,
                     const std::vector<std::string>& args);
  // Queues an EVALSHA (after Preload, the script is known to the server).
  void AppendEval(const Script& script, const std::vector<std::string>& keys,
                  const std::vector<std::string>& args);
  // SCRIPT LOAD, so pipelined EVALSHA calls do not meet NOSCRIPT.
  Status Preload(const Script& script);

  // Timeout for each read of a reply (0 = none, for blocking commands).
  Status SetTimeout(std::chrono::milliseconds timeout);

  bool broken() const { return broken_; }
  const std::string& url() const { return url_; }

 private:
  explicit Client(redisContext* c, std::string url) : c_(c, &redisFree), url_(std::move(url)) {}
  Error ConnectionError(std::string_view what);
  std::unique_ptr<redisContext, decltype(&redisFree)> c_;
  std::string url_;
  size_t pending_ = 0;
  bool broken_ = false;
};

}  // namespace taquilla::redis
