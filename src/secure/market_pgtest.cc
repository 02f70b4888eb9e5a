// Holds, orders and expiry against a real PostgreSQL, including the concurrency promise:
// nothing is ever oversold.
#include <atomic>
#include <thread>

#include "secure/rules.h"
#include "secure/secure_fixture.h"

namespace taquilla::secure {
namespace {

using MarketTest = SecureFixture;

TEST_F(MarketTest, ConcurrentHoldsNeverOversell) {
  int64_t listing = MakeListing(100);
  std::vector<std::string> tokens;
  for (auto email : {"buyer@t.test", "buyer2@t.test"}) tokens.push_back(Login(email));
  constexpr int kThreads = 20, kPerThread = 50;  // 1,000 one-ticket holds
  std::atomic<int> created{0}, conflicts{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      taquilla::testing::HttpClient client("127.0.0.1", server_->port());
      for (int i = 0; i < kPerThread; ++i) {
        auto r = client.Post("/api/v1/holds", {{"listing_id", listing}, {"quantity", 1}},
                             Bearer(tokens[t % tokens.size()]));
        if (r.status == 201) {
          ++created;
        } else if (r.status == 409 && r.error_code() == "not_enough_tickets") {
          ++conflicts;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 100);
  EXPECT_EQ(conflicts.load(), 900);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(Available(listing), 0);
  EXPECT_EQ(SqlInt("SELECT sum(quantity) FROM holds WHERE status = 'active' AND listing_id = " +
                   std::to_string(listing)),
            100);
  // Once the holds expire, the sweeper puts all 100 back on sale.
  clock_->Advance(std::chrono::seconds(601));
  auto n = market_->ExpireHolds();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 100);
  EXPECT_EQ(Available(listing), 100);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM holds WHERE status = 'active'"), 0);
}

TEST_F(MarketTest, ExpiredHoldsReturnLazilyOnTheNextHold) {
  int64_t listing = MakeListing(2);
  std::string t = Login("buyer@t.test");
  auto r = client_->Post("/api/v1/holds", {{"listing_id", listing}, {"quantity", 2}}, Bearer(t));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Available(listing), 0);
  r = client_->Post("/api/v1/holds", {{"listing_id", listing}, {"quantity", 1}}, Bearer(t));
  EXPECT_EQ(r.error_code(), "not_enough_tickets");
  clock_->Advance(std::chrono::seconds(600));  // exactly at expiry: expired
  r = client_->Post("/api/v1/holds", {{"listing_id", listing}, {"quantity", 1}}, Bearer(t));
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Available(listing), 1);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM holds WHERE status = 'expired'"), 1);
}

TEST_F(MarketTest, OrderingAnExpiredHoldIs410AndFreesTheTickets) {
  int64_t listing = MakeListing(4);
  std::string t = Login("buyer@t.test");
  auto r = client_->Post("/api/v1/holds", {{"listing_id", listing}, {"quantity", 3}}, Bearer(t));
  ASSERT_EQ(r.status, 201);
  int64_t hold = r.json().at("id").as_int64();
  clock_->Advance(std::chrono::seconds(601));
  r = client_->Post(
      "/api/v1/orders",
      {{"hold_id", hold}, {"payment", {{"method", "test_card"}, {"number", "4242424242424242"}}}},
      Bearer(t));
  EXPECT_EQ(r.status, 410);
  EXPECT_EQ(r.error_code(), "hold_expired");
  EXPECT_EQ(Available(listing), 4);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM orders"), 0);
}

TEST_F(MarketTest, DeclinedCardIs402AndTheHoldStays) {
  int64_t listing = MakeListing(4);
  std::string t = Login("buyer@t.test");
  auto r = client_->Post("/api/v1/holds", {{"listing_id", listing}, {"quantity", 2}}, Bearer(t));
  int64_t hold = r.json().at("id").as_int64();
  auto pay = [&](const char* number) {
    return client_->Post(
        "/api/v1/orders",
        {{"hold_id", hold}, {"payment", {{"method", "test_card"}, {"number", number}}}}, Bearer(t));
  };
  r = pay("4000000000000002");
  EXPECT_EQ(r.status, 402);
  EXPECT_EQ(r.error_code(), "payment_declined");
  EXPECT_EQ(SqlInt("SELECT count(*) FROM holds WHERE status = 'active'"), 1);
  r = pay("4242424242424242");
  ASSERT_EQ(r.status, 201) << r.body;
  auto o = r.json().as_object();
  EXPECT_EQ(o.at("status").as_string(), "paid");
  EXPECT_EQ(o.at("total").at("amount_minor").as_int64(), 2 * 5000 + FeeMinor(10000, 1000));
  EXPECT_EQ(o.at("total").at("currency").as_string(), "EUR");
  EXPECT_FALSE(r.header("x-taquilla-lsn").empty());
  // Paying twice is refused and charges nothing more.
  r = pay("4242424242424242");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM orders"), 1);
  EXPECT_EQ(Available(listing), 2);
}

TEST_F(MarketTest, HeldPriceIsWhatTheBuyerPays) {
  int64_t listing = MakeListing(2, "any", 5000);
  std::string t = Login("buyer@t.test");
  auto r = client_->Post("/api/v1/holds", {{"listing_id", listing}, {"quantity", 1}}, Bearer(t));
  int64_t hold = r.json().at("id").as_int64();
  auto p = client_->Send("PATCH", "/api/v1/listings/" + std::to_string(listing),
                         R"({"price_minor": 9000})", Bearer(seller_token_));
  ASSERT_EQ(p.status, 200) << p.body;
  r = client_->Post(
      "/api/v1/orders",
      {{"hold_id", hold}, {"payment", {{"method", "test_card"}, {"number", "4242424242424242"}}}},
      Bearer(t));
  ASSERT_EQ(r.status, 201);
  EXPECT_EQ(r.json().at("unit_price").at("amount_minor").as_int64(), 5000);
}

// The SQL of a hold and CheckSplit agree on every split, availability and count.
TEST_F(MarketTest, SqlSplitRuleMatchesCheckSplit) {
  std::string t = Login("buyer@t.test");
  for (std::string split : {"any", "pairs", "all", "no_single"}) {
    for (int available = 1; available <= 6; ++available) {
      if (split == "pairs" && available % 2) continue;
      for (int want = 1; want <= 7; ++want) {
        int64_t listing = MakeListing(available, split);
        auto r = client_->Post("/api/v1/holds", {{"listing_id", listing}, {"quantity", want}},
                               Bearer(t));
        SplitVerdict v = CheckSplit(split, available, want);
        std::string expect = v == SplitVerdict::kOk          ? ""
                             : v == SplitVerdict::kSplitRule ? "split_rule"
                                                             : "not_enough_tickets";
        EXPECT_EQ(r.status, expect.empty() ? 201 : 409)
            << split << " available " << available << " want " << want << ": " << r.body;
        EXPECT_EQ(r.error_code(), expect) << split << " " << available << " " << want;
      }
    }
  }
}

TEST_F(MarketTest, ReleasingAHoldPutsTicketsBack) {
  int64_t listing = MakeListing(5);
  std::string t = Login("buyer@t.test");
  std::string other = Login("buyer2@t.test");
  auto r = client_->Post("/api/v1/holds", {{"listing_id", listing}, {"quantity", 3}}, Bearer(t));
  std::string path = "/api/v1/holds/" + std::to_string(r.json().at("id").as_int64());
  EXPECT_EQ(client_->Send("DELETE", path, "", Bearer(other)).status, 404);
  EXPECT_EQ(client_->Get(path, Bearer(other)).status, 404);
  EXPECT_EQ(Available(listing), 2);
  EXPECT_EQ(client_->Get(path, Bearer(t)).status, 200);
  EXPECT_EQ(client_->Send("DELETE", path, "", Bearer(t)).status, 204);
  EXPECT_EQ(Available(listing), 5);
  r = client_->Send("DELETE", path, "", Bearer(t));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.error_code(), "hold_not_active");
}

