#include "redis/client.h"

#include <poll.h>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>

namespace taquilla::redis {

Reply Reply::Own(redisReply* r) {
  std::shared_ptr<redisReply> root(r, [](redisReply* p) {
    if (p != nullptr) freeReplyObject(p);
  });
  return Reply(root, r);
}

std::string Script::sha() const {
  std::lock_guard lock(mu_);
  return sha_;
}

void Script::set_sha(std::string sha) const {
  std::lock_guard lock(mu_);
  sha_ = std::move(sha);
}

Result<Client> Client::Connect(const std::string& url, std::chrono::milliseconds timeout) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed || parsed->scheme() != "redis" || parsed->host().empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'{}' is not a Redis URL (redis://[:password@]host:port[/db])", url);
  }
  std::string host = parsed->host();
  int port = 6379;
  if (parsed->has_port()) port = parsed->port_number();
  std::string password = parsed->has_password() ? std::string(parsed->password()) : "";
  std::string db;
  std::string path = parsed->path();
  if (path.size() > 1) db = path.substr(1);

  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  redisContext* c = redisConnectWithTimeout(host.c_str(), port, tv);
  if (c == nullptr) return MakeError(ErrorCode::kUnavailable, "redis {}: out of memory", url);
  if (c->err != 0) {
    Error e = MakeError(ErrorCode::kUnavailable, "redis {}: {}", url, c->errstr);
    redisFree(c);
    return e;
  }
  Client client(c, url);
  TQ_RETURN_IF_ERROR(client.SetTimeout(timeout));
  if (!password.empty()) TQ_RETURN_IF_ERROR(client.Cmd("AUTH", password));
  if (!db.empty()) TQ_RETURN_IF_ERROR(client.Cmd("SELECT", db));
  return client;
}

Error Client::ConnectionError(std::string_view what) {
  broken_ = true;
  const bool timeout = c_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
  return MakeError(timeout ? ErrorCode::kDeadlineExceeded : ErrorCode::kUnavailable,
                   "redis {}: {}: {}", url_, what,
                   c_->errstr[0] != '\0' ? c_->errstr : "connection lost");
}

Status Client::SetTimeout(std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  if (redisSetTimeout(c_.get(), tv) != REDIS_OK) return ConnectionError("set timeout");
  return Ok();
}

namespace {

void ToArgv(const std::vector<std::string>& argv, std::vector<const char*>& ptrs,
            std::vector<size_t>& lens) {
  ptrs.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
}

}  // namespace

Result<Reply> Client::Command(const std::vector<std::string>& argv) {
  if (broken_) return MakeError(ErrorCode::kUnavailable, "redis {}: connection is broken", url_);
  if (pending_ != 0) {
    return MakeError(ErrorCode::kInternal, "redis: Command with {} pipelined commands pending",
                     pending_);
  }
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  ToArgv(argv, ptrs, lens);
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(c_.get(), static_cast<int>(argv.size()), ptrs.data(), lens.data()));
  if (r == nullptr) return ConnectionError(argv.empty() ? "command" : argv[0]);
  Reply reply = Reply::Own(r);
  if (reply.IsError()) {
    return Error{ErrorCode::kInternal,
                 fmt::format("redis {}: {}", argv.empty() ? "" : argv[0], reply.str()), "redis"};
  }
  return reply;
}

void Client::Append(const std::vector<std::string>& argv) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  ToArgv(argv, ptrs, lens);
  if (redisAppendCommandArgv(c_.get(), static_cast<int>(argv.size()), ptrs.data(), lens.data()) !=
      REDIS_OK) {
    broken_ = true;
    return;
  }
  ++pending_;
}

Result<std::optional<Reply>> Client::Poll(std::chrono::milliseconds timeout) {
  if (broken_) return MakeError(ErrorCode::kUnavailable, "redis {}: connection is broken", url_);
  for (int done = 0; !done;) {
    if (redisBufferWrite(c_.get(), &done) != REDIS_OK) return ConnectionError("send");
  }
  auto take = [this]() -> Result<std::optional<Reply>> {
    void* raw = nullptr;
    if (redisGetReplyFromReader(c_.get(), &raw) != REDIS_OK) return ConnectionError("parse");
    if (raw == nullptr) return std::optional<Reply>();
    if (pending_ > 0) --pending_;
    return std::optional<Reply>(Reply::Own(static_cast<redisReply*>(raw)));
  };
  TQ_ASSIGN_OR_RETURN(std::optional<Reply> buffered, take());
  if (buffered) return buffered;
  pollfd p{.fd = c_->fd, .events = POLLIN, .revents = 0};
  int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (n < 0 && errno == EINTR) return std::optional<Reply>();
  if (n < 0) return ConnectionError("poll");
  if (n == 0) return std::optional<Reply>();
  if (redisBufferRead(c_.get()) != REDIS_OK) return ConnectionError("receive");
  return take();
}

Result<std::vector<Reply>> Client::Flush() {
  std::vector<Reply> replies;
  replies.reserve(pending_);
  if (broken_) {
    pending_ = 0;
    return MakeError(ErrorCode::kUnavailable, "redis {}: connection is broken", url_);
  }
  while (pending_ > 0) {
    void* raw = nullptr;
    if (redisGetReply(c_.get(), &raw) != REDIS_OK || raw == nullptr) {
      pending_ = 0;
      return ConnectionError("pipeline");
    }
    --pending_;
    replies.push_back(Reply::Own(static_cast<redisReply*>(raw)));
  }
  return replies;
}

Status Client::Preload(const Script& script) {
  TQ_ASSIGN_OR_RETURN(Reply r, Cmd("SCRIPT", "LOAD", script.source()));
  script.set_sha(std::string(r.str()));
  return Ok();
}

namespace {

std::vector<std::string> EvalArgv(std::string verb, const std::string& body,
                                  const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args) {
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back(std::move(verb));
  argv.push_back(body);
  argv.push_back(std::to_string(keys.size()));
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

}  // namespace

Result<Reply> Client::Eval(const Script& script, const std::vector<std::string>& keys,
                           const std::vector<std::string>& args) {
  std::string sha = script.sha();
  if (sha.empty()) {
    TQ_RETURN_IF_ERROR(Preload(script));
    sha = script.sha();
  }
  auto r = Command(EvalArgv("EVALSHA", sha, keys, args));
  if (!r.ok() && r.error().message.find("NOSCRIPT") != std::string::npos) {
    return Command(EvalArgv("EVAL", script.source(), keys, args));
  }
  return r;
}

void Client::AppendEval(const Script& script, const std::vector<std::string>& keys,
                        const std::vector<std::string>& args) {
  std::string sha = script.sha();
  if (sha.empty()) {
    Append(EvalArgv("EVAL", script.source(), keys, args));
  } else {
    Append(EvalArgv("EVALSHA", sha, keys, args));
  }
}

}  // namespace taquilla::redis
