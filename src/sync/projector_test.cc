// Pure pieces of the projections: unit names (version keys, queue items), the Redis key
// schema, the ICU locale of a site language and exact currency conversion. The projector's
// queries are covered against a live server in sync_pgtest.cc.
#include "sync/projector.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "sync/keys.h"
#include "sync/unit.h"

namespace taquilla::sync {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// --- Unit ---

TEST(UnitTest, Names) {
  EXPECT_EQ(Unit::Sites().Name(), "sites");
  EXPECT_EQ(Unit::Categories().Name(), "cats");
  EXPECT_EQ(Unit::Event(12).Name(), "event:12");
  EXPECT_EQ(Unit::Venue(3).Name(), "venue:3");
  EXPECT_EQ(Unit::Performer(4).Name(), "performer:4");
  EXPECT_EQ(Unit::Event(kMax).Name(), "event:9223372036854775807");
  EXPECT_EQ(Unit::Offers(12).Name(), "offers:12");
}

TEST(UnitTest, AnEventsOffersAreTheEventForTheQueues) {
  EXPECT_EQ(Unit::Offers(12).Entity(), "event:12");
  EXPECT_EQ(Unit::Event(12).Entity(), "event:12");
  EXPECT_EQ(Unit::Venue(3).Entity(), "venue:3");
  EXPECT_EQ(Unit::Sites().Entity(), "sites");
}

TEST(UnitTest, ParseRoundTrips) {
  for (const Unit& u : {Unit::Sites(), Unit::Categories(), Unit::Event(1), Unit::Event(12),
                        Unit::Offers(12), Unit::Venue(3), Unit::Performer(4), Unit::Event(kMax),
                        Unit::Offers(kMax), Unit::Performer(1000000007)}) {
    auto parsed = Unit::Parse(u.Name());
    ASSERT_TRUE(parsed.has_value()) << u.Name();
    EXPECT_EQ(*parsed, u) << u.Name();
    EXPECT_EQ(parsed->Name(), u.Name());
  }
}

TEST(UnitTest, ParseRejects) {
  for (const char* bad : {"",
                          "site",
                          "categories",
                          "event",
                          "event:",
                          "event:0",
                          "event:-1",
                          "event:+1",
                          "event:12x",
                          "event: 12",
                          "event:12 ",
                          "event:1.5",
                          "event:0x10",
                          "event:9223372036854775808",
                          "event:99999999999999999999",
                          "venue:abc",
                          "foo:1",
                          "Event:1",
                          "EVENT:1",
                          "sites:1",
                          "cats:1",
                          ":1",
                          "event::1",
                          "performer",
                          "offers",
                          "offers:0",
                          "offer:1",
                          " sites",
                          "sites ",
                          "cats\n"}) {
    EXPECT_FALSE(Unit::Parse(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(UnitTest, OrdersByKindThenId) {
  EXPECT_LT(Unit::Sites(), Unit::Categories());
  EXPECT_LT(Unit::Categories(), Unit::Event(1));
  EXPECT_LT(Unit::Event(2), Unit::Event(10));
  EXPECT_LT(Unit::Event(99), Unit::Offers(1));
  EXPECT_LT(Unit::Offers(99), Unit::Venue(1));
  EXPECT_LT(Unit::Venue(99), Unit::Performer(1));
  EXPECT_NE(Unit::Venue(1), Unit::Performer(1));
}

// --- Keys ---

TEST(KeysTest, Schema) {
  Keys k("tq:");
  EXPECT_EQ(k.Sites(), "tq:sites");
  EXPECT_EQ(k.Categories("es", "en"), "tq:cats:es:en");
  EXPECT_EQ(k.Event("es", "pt-BR", 12), "tq:ev:es:pt-BR:12");
  EXPECT_EQ(k.Offers("mx", 12), "tq:eo:mx:12");
  EXPECT_EQ(k.Venue("en", 3), "tq:venue:en:3");
  EXPECT_EQ(k.Performer("en", 4), "tq:perf:en:4");
  EXPECT_EQ(k.ByDate("es"), "tq:z:es:date");
  EXPECT_EQ(k.ByPrice("es"), "tq:z:es:price");
  EXPECT_EQ(k.InCategory("es", 2), "tq:z:es:cat:2");
  EXPECT_EQ(k.AtVenue("es", 3), "tq:z:es:venue:3");
  EXPECT_EQ(k.OfPerformer("es", 4), "tq:z:es:perf:4");
  EXPECT_EQ(k.Version("event:12"), "tq:v:event:12");
  EXPECT_EQ(k.Owned("event:12"), "tq:own:event:12");
  EXPECT_EQ(k.AppliedLsn(), "tq:lsn");
  EXPECT_EQ(k.SyncState(), "tq:sync");
  EXPECT_EQ(k.ZsetRegistry(), "tq:zsets");
  EXPECT_EQ(k.Pattern("ev"), "tq:ev:*");
  EXPECT_EQ(Keys().prefix(), "tq:");
  EXPECT_EQ(Keys("t7:").Event("es", "es", 1), "t7:ev:es:es:1");
}

// --- SiteLocale ---

TEST(SiteLocaleTest, AddsTheSiteCountryAsRegion) {
  EXPECT_EQ(SiteLocale("es", "ES"), "es-ES");
  EXPECT_EQ(SiteLocale("es", "MX"), "es-MX");
  EXPECT_EQ(SiteLocale("en", "ES"), "en-ES");
  EXPECT_EQ(SiteLocale("ca", "ES"), "ca-ES");
  EXPECT_EQ(SiteLocale("fil", "PH"), "fil-PH");
}

TEST(SiteLocaleTest, KeepsARegionTheLanguageNames) {
  EXPECT_EQ(SiteLocale("pt-BR", "PT"), "pt-BR");
  EXPECT_EQ(SiteLocale("es-419", "US"), "es-419");
  EXPECT_EQ(SiteLocale("sr-Latn-RS", "BA"), "sr-Latn-RS");
}

TEST(SiteLocaleTest, AScriptIsNotARegion) {
  EXPECT_EQ(SiteLocale("zh-Hans", "CN"), "zh-Hans-CN");
  EXPECT_EQ(SiteLocale("zh-Hant", "TW"), "zh-Hant-TW");
  EXPECT_EQ(SiteLocale("sr-Latn", "RS"), "sr-Latn-RS");
}

// --- ConvertMinor ---

TEST(ConvertMinorTest, SameScale) {
  EXPECT_EQ(ConvertMinor(10000, 2, "0.920000000000", 2), 9200);  // 100.00 USD -> 92.00 EUR
  EXPECT_EQ(ConvertMinor(5000, 2, "0.92", 2), 4600);
  EXPECT_EQ(ConvertMinor(4500, 2, "18.500000000000", 2), 83250);  // EUR -> MXN
  EXPECT_EQ(ConvertMinor(150000, 2, "0.050000000000", 2), 7500);  // MXN -> EUR
  EXPECT_EQ(ConvertMinor(1234, 2, "1", 2), 1234);
  EXPECT_EQ(ConvertMinor(0, 2, "0.92", 2), 0);
}

TEST(ConvertMinorTest, IsExactWhereADoubleIsNot) {
  // 9,999,999,999.99 * 1.234567890123 = 12,345,678,901.21765...: 15+13 significant digits.
  EXPECT_EQ(ConvertMinor(999999999999, 2, "1.234567890123", 2), 1234567890122);
  EXPECT_EQ(ConvertMinor(kMax, 2, "1.000000000000", 2), kMax);
  EXPECT_EQ(ConvertMinor(1000000000000, 2, "18.500000000000", 2), 18500000000000);
  // 0.1 has no exact double; 3 x 0.10 is 0.30 here, not 0.30000000000000004.
  EXPECT_EQ(ConvertMinor(3, 2, "0.1", 4), 30);
}

TEST(ConvertMinorTest, RoundsHalfUp) {
  EXPECT_EQ(ConvertMinor(1, 2, "0.5", 2), 1);   // 0.005 -> 0.01
  EXPECT_EQ(ConvertMinor(3, 2, "0.5", 2), 2);   // 0.015 -> 0.02 (not to even)
  EXPECT_EQ(ConvertMinor(5, 2, "0.5", 2), 3);   // 0.025 -> 0.03
  EXPECT_EQ(ConvertMinor(45, 2, "0.1", 2), 5);  // 0.045 -> 0.05
  EXPECT_EQ(ConvertMinor(44, 2, "0.1", 2), 4);  // 0.044 -> 0.04
  EXPECT_EQ(ConvertMinor(1, 2, "0.49", 2), 0);  // 0.0049 -> 0.00
  EXPECT_EQ(ConvertMinor(1, 2, "0.499999999999", 2), 0);
  EXPECT_EQ(ConvertMinor(1, 2, "0.500000000000", 2), 1);
  EXPECT_EQ(ConvertMinor(123456789, 2, "0.000000000001", 2), 0);
}

TEST(ConvertMinorTest, ZeroDecimalCurrencies) {
  EXPECT_EQ(ConvertMinor(1000, 0, "0.006150000000", 2), 615);  // 1000 JPY -> 6.15 EUR
  EXPECT_EQ(ConvertMinor(1234, 2, "162.5", 0), 2005);          // 12.34 EUR -> 2005.25 JPY
  EXPECT_EQ(ConvertMinor(1, 2, "50", 0), 1);                   // 0.50 JPY -> 1 (half up)
  EXPECT_EQ(ConvertMinor(1, 2, "49.999999999999", 0), 0);
  EXPECT_EQ(ConvertMinor(500, 0, "9.2", 0), 4600);  // JPY -> ISK, both 0
  EXPECT_EQ(ConvertMinor(7, 0, "0.5", 0), 4);       // 3.5 -> 4
}

TEST(ConvertMinorTest, ThreeDecimalCurrencies) {
  EXPECT_EQ(ConvertMinor(1500, 3, "2.987", 2), 448);         // 1.500 KWD -> 4.4805 -> 4.48 EUR
  EXPECT_EQ(ConvertMinor(1000, 2, "0.334", 3), 3340);        // 10.00 EUR -> 3.340 KWD
  EXPECT_EQ(ConvertMinor(1, 3, "5", 2), 1);                  // 0.005 EUR -> 0.01 (half up)
  EXPECT_EQ(ConvertMinor(1, 3, "4.999", 2), 0);              // 0.004999 -> 0.00
  EXPECT_EQ(ConvertMinor(1, 2, "0.3335", 3), 3);             // 0.003335 -> 0.003
  EXPECT_EQ(ConvertMinor(1234, 3, "1.000000000000", 0), 1);  // 1.234 -> 1
  EXPECT_EQ(ConvertMinor(1500, 3, "1", 0), 2);               // 1.5 -> 2
}

TEST(ConvertMinorTest, OverflowIsNullopt) {
  EXPECT_EQ(ConvertMinor(kMax, 2, "2", 2), std::nullopt);
  EXPECT_EQ(ConvertMinor(kMax / 2 + 1, 2, "2.000000000000", 2), std::nullopt);
  EXPECT_EQ(ConvertMinor(kMax, 0, "1", 4), std::nullopt);  // x 10^4
  EXPECT_EQ(ConvertMinor(1000000000000, 0, "1000000", 4), std::nullopt);
  // A rate too long for the 128-bit numerator.
  EXPECT_EQ(ConvertMinor(1, 2, "1234567890123456789012345678901234567890", 2), std::nullopt);
  // amount x rate beyond 128 bits: must be caught, not wrap around.
  EXPECT_EQ(ConvertMinor(kMax, 0, "99999999999999999999999999999", 0), std::nullopt);
  EXPECT_EQ(ConvertMinor(kMax, 0, "9999999999999999999999999", 0), std::nullopt);
  // Just below the limit is fine.
  EXPECT_EQ(ConvertMinor(kMax / 2, 2, "2", 2), kMax - 1);
}

TEST(ConvertMinorTest, LongFractionsStayExact) {
  // exchange_rates.rate is numeric(24,12), but the function takes any exact decimal: a
  // rate with more decimals than 10^scale fits in 128 bits is still just a small number.
  EXPECT_EQ(ConvertMinor(100, 2, "0.000000000000000000000000000001", 2), 0);  // scale 30
  EXPECT_EQ(ConvertMinor(100, 2, "0.00000000000000000000000000000000000000001", 2), 0);
}

TEST(ConvertMinorTest, MalformedRateIsNullopt) {
  for (const char* bad : {"abc", "1.2.3", "-1", "1e3", "1,5", " 1", "0x10", "1/2"}) {
    EXPECT_EQ(ConvertMinor(100, 2, bad, 2), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace taquilla::sync
