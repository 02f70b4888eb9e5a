#include "i18n/money.h"

#include <gtest/gtest.h>

namespace taquilla::i18n {
namespace {

TEST(MoneyTest, DecimalAmountUsesTheCurrencysMinorUnits) {
  EXPECT_EQ(DecimalAmount(4500, "EUR"), "45.00");
  EXPECT_EQ(DecimalAmount(5, "EUR"), "0.05");
  EXPECT_EQ(DecimalAmount(4500, "JPY"), "4500");
  EXPECT_EQ(DecimalAmount(1234, "KWD"), "1.234");
  EXPECT_EQ(DecimalAmount(-150, "USD"), "-1.50");
}

TEST(MoneyTest, FormatsForTheLocale) {
  EXPECT_EQ(FormatMoney(4500, "EUR", "es"), "45,00\u00a0€");
  EXPECT_EQ(FormatMoney(4500, "EUR", "en"), "€45.00");
  EXPECT_EQ(FormatMoney(4500, "JPY", "ja"), "￥4,500");
  EXPECT_EQ(FormatMoney(123456789, "USD", "en"), "$1,234,567.89");
  // An unknown locale tag still formats.
  EXPECT_FALSE(FormatMoney(100, "EUR", "xx-invalid-!!").empty());
}

}  // namespace
}  // namespace taquilla::i18n
