#include "read/invalidator.h"

#include <optional>

#include "common/log.h"
#include "redis/client.h"

namespace taquilla::read {

namespace {
constexpr std::string_view kChannel = "__redis__:invalidate";
// Projection key kinds a rendered answer can be built from.
constexpr std::string_view kTracked[] = {"sites", "cats:", "ev:", "eo:", "venue:", "perf:", "z:"};
}  // namespace

Invalidator::Invalidator(InvalidatorOptions options, ResponseCache& cache,
                         std::function<void()> on_global)
    : options_(std::move(options)), cache_(cache), on_global_(std::move(on_global)) {}

Invalidator::~Invalidator() { Stop(); }

void Invalidator::Start() {
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void Invalidator::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Invalidator::Handle(std::string_view key) {
  messages_.fetch_add(1, std::memory_order_relaxed);
  const auto now = SteadyClock::now();
  std::string_view rest = key;
  if (rest.substr(0, options_.prefix.size()) == options_.prefix) {
    rest.remove_prefix(options_.prefix.size());
  }
  if (rest == "sites" || rest.substr(0, 5) == "cats:") {
    cache_.InvalidateAll(now);
    if (on_global_) on_global_();
    return;
  }
  cache_.Invalidate(key, now);
}

void Invalidator::Run() {
  auto log = Logger("read");
  auto backoff = std::chrono::milliseconds(50);
  bool first = true;
  while (!stop_) {
    if (!first) reconnects_.fetch_add(1, std::memory_order_relaxed);
    first = false;
    Session();
    cache_.Unconfirm();
    if (stop_) break;
    log->warn("cache invalidation channel to {} lost; the cache is bypassed until it is back",
              options_.replica_url);
    for (auto slept = std::chrono::milliseconds(0); slept < backoff && !stop_;
         slept += std::chrono::milliseconds(10)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

void Invalidator::Session() {
  auto sub = redis::Client::Connect(options_.replica_url);
  if (!sub.ok()) return;
  auto id = sub->Cmd("CLIENT", "ID");
  if (!id.ok() || !id->IsInteger()) return;
  auto subscribed = sub->Cmd("SUBSCRIBE", std::string(kChannel));
  if (!subscribed.ok()) return;
  auto tracker = redis::Client::Connect(options_.replica_url);
  if (!tracker.ok()) return;
  std::vector<std::string> argv = {
      "CLIENT", "TRACKING", "on", "REDIRECT", std::to_string(id->integer()), "BCAST"};
  for (auto kind : kTracked) {
    argv.push_back("PREFIX");
    argv.push_back(options_.prefix + std::string(kind));
  }
  auto tracking = tracker->Command(argv);
  if (!tracking.ok()) {
    Logger("read")->error("CLIENT TRACKING failed on {}: {}", options_.replica_url,
                          tracking.error().message);
    return;
  }
  // Whatever was cached before this channel existed may be stale.
  cache_.InvalidateAll(SteadyClock::now());
  if (on_global_) on_global_();

  std::optional<SteadyClock::time_point> previous_ping;  // sent time of ping k-1
  SteadyClock::time_point ping_sent = SteadyClock::now();
  sub->Append({"PING"});
  auto next_ping = ping_sent + options_.ping_interval;
  bool awaiting = true;
  while (!stop_) {
    auto now = SteadyClock::now();
    if (!awaiting && now >= next_ping) {
      ping_sent = now;
      sub->Append({"PING"});
      awaiting = true;
      next_ping = now + options_.ping_interval;
    }
    if (awaiting && now - ping_sent > options_.max_stale) return;  // the replica is stuck
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        (awaiting ? ping_sent + options_.max_stale : next_ping) - now);
    auto msg = sub->Poll(
        std::max(std::chrono::milliseconds(1), std::min(wait, std::chrono::milliseconds(10))));
    if (!msg.ok()) return;
    if (!*msg) continue;
    const redis::Reply& r = **msg;
    if (r.IsArray() && r.size() >= 3 && r[0].str() == "message") {
      redis::Reply keys = r[2];
      if (keys.IsNil()) {  // a flush: everything is gone
        cache_.InvalidateAll(SteadyClock::now());
        if (on_global_) on_global_();
      } else if (keys.IsArray()) {
        for (size_t i = 0; i < keys.size(); ++i) Handle(keys[i].str());
      } else if (keys.IsString()) {
        Handle(keys.str());
      }
    } else if (r.IsArray() && r.size() >= 2 && r[0].str() == "pong") {
      if (previous_ping) cache_.Confirm(*previous_ping);
      previous_ping = ping_sent;
      awaiting = false;
    }
  }
}

}  // namespace taquilla::read