TEST_F(MarketTest, CannotHoldOwnOrWithdrawnOrPastListings) {
  int64_t listing = MakeListing(4);
  auto r = client_->Post("/api/v1/holds", {{"listing_id", listing}, {"quantity", 1}},
                         Bearer(seller_token_));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.error_code(), "own_listing");
  std::string t = Login("buyer@t.test");
  EXPECT_EQ(
      client_
          ->Send("DELETE", "/api/v1/listings/" + std::to_string(listing), "", Bearer(seller_token_))
          .status,
      204);
  r = client_->Post("/api/v1/holds", {{"listing_id", listing}, {"quantity", 1}}, Bearer(t));
  EXPECT_EQ(r.error_code(), "listing_unavailable");
  r = client_->Post("/api/v1/holds", {{"listing_id", 999999}, {"quantity", 1}}, Bearer(t));
  EXPECT_EQ(r.status, 404);
  // A listing for a past event cannot be created.
  r = client_->Post("/api/v1/listings",
                    {{"event_id", 2}, {"quantity", 1}, {"price_minor", 100}, {"currency", "EUR"}},
                    Bearer(seller_token_));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.error_code(), "event_not_on_sale");
}

// A page past the last one still reports the total (count(*) OVER () has no row there).
TEST_F(MarketTest, BackofficeListsCountPastTheLastPage) {
  Sql("INSERT INTO performers (name, slug) VALUES ('A', 'a'), ('B', 'b'), ('C', 'c')");
  Page past;
  past.page = 5;
  past.per_page = 2;
  auto performers = market_->AdminListPerformers(past);
  ASSERT_TRUE(performers.ok());
  EXPECT_EQ(performers->at("total").as_int64(), 3);
  EXPECT_TRUE(performers->at("items").as_array().empty());
  auto venues = market_->AdminListVenues(past);
  ASSERT_TRUE(venues.ok());
  EXPECT_EQ(venues->at("total").as_int64(), 1);
}

}  // namespace
}  // namespace taquilla::secure
