// taquilla-read-pgbench: the PostgreSQL reference of bench/read/run.sh, an HTTP server
// answering the read server's event request from PostgreSQL instead of Redis.
//
//   taquilla-read-pgbench --postgres URL --listen 127.0.0.1:PORT [--threads 4]
//
// It serves GET /api/v1/sites/{site}/events/{id}?lang=xx (lang optional: the site's
// default) on src/http/server.h (one I/O thread, `--threads` handler threads, each with
// its own libpq connection and its own sync::Projector). Every request does what sync
// does for the event, then what the read server does with the result:
//   1. Projector::Build(conn, {Event(id), Offers(id)}, now): the event, its sites, venue,
//      city and its names, category, the translations of every language its sites show,
//      performers, active listings and which languages have a translation, read in one
//      pipelined round trip (the connection's default isolation is REPEATABLE READ, so the
//      pipeline's implicit transaction reads one snapshot, as sync's builds do); the
//      small tables (sites, languages, categories, countries, currencies, exchange rates)
//      are cached per connection after its first request, as in sync;
//   2. of the documents built, the ev: document of the request's site language and the
//      eo: document of its site, joined and money-formatted by sync::ComposeEvent for the
//      site locale, serialized by http::JsonResponse: the read server's bytes exactly.
// Unknown sites or languages and events the site does not show answer 404 with the API's
// error shape. GET /healthz answers 200. SIGINT/SIGTERM stop it.
#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "db/pg.h"
#include "http/response.h"
#include "http/server.h"
#include "sync/compose.h"
#include "sync/keys.h"
#include "sync/projector.h"
#include "sync/unit.h"

namespace tq = taquilla;
namespace bhttp = tq::http::bhttp;

namespace {

struct SiteInfo {
  std::string country, default_language;
  std::vector<std::string> languages;
};

std::string g_url;
std::map<std::string, SiteInfo> g_sites;  // read once at startup, then only read
volatile std::sig_atomic_t g_stop = 0;

void OnSignal(int) { g_stop = 1; }

int64_t NowEpoch() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

tq::Result<tq::db::Connection> Connect() {
  TQ_ASSIGN_OR_RETURN(auto c, tq::db::Connection::Open(g_url));
  TQ_RETURN_IF_ERROR(
      c.Exec("SET application_name = 'taquilla-read-pgbench'; "
             "SET default_transaction_isolation = 'repeatable read'; "
             "SET default_transaction_read_only = on; SET jit = off"));
  return c;
}

// One handler thread's connection and projector.
struct ThreadState {
  std::optional<tq::db::Connection> conn;
  std::unique_ptr<tq::sync::Projector> projector;
};

tq::http::Response NotFound(std::string_view what, std::string_view id, std::string_view site) {
  return tq::http::ErrorResponse(tq::MakeReason(tq::ErrorCode::kNotFound, "not_found",
                                                "There is no {} {} on the site '{}'.", what, id,
                                                site));
}

std::optional<int64_t> ParseId(std::string_view text) {
  if (text.empty() || text.size() > 15 || text[0] == '0') return std::nullopt;
  int64_t v = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9') return std::nullopt;
    v = v * 10 + (ch - '0');
  }
  return v;
}

