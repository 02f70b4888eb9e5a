// ComposeEvent: the read side's join of an event's content and offers documents.
#include "sync/compose.h"

#include <gtest/gtest.h>

#include "i18n/money.h"

namespace taquilla::sync {
namespace {

namespace json = boost::json;

const char* kContent =
    R"({"id":7,"slug":"rock","title":"Rock","title_lang":"es","starts_at":"2027-01-02T20:00:00+01:00",)"
    R"("timezone":"Europe/Madrid","status":"scheduled","venue":{"id":1,"name":"V","city":"Madrid",)"
    R"("country":"ES"},"category":{"id":2,"name":"Música"},"url":"/es/es/events/7-rock",)"
    R"("description":"D","performers":[{"id":3,"name":"P","slug":"p"}]})";
const char* kOffers =
    R"({"min_price":{"amount_minor":4500,"currency":"EUR"},"tickets_available":5,"listings":[)"
    R"({"id":10,"section":"A","row":"1","seat_from":null,"seat_to":null,"quantity_available":2,)"
    R"("split":"any","delivery":"eticket","price":{"amount_minor":4500,"currency":"EUR"},)"
    R"("face_value":null,"display_price":null},)"
    R"({"id":11,"section":"B","row":"2","seat_from":1,"seat_to":3,"quantity_available":3,)"
    R"("split":"pairs","delivery":"paper","price":{"amount_minor":10000,"currency":"USD"},)"
    R"("face_value":{"amount_minor":9000,"currency":"USD"},)"
    R"("display_price":{"amount_minor":9200,"currency":"EUR"}}]})";

std::vector<std::string> KeysOf(const json::object& o) {
  std::vector<std::string> out;
  for (const auto& [k, v] : o) out.emplace_back(k);
  return out;
}

TEST(ComposeTest, EventHasTheApiShapeWithMoneyFormattedForTheLocale) {
  auto r = ComposeEvent(kContent, kOffers, "es-ES", EventShape::kEvent);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const json::object& ev = *r;
  EXPECT_EQ(KeysOf(ev), (std::vector<std::string>{"id", "slug", "title", "title_lang", "starts_at",
                                                  "timezone", "status", "venue", "category",
                                                  "min_price", "tickets_available", "url",
                                                  "description", "performers", "listings"}));
  EXPECT_EQ(ev.at("min_price").at("formatted").as_string(),
            i18n::FormatMoney(4500, "EUR", "es-ES"));
  EXPECT_EQ(ev.at("tickets_available").as_int64(), 5);
  const auto& ls = ev.at("listings").as_array();
  ASSERT_EQ(ls.size(), 2u);
  EXPECT_EQ(ls[0].at("id").as_int64(), 10);
  EXPECT_TRUE(ls[0].at("face_value").is_null());
  EXPECT_TRUE(ls[0].at("display_price").is_null());
  EXPECT_EQ(ls[1].at("price").at("formatted").as_string(),
            i18n::FormatMoney(10000, "USD", "es-ES"));
  EXPECT_EQ(ls[1].at("face_value").at("formatted").as_string(),
            i18n::FormatMoney(9000, "USD", "es-ES"));
  EXPECT_EQ(ls[1].at("display_price").at("formatted").as_string(),
            i18n::FormatMoney(9200, "EUR", "es-ES"));
  // Another locale formats the same offers its own way.
  auto en = ComposeEvent(kContent, kOffers, "en-ES", EventShape::kEvent);
  ASSERT_TRUE(en.ok());
  EXPECT_EQ(en->at("min_price").at("formatted").as_string(),
            i18n::FormatMoney(4500, "EUR", "en-ES"));
}

TEST(ComposeTest, SummaryLeavesOutDescriptionPerformersAndListings) {
  auto r = ComposeEvent(kContent, kOffers, "es-ES", EventShape::kSummary);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(KeysOf(*r), (std::vector<std::string>{"id", "slug", "title", "title_lang", "starts_at",
                                                  "timezone", "status", "venue", "category",
                                                  "min_price", "tickets_available", "url"}));
}

TEST(ComposeTest, MissingOffersReadAsNothingOnSale) {
  auto r = ComposeEvent(kContent, "", "es-ES", EventShape::kEvent);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->at("min_price").is_null());
  EXPECT_EQ(r->at("tickets_available").as_int64(), 0);
  EXPECT_TRUE(r->at("listings").as_array().empty());
}

TEST(ComposeTest, MalformedDocumentsAreErrors) {
  EXPECT_FALSE(ComposeEvent("", kOffers, "es-ES", EventShape::kEvent).ok());
  EXPECT_FALSE(ComposeEvent("[1]", kOffers, "es-ES", EventShape::kEvent).ok());
  EXPECT_FALSE(ComposeEvent(kContent, "{", "es-ES", EventShape::kEvent).ok());
  EXPECT_FALSE(ComposeEvent(kContent, "null", "es-ES", EventShape::kEvent).ok());
}

}  // namespace
}  // namespace taquilla::sync
