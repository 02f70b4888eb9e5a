#include "secure/app.h"

#include <signal.h>
#include <unicode/locid.h>
#include <unicode/unistr.h>

#include <condition_variable>
#include <cstdio>
#include <thread>

#include "common/log.h"
#include "db/pg.h"
#include "db/pool.h"
#include "http/server.h"
#include "secure/api.h"
#include "secure/market.h"
#include "secure/pages.h"
#include "stack/endpoints.h"

namespace taquilla::secure {

Result<std::pair<std::string, int>> SecureListen(const Config& config) {
  return stack::ListenAddress(config, config.secure.listen, stack::PortOffsets::kSecure);
}

namespace {

MarketOptions MarketOptionsOf(const Config& config) {
  MarketOptions o;
  o.hold_ttl = std::chrono::seconds(config.secure.hold_seconds);
  o.session_ttl = std::chrono::hours(config.secure.session_hours);
  o.fee_bp = config.secure.fee_bp;
  o.session_cache = std::chrono::seconds(config.secure.session_cache_seconds);
  return o;
}

}  // namespace

int RunSecure(const Config& config) {
  auto log = Logger("secure");
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto url = stack::ResolvePostgresUrl(config);
  if (!url.ok()) {
    log->error("{}", url.error().message);
    return 1;
  }
  auto listen = SecureListen(config);
  if (!listen.ok()) {
    log->error("{}", listen.error().message);
    return 2;
  }
  db::Pool pool(*url, config.secure.threads, std::chrono::milliseconds(2000));
  TestCardProvider payments;
  Market market(pool, SystemClock::Instance(), payments, MarketOptionsOf(config));
  ApiOptions api_options;
  api_options.cookie_secure = config.secure.cookie_secure == "true";
  api_options.login_failures_per_account = config.secure.login_failures_per_account;
  api_options.login_failures_per_client = config.secure.login_failures_per_client;
  SecureApi api(market, SystemClock::Instance(), api_options);
  AddPages(api);

  http::ServerOptions so;
  so.host = listen->first;
  so.port = listen->second;
  // Handlers block on PostgreSQL, so every I/O thread may run one: as many threads as
  // pooled connections, sharing one io_context, and no hop to a separate pool per request.
  so.io_threads = config.secure.threads;
  so.handler_threads = 0;
  http::Server server(so, [&api](const http::Request& req, const http::Peer& peer) {
    return api.Handle(req, peer);
  });
  if (Status s = server.Start(); !s.ok()) {
    log->error("{}", s.error().message);
    return 1;
  }
  log->info("secure app listening on http://{}:{} (PostgreSQL {})", so.host, server.port(), *url);

  // The sweeper: expired holds go back on sale within secure.sweep_seconds.
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::thread sweeper([&] {
    std::unique_lock lock(mu);
    while (!stopping) {
      cv.wait_for(lock, std::chrono::seconds(config.secure.sweep_seconds));
      if (stopping) break;
      lock.unlock();
      auto n = market.ExpireHolds();
      if (!n.ok()) {
        log->warn("hold sweep failed: {}", n.error().message);
      } else if (*n > 0) {
        log->info("expired {} holds; their tickets are back on sale", *n);
      }
      lock.lock();
    }
  });

  int sig = 0;
  sigwait(&signals, &sig);
  log->info("stopping on signal {}", sig);
  {
    std::lock_guard lock(mu);
    stopping = true;
  }
  cv.notify_all();
  sweeper.join();
  server.Stop();
  return 0;
}

Status CreateUser(const Config& config, const std::string& email, const std::string& password,
                  const std::string& display_name, const std::string& locale,
                  const std::string& role) {
  if (password.size() < 10) {
    return MakeError(ErrorCode::kInvalidArgument, "the password must be at least 10 characters");
  }
  TQ_ASSIGN_OR_RETURN(std::string url, stack::ResolvePostgresUrl(config));
  {
    // A new marketplace has no languages yet: the first account brings its own, named by
    // ICU in that language.
    TQ_ASSIGN_OR_RETURN(db::Connection conn, db::Connection::Open(url));
    UErrorCode status = U_ZERO_ERROR;
    icu::Locale loc = icu::Locale::forLanguageTag(locale, status);
    icu::UnicodeString uname;
    loc.getDisplayName(loc, uname);
    std::string name;
    uname.toUTF8String(name);
    if (U_SUCCESS(status) && !name.empty() && name != locale) {
      auto r = conn.ExecParams(
          "INSERT INTO languages (code, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
          {locale, name});
      if (!r.ok() && db::SqlStateOf(r.error()).rfind("23", 0) != 0) return r.error();
    }
  }
  db::Pool pool(url, 1, std::chrono::milliseconds(5000));
  TestCardProvider payments;
  Market market(pool, SystemClock::Instance(), payments, MarketOptionsOf(config));
  NewUser u{email, password, display_name, locale, role};
  auto r = market.Register(u);
  if (!r.ok()) return r.error();
  return Ok();
}

}  // namespace taquilla::secure
