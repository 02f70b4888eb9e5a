// The read side end to end: `taquilla up` with demo data (PostgreSQL, a Redis master and
// two replicas, sync, the indexer, the secure app, two read servers, HAProxy) on free
// ports in a temporary data dir, shared by the tests of this binary. Proves the JSON API
// and pages answer from the replicas (ETag/304, gzip, HEAD, 303s, errors), that the
// cache serves hot answers and follows every change, read-your-writes with
// X-Taquilla-Min-LSN, that killing a read server loses no request behind HAProxy, and —
// last — that the whole read side keeps answering with PostgreSQL stopped.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <thread>

#include "common/files.h"
#include "common/net.h"
#include "common/process.h"
#include "db/pg.h"
#include "testing/eventually.h"
#include "testing/http_client.h"
#include "testing/servers.h"

namespace taquilla {
namespace {
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using testing::Eventually;
using testing::HttpClient;
using testing::HttpReply;
using Steady = std::chrono::steady_clock;

json::value ParseFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return nullptr;
  boost::system::error_code ec;
  auto v = json::parse(*text, ec);
  return ec ? json::value(nullptr) : v;
}

// Every process whose parent is `pid`.
std::vector<pid_t> Children(pid_t pid) {
  std::vector<pid_t> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto stat = ReadFile(entry.path().string() + "/stat");
    if (!stat.ok()) continue;
    auto close = stat->rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat->substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == pid) out.push_back(std::stoi(name));
  }
  return out;
}

class Stack {
 public:
  static Stack& Get() {
    static Stack* s = new Stack();
    return *s;
  }
  bool ok() const { return ok_; }
  int base() const { return base_; }
  int public_port() const { return base_; }
  int read_port(int i) const { return base_ + 10 + i; }
  int secure_port() const { return base_ + 1; }
  std::string postgres() const { return postgres_; }
  pid_t ServicePid(const std::string& name) const {
    auto v = ParseFile(dir_ + "/state.json");
    if (!v.is_object()) return 0;
    const auto* s = v.at("services").as_object().if_contains(name);
    return s == nullptr ? 0 : static_cast<pid_t>(s->at("pid").as_int64());
  }
  std::string Log(const std::string& name) const {
    auto t = ReadFile(dir_ + "/logs/" + name + ".log");
    return t.ok() ? t->substr(t->size() > 4000 ? t->size() - 4000 : 0) : "";
  }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGINT);
    std::optional<int> status;
    Eventually([&] { return (status = TryReap(pid_)).has_value(); }, 120s);
    pid_ = 0;
    testing::RemoveTree(dir_);
    std::remove((dir_ + ".log").c_str());
  }

 private:
  Stack() {
    dir_ = testing::MakeTempDir("taquilla-read-e2e");
    base_ = testing::FreePortBase();
    if (base_ == 0) {
      std::fprintf(stderr, "no free port range\n");
      return;
    }
    SpawnOptions o;
    o.argv = {testing::TaquillaBin(),
              "--set",
              "read.max_stale_ms=200",
              "up",
              "--data-dir",
              dir_,
              "--port-base",
              std::to_string(base_),
              "--scale",
              "demo"};
    o.log_file = dir_ + ".log";
    auto p = Spawn(o);
    if (!p.ok()) return;
    pid_ = *p;
    const bool up = Eventually(
        [&] { return fs::exists(dir_ + "/endpoints.json") || TryReap(pid_).has_value(); }, 300s);
    if (!up || !fs::exists(dir_ + "/endpoints.json")) {
      auto log = ReadFile(dir_ + ".log");
      std::fprintf(stderr, "taquilla up did not start:\n%s\n", log.ok() ? log->c_str() : "");
      return;
    }
    postgres_ = std::string(ParseFile(dir_ + "/endpoints.json").at("postgres").as_string());
    // Every projection built (sync goes on building after it starts streaming).
    auto verify =
        RunCapture({testing::TaquillaBin(), "verify", "--data-dir", dir_, "--wait-ms", "120000"});
    if (!verify.ok() || verify->status != 0) {
      std::fprintf(stderr, "verify after start failed:\n%s\n",
                   verify.ok() ? verify->output.c_str() : verify.error().message.c_str());
      return;
    }
    // Ready: sync streams (its first build is done), both read servers say so and the
    // index holds the seeded events.
    ok_ = Eventually(
        [&] {
          HttpClient sync("127.0.0.1", base_ + 2);
          if (sync.Get("/metrics").body.find("taquilla_sync_streaming 1") == std::string::npos) {
            return false;
          }
          for (int i = 0; i < 2; ++i) {
            HttpClient c("127.0.0.1", read_port(i));
            if (c.Get("/readyz").status != 200) return false;
          }
          HttpClient c("127.0.0.1", public_port());
          auto r = c.Get("/api/v1/sites/es/search?per_page=1");
          return r.status == 200 && r.json().as_object().at("total").as_int64() > 0;
        },
        180s);
  }
  std::string dir_, postgres_;
  int base_ = 0;
  pid_t pid_ = 0;
  bool ok_ = false;
};

