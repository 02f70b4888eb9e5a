#include "search/document.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <xapian.h>

#include <boost/json.hpp>
#include <set>
#include <string>

namespace taquilla::search {
namespace {
namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr int64_t kNow = 1'800'000'000;  // 2027-01-15T08:00:00Z

constexpr const char* kContent =
    R"({"id":897,"slug":"x","title":"Dolu & The Sasos — Concierto 2027","title_lang":"es",)"
    R"("starts_at":"2027-03-03T20:30:00+01:00","timezone":"Europe/Madrid","status":"scheduled",)"
    R"("venue":{"id":424,"name":"Teatro Real","city":"Madrid","country":"ES"},)"
    R"("category":{"id":3,"name":"Pop"},"url":"/es/es/events/897-x",)"
    R"("description":"Una noche inolvidable","performers":[{"id":1,"name":"Dolu","slug":"dolu"},)"
    R"({"id":2,"name":"The Sasos","slug":"the-sasos"}]})";
constexpr const char* kOffers =
    R"({"min_price":{"amount_minor":19000,"currency":"EUR"},"tickets_available":34,"listings":[]})";
constexpr const char* kVenue =
    R"({"id":424,"name":"Teatro Real","latitude":40.418,"longitude":-3.711,"city":"Madrid"})";
constexpr const char* kCats =
    R"({"categories":[{"id":1,"name":"Música","children":[{"id":3,"name":"Pop","children":[]}]}]})";

// kContent with one field's JSON value replaced.
std::string ContentWith(const std::string& key, json::value v) {
  json::object o = json::parse(kContent).as_object();
  o[key] = std::move(v);
  return json::serialize(o);
}

std::map<int64_t, int64_t> Parents() {
  auto p = CategoryParents(kCats);
  EXPECT_TRUE(p.ok());
  return p.ok() ? *p : std::map<int64_t, int64_t>{};
}

// Builds a document that must exist.
EventDoc Build(std::string_view content = kContent, std::string_view offers = kOffers,
               std::string_view venue = kVenue,
               const std::map<int64_t, int64_t>& parents = {{3, 1}}, std::string_view site = "es",
               std::string_view lang = "es") {
  auto d = BuildEventDoc(site, lang, content, offers, venue, parents, kNow);
  if (!d.ok()) {
    ADD_FAILURE() << d.error().ToString();
    return EventDoc{};
  }
  if (!d->has_value()) {
    ADD_FAILURE() << "not searchable";
    return EventDoc{};
  }
  return **d;
}

TEST(CategoryParentsTest, EveryLevelOfTheTree) {
  auto p = CategoryParents(kCats);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(*p, (std::map<int64_t, int64_t>{{3, 1}}));

  auto deep = CategoryParents(
      R"({"categories":[{"id":1,"children":[{"id":3,"children":[{"id":7,"children":[]}]},)"
      R"({"id":4}]},{"id":2,"children":[{"id":5}]}]})");
  ASSERT_TRUE(deep.ok());
  EXPECT_EQ(*deep, (std::map<int64_t, int64_t>{{3, 1}, {4, 1}, {5, 2}, {7, 3}}));
}

TEST(CategoryParentsTest, EmptyAndMalformed) {
  auto empty = CategoryParents(R"({"categories":[]})");
  ASSERT_TRUE(empty.ok());
  EXPECT_THAT(*empty, IsEmpty());
  auto none = CategoryParents(R"({})");
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());
  for (const char* bad : {"", "{", "[]", "null", "\"categories\""}) {
    auto r = CategoryParents(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(BuildEventDocTest, ExtractsTheFields) {
  EventDoc d = Build(kContent, kOffers, kVenue, Parents());
  EXPECT_EQ(d.site, "es");
  EXPECT_EQ(d.lang, "es");
  EXPECT_EQ(d.id, 897);
  EXPECT_EQ(d.title, "Dolu & The Sasos — Concierto 2027");
  EXPECT_EQ(d.description, "Una noche inolvidable");
  EXPECT_EQ(d.status, "scheduled");
  EXPECT_EQ(d.starts_at, "2027-03-03T20:30:00+01:00");
  EXPECT_EQ(d.starts_epoch, 1'804'102'200);  // 2027-03-03T19:30:00Z
  EXPECT_EQ(d.month, "2027-03");
  EXPECT_EQ(d.category_id, 3);
  EXPECT_EQ(d.category_name, "Pop");
  EXPECT_THAT(d.category_path, ElementsAre(3, 1));
  EXPECT_EQ(d.venue_id, 424);
  EXPECT_EQ(d.venue_name, "Teatro Real");
  EXPECT_EQ(d.city, "Madrid");
  EXPECT_EQ(d.country, "ES");
  EXPECT_THAT(d.performers, ElementsAre("Dolu", "The Sasos"));
  ASSERT_TRUE(d.latitude && d.longitude);
  EXPECT_DOUBLE_EQ(*d.latitude, 40.418);
  EXPECT_DOUBLE_EQ(*d.longitude, -3.711);
  EXPECT_EQ(d.min_price, 19000);
  EXPECT_EQ(d.tickets_available, 34);
  EXPECT_EQ(d.signature.size(), 16u);
  EXPECT_EQ(d.signature.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(BuildEventDocTest, MonthIsTheLocalOne) {
  // 00:30 on April 1st in Madrid is still March 31st in UTC.
  EventDoc d = Build(ContentWith("starts_at", "2027-04-01T00:30:00+02:00"));
  EXPECT_EQ(d.month, "2027-04");
  EXPECT_EQ(d.starts_epoch, 1'806'532'200);  // 2027-03-31T22:30:00Z
  // West of Greenwich: 2027-05-31T22:00 in New York is June 1st in UTC.
  d = Build(ContentWith("starts_at", "2027-05-31T22:00:00-04:00"));
  EXPECT_EQ(d.month, "2027-05");
  EXPECT_EQ(d.starts_epoch, 1'811'815'200);  // 2027-06-01T02:00:00Z
  // Z and fractional seconds.
  d = Build(ContentWith("starts_at", "2027-03-03T19:30:00.250Z"));
  EXPECT_EQ(d.starts_epoch, 1'804'102'200);
}

TEST(BuildEventDocTest, CategoryPathFollowsTheParents) {
  EventDoc d = Build(kContent, kOffers, kVenue, {{3, 2}, {2, 1}});
  EXPECT_THAT(d.category_path, ElementsAre(3, 2, 1));
  d = Build(kContent, kOffers, kVenue, {});
  EXPECT_THAT(d.category_path, ElementsAre(3));
  // A cycle in a broken tree does not loop forever.
  d = Build(kContent, kOffers, kVenue, {{3, 1}, {1, 3}});
  EXPECT_LE(d.category_path.size(), 32u);
  EXPECT_EQ(d.category_path.front(), 3);
  // Without a category: no path.
  d = Build(ContentWith("category", nullptr));
  EXPECT_EQ(d.category_id, 0);
  EXPECT_THAT(d.category_path, IsEmpty());
}

TEST(BuildEventDocTest, MissingOffersAndVenue) {
  EventDoc d = Build(kContent, R"({"min_price":null,"tickets_available":0,"listings":[]})");
  EXPECT_FALSE(d.min_price.has_value());
  EXPECT_EQ(d.tickets_available, 0);
  json::value data = json::parse(d.data);
  EXPECT_TRUE(data.at("o").at("min_price").is_null());
  EXPECT_EQ(data.at("o").at("tickets_available").as_int64(), 0);

  d = Build(kContent, "", "");
  EXPECT_FALSE(d.min_price.has_value());
  EXPECT_EQ(d.tickets_available, 0);
  EXPECT_FALSE(d.latitude.has_value());
  EXPECT_FALSE(d.longitude.has_value());
  data = json::parse(d.data);
  EXPECT_TRUE(data.at("o").at("min_price").is_null());
  EXPECT_EQ(data.at("o").at("tickets_available").as_int64(), 0);

  // A venue without coordinates.
  d = Build(kContent, kOffers, R"({"id":424,"name":"Teatro Real"})");
  EXPECT_FALSE(d.latitude.has_value());
}

TEST(BuildEventDocTest, DataHoldsContentAndOffersSummary) {
  EventDoc d = Build();
  json::value data = json::parse(d.data);
  ASSERT_TRUE(data.is_object());
  EXPECT_EQ(data.as_object().size(), 2u);
  const json::object& c = data.at("c").as_object();
  EXPECT_EQ(c.at("id").as_int64(), 897);
  EXPECT_EQ(c.at("title").as_string(), "Dolu & The Sasos — Concierto 2027");
  EXPECT_EQ(c.at("url").as_string(), "/es/es/events/897-x");
  EXPECT_EQ(c.at("venue").at("name").as_string(), "Teatro Real");
  EXPECT_FALSE(c.contains("description"));
  EXPECT_FALSE(c.contains("performers"));
  const json::object& o = data.at("o").as_object();
  EXPECT_EQ(o.size(), 2u);  // no listings
  EXPECT_EQ(o.at("min_price").at("amount_minor").as_int64(), 19000);
  EXPECT_EQ(o.at("min_price").at("currency").as_string(), "EUR");
  EXPECT_EQ(o.at("tickets_available").as_int64(), 34);
}

TEST(BuildEventDocTest, NotSearchable) {
  auto cancelled =
      BuildEventDoc("es", "es", ContentWith("status", "cancelled"), kOffers, kVenue, {}, kNow);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_FALSE(cancelled->has_value());
  // Starting exactly at now, or before.
  auto at_now = BuildEventDoc("es", "es", ContentWith("starts_at", "2027-01-15T08:00:00Z"), kOffers,
                              kVenue, {}, kNow);
  ASSERT_TRUE(at_now.ok());
  EXPECT_FALSE(at_now->has_value());
  auto past = BuildEventDoc("es", "es", ContentWith("starts_at", "2026-03-03T20:30:00+01:00"),
                            kOffers, kVenue, {}, kNow);
  ASSERT_TRUE(past.ok());
  EXPECT_FALSE(past->has_value());
  // A second later is searchable; so is a postponed event.
  auto next = BuildEventDoc("es", "es", ContentWith("starts_at", "2027-01-15T08:00:01Z"), kOffers,
                            kVenue, {}, kNow);
  ASSERT_TRUE(next.ok());
  EXPECT_TRUE(next->has_value());
  auto postponed =
      BuildEventDoc("es", "es", ContentWith("status", "postponed"), kOffers, kVenue, {}, kNow);
  ASSERT_TRUE(postponed.ok());
  EXPECT_TRUE(postponed->has_value());
}

TEST(BuildEventDocTest, MalformedProjections) {
  auto expect_invalid = [](std::string_view content, std::string_view offers,
                           std::string_view venue) {
    auto d = BuildEventDoc("es", "es", content, offers, venue, {}, kNow);
    ASSERT_FALSE(d.ok()) << content << " | " << offers << " | " << venue;
    EXPECT_EQ(d.error().code, ErrorCode::kInvalidArgument);
  };
  for (const char* bad : {"", "{", "[]", "null", "42", "{\"id\":1,}"}) {
    expect_invalid(bad, kOffers, kVenue);
    expect_invalid(kContent, bad[0] == '\0' ? "{" : bad, kVenue);
    expect_invalid(kContent, kOffers, bad[0] == '\0' ? "[" : bad);
  }
  // No id, or an unreadable start.
  json::object no_id = json::parse(kContent).as_object();
  no_id.erase("id");
  expect_invalid(json::serialize(no_id), kOffers, kVenue);
  expect_invalid(ContentWith("id", "897"), kOffers, kVenue);
  expect_invalid(ContentWith("starts_at", "next tuesday"), kOffers, kVenue);
  expect_invalid(ContentWith("starts_at", nullptr), kOffers, kVenue);
  expect_invalid(ContentWith("starts_at", "2027-03-03T20:30:00+xx"), kOffers, kVenue);
}

TEST(BuildEventDocTest, SignatureFollowsEveryInput) {
  const std::string base = Build().signature;
  EXPECT_EQ(Build().signature, base);  // deterministic
  std::set<std::string> seen{base};
  auto differs = [&](const EventDoc& d, const char* what) {
    EXPECT_NE(d.signature, base) << what;
    EXPECT_TRUE(seen.insert(d.signature).second) << what << " collides";
  };
  differs(Build(ContentWith("title", "Otro título")), "title");
  differs(Build(ContentWith("starts_at", "2027-03-04T20:30:00+01:00")), "start");
  differs(Build(ContentWith("status", "postponed")), "status");
  differs(Build(ContentWith("description", "Otra descripción")), "description");
  differs(Build(ContentWith("performers", json::parse(R"([{"id":1,"name":"Dolu"}])"))),
          "performers");
  differs(Build(ContentWith("category", json::parse(R"({"id":3,"name":"Pop-Rock"})"))),
          "category name");
  differs(Build(ContentWith("venue", json::parse(R"({"id":424,"name":"Teatro Real",)"
                                                 R"("city":"Toledo","country":"ES"})"))),
          "city");
  differs(Build(kContent, R"({"min_price":{"amount_minor":18000,"currency":"EUR"},)"
                          R"("tickets_available":34,"listings":[]})"),
          "min price");
  differs(Build(kContent, R"({"min_price":null,"tickets_available":34,"listings":[]})"),
          "no min price");
  differs(Build(kContent, R"({"min_price":{"amount_minor":19000,"currency":"EUR"},)"
                          R"("tickets_available":33,"listings":[]})"),
          "tickets");
  differs(Build(kContent, kOffers, R"({"id":424,"latitude":40.419,"longitude":-3.711})"),
          "latitude");
  differs(Build(kContent, kOffers, R"({"id":424,"latitude":40.418,"longitude":-3.712})"),
          "longitude");
  differs(Build(kContent, kOffers, ""), "no venue location");
  differs(Build(kContent, kOffers, kVenue, {{3, 2}}), "category parents");
  // Listings are not part of the summary: they do not change the document.
  EXPECT_EQ(Build(kContent, R"({"min_price":{"amount_minor":19000,"currency":"EUR"},)"
                            R"("tickets_available":34,"listings":[{"id":5}]})")
                .signature,
            base);
}

TEST(ToXapianTest, TermsAndValues) {
  Xapian::TermGenerator generator;
  EventDoc d = Build(kContent, kOffers, kVenue, Parents());
  Xapian::Document doc = ToXapian(d, generator);
  std::set<std::string> terms(doc.termlist_begin(), doc.termlist_end());
  for (const std::string& t :
       {UniqueTerm("es", "es", 897), EventTerm(897), SiteLangTerm("es", "es"), CategoryTerm(3),
        CategoryTerm(1), std::string(kAvailableTerm)}) {
    EXPECT_TRUE(terms.count(t)) << t;
  }
  EXPECT_EQ(UniqueTerm("es", "es", 897), "Qes:es:897");
  EXPECT_EQ(EventTerm(897), "XE897");
  EXPECT_EQ(SiteLangTerm("ae", "ar"), "XSae:ar");
  EXPECT_EQ(CategoryTerm(3), "XC3");
  // Analysed text: the title, performers, venue and description (stemmed and unstemmed).
  for (const char* t :
       {"concierto", "Zconciert", "dolu", "sasos", "teatro", "madrid", "pop", "inolvidable"}) {
    EXPECT_TRUE(terms.count(t)) << t;
  }
  EXPECT_EQ(Xapian::sortable_unserialise(doc.get_value(kDate)), 1'804'102'200.0);
  EXPECT_EQ(Xapian::sortable_unserialise(doc.get_value(kPrice)), 19000.0);
  EXPECT_EQ(Xapian::sortable_unserialise(doc.get_value(kPriceSort)), 19000.0);
  EXPECT_EQ(Xapian::sortable_unserialise(doc.get_value(kTickets)), 34.0);
  EXPECT_EQ(doc.get_value(kCategory), "3|Pop");
  EXPECT_EQ(doc.get_value(kMonth), "2027-03");
  EXPECT_EQ(doc.get_value(kSignature), d.signature);
  Xapian::LatLongCoords coords;
  coords.unserialise(doc.get_value(kLatLong));
  ASSERT_EQ(coords.size(), 1u);
  // Xapian keeps about 0.01" of precision and longitudes in [0, 360).
  EXPECT_NEAR((*coords.begin()).latitude, 40.418, 1e-5);
  EXPECT_NEAR((*coords.begin()).longitude, 360 - 3.711, 1e-5);
  EXPECT_EQ(doc.get_data(), d.data);

  // Nothing on sale: no price, sorted last, not available; no venue: no location.
  EventDoc none = Build(kContent, "", "");
  Xapian::Document nd = ToXapian(none, generator);
  EXPECT_EQ(nd.get_value(kPrice), "");
  EXPECT_EQ(Xapian::sortable_unserialise(nd.get_value(kPriceSort)), 1e15);
  EXPECT_EQ(nd.get_value(kLatLong), "");
  std::set<std::string> nterms(nd.termlist_begin(), nd.termlist_end());
  EXPECT_FALSE(nterms.count(std::string(kAvailableTerm)));
}

}  // namespace
}  // namespace taquilla::search