tq::http::Response Handle(const tq::http::Request& req, const tq::http::Peer&) {
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  std::string_view query = path.size() < target.size() ? target.substr(path.size() + 1) : "";
  if (path == "/healthz") return tq::http::JsonResponse(bhttp::status::ok, {{"status", "ok"}});
  if (req.method() != bhttp::verb::get) {
    return tq::http::ErrorResponse(bhttp::status::method_not_allowed, "method_not_allowed",
                                   "GET only.");
  }
  // /api/v1/sites/{site}/events/{id}
  constexpr std::string_view kPrefix = "/api/v1/sites/";
  if (path.substr(0, kPrefix.size()) != kPrefix) return NotFound("page", path, "");
  std::string_view rest = path.substr(kPrefix.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return NotFound("page", path, "");
  const std::string site(rest.substr(0, slash));
  rest = rest.substr(slash);
  constexpr std::string_view kEvents = "/events/";
  if (rest.substr(0, kEvents.size()) != kEvents) return NotFound("page", path, site);
  const std::string_view id_text = rest.substr(kEvents.size());
  std::string lang;
  for (size_t pos = 0; pos < query.size();) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view kv = query.substr(pos, amp - pos);
    if (kv.substr(0, 5) == "lang=") lang = std::string(kv.substr(5));
    pos = amp + 1;
  }
  auto s = g_sites.find(site);
  if (s == g_sites.end()) {
    return tq::http::ErrorResponse(
        tq::MakeReason(tq::ErrorCode::kNotFound, "unknown_site", "There is no site '{}'.", site));
  }
  if (lang.empty()) lang = s->second.default_language;
  if (std::find(s->second.languages.begin(), s->second.languages.end(), lang) ==
      s->second.languages.end()) {
    return tq::http::ErrorResponse(tq::MakeReason(tq::ErrorCode::kNotFound, "unknown_language",
                                                  "The site '{}' is not offered in '{}'.", site,
                                                  lang));
  }
  auto id = ParseId(id_text);
  if (!id) return NotFound("event", id_text, site);

  thread_local ThreadState ts;
  if (!ts.conn) {
    auto c = Connect();
    if (!c.ok()) return tq::http::ErrorResponse(c.error());
    ts.conn.emplace(std::move(*c));
    ts.projector = std::make_unique<tq::sync::Projector>(
        tq::sync::ProjectorOptions{.keys = tq::sync::Keys("tq:"), .grace_seconds = 86400});
  }
  auto states = ts.projector->Build(
      *ts.conn, {tq::sync::Unit::Event(*id), tq::sync::Unit::Offers(*id)}, NowEpoch());
  if (!states.ok()) {
    ts.conn.reset();  // reconnect on the next request
    return tq::http::ErrorResponse(states.error());
  }
  const tq::sync::Keys& keys = ts.projector->keys();
  const std::string content_key = keys.Event(site, lang, *id);
  const std::string offers_key = keys.Offers(site, *id);
  const std::string *content = nullptr, *offers = nullptr;
  for (const auto& st : *states) {
    for (const auto& [key, doc] : st.docs) {
      if (key == content_key) content = &doc;
      if (key == offers_key) offers = &doc;
    }
  }
  if (content == nullptr) return NotFound("event", id_text, site);
  auto ev = tq::sync::ComposeEvent(*content, offers ? std::string_view(*offers) : "",
                                   tq::sync::SiteLocale(lang, s->second.country),
                                   tq::sync::EventShape::kEvent);
  if (!ev.ok()) return tq::http::ErrorResponse(ev.error());
  return tq::http::JsonResponse(bhttp::status::ok, *ev);
}

int Usage() {
  std::fprintf(stderr,
               "usage: taquilla-read-pgbench --postgres URL --listen HOST:PORT [--threads N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen;
  int threads = 4;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (i + 1 >= argc) return Usage();
    if (a == "--postgres") {
      g_url = argv[++i];
    } else if (a == "--listen") {
      listen = argv[++i];
    } else if (a == "--threads") {
      threads = std::atoi(argv[++i]);
    } else {
      return Usage();
    }
  }
  const size_t colon = listen.rfind(':');
  if (g_url.empty() || colon == std::string::npos || threads < 1) return Usage();

  {
    auto c = Connect();
    if (!c.ok()) {
      std::fprintf(stderr, "taquilla-read-pgbench: %s\n", c.error().message.c_str());
      return 1;
    }
    auto sites = c->Exec(
        "SELECT s.code, s.country, s.default_language, sl.language_code FROM sites s "
        "JOIN site_languages sl ON sl.site_code = s.code WHERE s.active ORDER BY 1, sl.position");
    if (!sites.ok()) {
      std::fprintf(stderr, "taquilla-read-pgbench: %s\n", sites.error().message.c_str());
      return 1;
    }
    for (int i = 0; i < sites->rows(); ++i) {
      SiteInfo& s = g_sites[sites->GetString(i, 0)];
      s.country = sites->GetString(i, 1);
      s.default_language = sites->GetString(i, 2);
      s.languages.push_back(sites->GetString(i, 3));
    }
  }

  tq::http::ServerOptions o;
  o.host = listen.substr(0, colon);
  o.port = std::atoi(listen.c_str() + colon + 1);
  o.io_threads = 1;
  o.handler_threads = threads;
  o.server_name = "taquilla-read-pgbench";
  tq::http::Server server(o, Handle);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  if (auto st = server.Start(); !st.ok()) {
    std::fprintf(stderr, "taquilla-read-pgbench: %s\n", st.error().message.c_str());
    return 1;
  }
  std::fprintf(stderr, "taquilla-read-pgbench: listening on %s:%d, %d handler threads, %zu sites\n",
               o.host.c_str(), server.port(), threads, g_sites.size());
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server.Stop();
  return 0;
}