class ReadE2eTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() { Stack::Get().Stop(); }
  void SetUp() override { ASSERT_TRUE(Stack::Get().ok()) << "the stack did not start"; }
  Stack& stack() { return Stack::Get(); }

  // An upcoming scheduled event of site es with tickets on sale, from the read API.
  json::object SomeEvent(HttpClient& c) {
    auto r = c.Get("/api/v1/sites/es/events?sort=price&per_page=20");
    EXPECT_EQ(r.status, 200) << r.body;
    const json::value body = r.json();
    for (const auto& item : body.as_object().at("items").as_array()) {
      const auto& o = item.as_object();
      if (o.at("status") == "scheduled" && o.at("tickets_available").as_int64() >= 2) return o;
    }
    ADD_FAILURE() << "no event with tickets on site es";
    return {};
  }
  double Metric(int port, const std::string& name) {
    HttpClient c("127.0.0.1", port);
    std::istringstream lines(c.Get("/metrics").body);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind(name + " ", 0) == 0) return std::atof(line.c_str() + name.size() + 1);
    }
    return -1;
  }
};

TEST_F(ReadE2eTest, ApiAnswersFromTheReplica) {
  HttpClient c("127.0.0.1", stack().read_port(0));
  auto sites = c.Get("/api/v1/sites");
  ASSERT_EQ(sites.status, 200);
  EXPECT_GE(sites.json().as_object().at("sites").as_array().size(), 40u);

  json::object ev = SomeEvent(c);
  ASSERT_FALSE(ev.empty());
  const int64_t id = ev.at("id").as_int64();
  auto full = c.Get(fmt::format("/api/v1/sites/es/events/{}", id));
  ASSERT_EQ(full.status, 200) << full.body;
  const json::value full_body = full.json();
  const auto& e = full_body.as_object();
  EXPECT_EQ(e.at("id").as_int64(), id);
  ASSERT_TRUE(e.at("listings").is_array());
  ASSERT_FALSE(e.at("listings").as_array().empty());
  int64_t last = -1;
  for (const auto& l : e.at("listings").as_array()) {  // sorted by price
    const auto& price = l.as_object().at("price").as_object();
    EXPECT_TRUE(price.contains("formatted"));
    const int64_t amount = price.at("amount_minor").as_int64();
    if (!l.as_object().at("display_price").is_null()) continue;
    EXPECT_GE(amount, last);
    last = amount;
  }
  // ETag and 304; gzip; HEAD.
  const std::string etag = full.header("etag");
  ASSERT_FALSE(etag.empty());
  auto again = c.Get(fmt::format("/api/v1/sites/es/events/{}", id), {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  auto zipped = c.Get(fmt::format("/api/v1/sites/es/events/{}", id), {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(zipped.status, 200);
  if (full.body.size() >= 512) {
    EXPECT_EQ(zipped.header("content-encoding"), "gzip");
    EXPECT_LT(zipped.body.size(), full.body.size());
  }
  auto head = c.Send("HEAD", fmt::format("/api/v1/sites/es/events/{}", id));
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(head.header("etag"), etag);

  // Lists, categories, venue, performer, search.
  auto list = c.Get("/api/v1/sites/es/events?per_page=5&page=2");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.json().as_object().at("items").as_array().size(), 5u);
  EXPECT_GT(list.json().as_object().at("total").as_int64(), 10);
  auto cats = c.Get("/api/v1/sites/es/categories?lang=es");
  ASSERT_EQ(cats.status, 200);
  const json::value cats_body = cats.json();
  const auto& tree = cats_body.as_object().at("categories").as_array();
  ASSERT_FALSE(tree.empty());
  const int64_t cat = tree[0].as_object().at("id").as_int64();
  auto by_cat = c.Get(fmt::format("/api/v1/sites/es/events?category={}&sort=price", cat));
  ASSERT_EQ(by_cat.status, 200) << by_cat.body;
  const json::value by_cat_body = by_cat.json();
  for (const auto& item : by_cat_body.as_object().at("items").as_array()) {
    EXPECT_FALSE(item.as_object().at("min_price").is_null());
  }
  const int64_t venue = e.at("venue").as_object().at("id").as_int64();
  auto v = c.Get(fmt::format("/api/v1/sites/es/venues/{}", venue));
  ASSERT_EQ(v.status, 200) << v.body;
  bool listed = false;
  const json::value venue_body = v.json();
  for (const auto& item : venue_body.as_object().at("events").as_array()) {
    listed = listed || item.as_object().at("id").as_int64() == id;
  }
  EXPECT_TRUE(listed) << "the venue's events include the event";
  const auto& perfs = e.at("performers").as_array();
  if (!perfs.empty()) {
    auto p = c.Get(
        fmt::format("/api/v1/sites/es/performers/{}", perfs[0].as_object().at("id").as_int64()));
    EXPECT_EQ(p.status, 200) << p.body;
  }
  auto s = c.Get("/api/v1/sites/es/search?q=&per_page=3");
  ASSERT_EQ(s.status, 200);
  EXPECT_TRUE(s.json().as_object().contains("facets"));

  // Errors in the API's shape.
  EXPECT_EQ(c.Get("/api/v1/sites/zz/events").error_code(), "unknown_site");
  EXPECT_EQ(c.Get("/api/v1/sites/es/events?lang=xx").status, 404);
  EXPECT_EQ(c.Get("/api/v1/sites/es/events/999999999").status, 404);
  EXPECT_EQ(c.Get("/api/v1/sites/es/events/abc").status, 404);
  for (const char* bad :
       {"/api/v1/sites/es/events?page=0", "/api/v1/sites/es/events?per_page=1000",
        "/api/v1/sites/es/events?from=2026-13-45", "/api/v1/sites/es/events?sort=x",
        "/api/v1/sites/es/search?near=500,500", "/api/v1/sites/es/venues/1?page=-3"}) {
    auto r = c.Get(bad);
    EXPECT_EQ(r.status, 422) << bad << " " << r.body;
    EXPECT_EQ(r.error_code(), "invalid_parameter") << bad;
  }
  EXPECT_EQ(c.Send("POST", "/api/v1/sites/es/events", "{}").status, 405);

  // Transactional paths go to the secure app.
  for (const char* path : {"/login", "/checkout/12", "/api/v1/orders", "/account?x=1"}) {
    auto r = c.Get(path);
    EXPECT_EQ(r.status, 303) << path;
    EXPECT_EQ(r.header("location"),
              fmt::format("http://127.0.0.1:{}{}", stack().public_port(), path));
  }
  EXPECT_EQ(c.Get("/healthz").status, 200);
  EXPECT_EQ(c.Get("/readyz").status, 200);
  auto metrics = c.Get("/metrics").body;
  EXPECT_NE(metrics.find("taquilla_read_requests_total{route=\"api_event\",status=\"200\"}"),
            std::string::npos);
  EXPECT_NE(metrics.find("taquilla_read_request_seconds_bucket"), std::string::npos);
}

TEST_F(ReadE2eTest, PagesAreInTheSiteLanguageAndEscapeInput) {
  HttpClient c("127.0.0.1", stack().public_port());
  auto root = c.Get("/", {{"Accept-Language", "es-MX,es;q=0.9,en;q=0.5"}});
  EXPECT_EQ(root.status, 302);
  EXPECT_EQ(root.header("location"), "/mx/es/");
  auto de = c.Get("/", {{"Accept-Language", "de"}});
  EXPECT_EQ(de.header("location"), "/de/de/");

  auto home = c.Get("/es/es/");
  ASSERT_EQ(home.status, 200);
  EXPECT_NE(home.body.find("<html lang=\"es\" dir=\"ltr\">"), std::string::npos);
  EXPECT_NE(home.body.find("hreflang="), std::string::npos);
  auto ar = c.Get("/ae/ar/");
  ASSERT_EQ(ar.status, 200);
  EXPECT_NE(ar.body.find("<html lang=\"ar\" dir=\"rtl\">"), std::string::npos);

  HttpClient api("127.0.0.1", stack().read_port(1));
  json::object ev = SomeEvent(api);
  ASSERT_FALSE(ev.empty());
  const std::string url(ev.at("url").as_string());
  auto page = c.Get(url);
  ASSERT_EQ(page.status, 200) << url;
  EXPECT_NE(page.body.find("action=\"/hold\""), std::string::npos);
  EXPECT_NE(page.body.find("Comprar"), std::string::npos);  // es.json's event.buy
  auto by_id = c.Get(fmt::format("/es/es/events/{}", ev.at("id").as_int64()));
  EXPECT_EQ(by_id.status, 301);
  EXPECT_EQ(by_id.header("location"), url);

  // Reflected input is escaped; unknown things are 404 pages in the right language.
  auto xss = c.Get("/es/es/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E");
  EXPECT_EQ(xss.status, 200);
  EXPECT_EQ(xss.body.find("<script>alert(1)"), std::string::npos);
  EXPECT_NE(xss.body.find("&lt;script&gt;alert(1)"), std::string::npos);
  auto path_xss = c.Get("/es/es/events/%3Cscript%3Ealert(1)%3C%2Fscript%3E");
  EXPECT_EQ(path_xss.status, 404);
  EXPECT_EQ(path_xss.body.find("<script>alert"), std::string::npos);
  auto unknown_lang = c.Get("/es/xx/");
  EXPECT_EQ(unknown_lang.status, 404);
  EXPECT_NE(unknown_lang.body.find("lang=\"es\""), std::string::npos);
  auto unknown_site = c.Get("/zz/de/");
  EXPECT_EQ(unknown_site.status, 404);
  EXPECT_NE(unknown_site.body.find("lang=\"de\""), std::string::npos);
  EXPECT_EQ(c.Get("/es/es/events/999999999-nothing").status, 404);
  EXPECT_EQ(c.Get("/es/es/search?page=abc").status, 422);
  EXPECT_EQ(c.Get("/es/es/search?from=yesterday").status, 422);
  auto sitemap = c.Get("/es/sitemap.xml");
  ASSERT_EQ(sitemap.status, 200);
  EXPECT_NE(sitemap.body.find(url), std::string::npos);
  EXPECT_EQ(c.Get("/static/search.js").status, 200);
}

// A hot answer is served from the cache, and a change in PostgreSQL replaces it within
// the freshness bound (sync → master → replica → invalidation).
TEST_F(ReadE2eTest, CacheServesHotAnswersAndFollowsChanges) {
  const int port = stack().read_port(0);
  HttpClient c("127.0.0.1", port);
  json::object ev = SomeEvent(c);
  ASSERT_FALSE(ev.empty());
  const int64_t id = ev.at("id").as_int64();
  const std::string target = fmt::format("/api/v1/sites/es/events/{}", id);
  ASSERT_EQ(c.Get(target).status, 200);
  const double hits = Metric(port, "taquilla_read_cache_hits_total");
  for (int i = 0; i < 20; ++i) ASSERT_EQ(c.Get(target).status, 200);
  EXPECT_GE(Metric(port, "taquilla_read_cache_hits_total"), hits + 19);

  auto conn = db::Connection::Open(stack().postgres());
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  auto r = conn->ExecParams(
      "UPDATE listings SET price_minor = price_minor + 1 WHERE id = (SELECT id FROM listings "
      "WHERE event_id = $1 AND status = 'active' AND quantity_available > 0 ORDER BY price_minor "
      "LIMIT 1) RETURNING id, price_minor",
      {std::to_string(id)});
  ASSERT_TRUE(r.ok() && r->rows() == 1) << (r.ok() ? "no listing" : r.error().message);
  const int64_t listing = r->GetInt(0, 0), price = r->GetInt(0, 1);
  const auto changed = Steady::now();
  auto shows = [&] {
    auto got = c.Get(target);
    if (got.status != 200) return false;
    const json::value got_body = got.json();
    for (const auto& l : got_body.as_object().at("listings").as_array()) {
      const auto& o = l.as_object();
      if (o.at("id").as_int64() == listing) {
        return o.at("price").as_object().at("amount_minor").as_int64() == price;
      }
    }
    return false;
  };
  ASSERT_TRUE(Eventually(shows, 5s)) << "the cached event never showed the new price";
  const double ms = std::chrono::duration<double, std::milli>(Steady::now() - changed).count();
  std::fprintf(stderr, "a price change reached the cached event JSON in %.0f ms\n", ms);
  EXPECT_LT(ms, 2000);
  // And the new answer is cached again.
  const double after = Metric(port, "taquilla_read_cache_hits_total");
  ASSERT_TRUE(shows());
  EXPECT_GT(Metric(port, "taquilla_read_cache_hits_total"), after);
}

// Read-your-writes: a listing created on the secure app is on the read server at once
// when the request names the write's LSN.
TEST_F(ReadE2eTest, MinLsnGivesReadYourWrites) {
  HttpClient secure("127.0.0.1", stack().secure_port());
  auto login = secure.Post("/api/v1/sessions",
                           {{"email", "seller@example.test"}, {"password", "taquilla-demo"}});
  ASSERT_EQ(login.status, 201) << login.body;
  const std::string token(login.json().as_object().at("token").as_string());
  HttpClient c("127.0.0.1", stack().read_port(1));
  json::object ev = SomeEvent(c);
  ASSERT_FALSE(ev.empty());
  const int64_t id = ev.at("id").as_int64();
  const std::string target = fmt::format("/api/v1/sites/es/events/{}", id);
  ASSERT_EQ(c.Get(target).status, 200);  // cached now
  for (int round = 0; round < 5; ++round) {
    const std::string section = fmt::format("RYW-{}-{}", getpid(), round);
    auto made = secure.Post("/api/v1/listings",
                            {{"event_id", id},
                             {"section", section},
                             {"quantity", 2},
                             {"price_minor", 5000 + round},
                             {"currency", "EUR"},
                             {"split", "any"}},
                            {{"Authorization", "Bearer " + token}});
    ASSERT_EQ(made.status, 201) << made.body;
    const std::string lsn = made.header("x-taquilla-lsn");
    ASSERT_FALSE(lsn.empty());
    auto got = c.Get(target, {{"X-Taquilla-Min-LSN", lsn}});
    ASSERT_EQ(got.status, 200);
    EXPECT_NE(got.body.find(section), std::string::npos) << "round " << round;
  }
  EXPECT_EQ(c.Get(target, {{"X-Taquilla-Min-LSN", "not-an-lsn"}}).status, 400);
}

// docs/openapi.yaml's read operations, called on a read server, answer as documented.
TEST_F(ReadE2eTest, ReadOperationsMatchTheOpenApiSpec) {
  const char* src = getenv("TAQUILLA_TEST_SOURCE_DIR");
  const std::string dir = src != nullptr ? src : ".";
  auto r =
      RunCapture({access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3",
                  dir + "/tests/openapi/check_openapi.py", "--spec", dir + "/docs/openapi.yaml",
                  "--read-url", fmt::format("http://127.0.0.1:{}", stack().read_port(0))});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 0) << r->output;
  EXPECT_NE(r->output.find("read: "), std::string::npos) << r->output;
}

// Behind HAProxy, a read server killed under load loses no request.
TEST_F(ReadE2eTest, KillingAReadServerLosesNoRequest) {
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::string last_failure;
  std::mutex mu;
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      HttpClient c("127.0.0.1", stack().public_port());
      const char* paths[] = {"/api/v1/sites/es/events?per_page=3", "/es/es/", "/api/v1/sites"};
      for (int i = 0; !stop; ++i) {
        HttpReply r = c.Get(paths[(i + t) % 3]);
        if (r.status == 200) {
          ++ok;
        } else {
          ++failed;
          std::lock_guard lock(mu);
          last_failure = fmt::format("{} {}", r.status, r.body.substr(0, 200));
        }
      }
    });
  }
  ASSERT_TRUE(Eventually([&] { return ok.load() > 200; }, 30s));
  const pid_t victim = stack().ServicePid("read-0");
  ASSERT_GT(victim, 0);
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  const int before = ok.load();
  ASSERT_TRUE(Eventually([&] { return ok.load() > before + 500; }, 60s));
  // up restarts it; HAProxy takes it back once /readyz answers.
  ASSERT_TRUE(Eventually(
      [&] {
        pid_t now = stack().ServicePid("read-0");
        if (now == victim || now == 0) return false;
        HttpClient c("127.0.0.1", stack().read_port(0));
        return c.Get("/readyz").status == 200;
      },
      60s));
  stop = true;
  for (auto& t : clients) t.join();
  std::fprintf(stderr, "%d requests through HAProxy while read-0 was killed, %d failed\n",
               ok.load(), failed.load());
  EXPECT_EQ(failed.load(), 0) << last_failure;
}

// Last: with PostgreSQL stopped (SIGSTOP, so a connection attempt would hang rather than
// fail fast), every read page and endpoint still answers, from both read servers.
TEST_F(ReadE2eTest, ZzReadSideWorksWithPostgresStopped) {
  const pid_t pg = stack().ServicePid("postgres");
  ASSERT_GT(pg, 0);
  HttpClient api("127.0.0.1", stack().read_port(0));
  json::object ev = SomeEvent(api);
  ASSERT_FALSE(ev.empty());
  const std::string url(ev.at("url").as_string());
  std::vector<pid_t> stopped = {pg};
  for (pid_t child : Children(pg)) stopped.push_back(child);
  for (pid_t p : stopped) kill(p, SIGSTOP);
  struct Resume {
    std::vector<pid_t> pids;
    ~Resume() {
      for (pid_t p : pids) kill(p, SIGCONT);
    }
  } resume{stopped};
  for (int port : {stack().read_port(0), stack().read_port(1), stack().public_port()}) {
    HttpClient c("127.0.0.1", port);
    for (const std::string& path :
         {std::string("/es/es/"), url, std::string("/es/es/search?q=concierto"),
          std::string("/api/v1/sites"), std::string("/api/v1/sites/es/events?per_page=5"),
          fmt::format("/api/v1/sites/es/events/{}", ev.at("id").as_int64()),
          std::string("/api/v1/sites/es/search?q=&per_page=5"),
          std::string("/api/v1/sites/de/categories"), std::string("/readyz")}) {
      const auto start = Steady::now();
      auto r = c.Get(path, {{"Accept-Encoding", "gzip"}});
      EXPECT_EQ(r.status, 200) << port << " " << path;
      EXPECT_LT(Steady::now() - start, 2s) << port << " " << path;
    }
  }
}

}  // namespace
}  // namespace taquilla
