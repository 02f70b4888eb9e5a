#include "i18n/money.h"

#include <unicode/locid.h>
#include <unicode/numberformatter.h>
#include <unicode/ucurr.h>
#include <unicode/unistr.h>

#include <map>
#include <memory>

namespace taquilla::i18n {

int MinorUnits(std::string_view currency) {
  if (currency.size() != 3) return 2;
  UChar code[4] = {static_cast<UChar>(currency[0]), static_cast<UChar>(currency[1]),
                   static_cast<UChar>(currency[2]), 0};
  UErrorCode status = U_ZERO_ERROR;
  int32_t digits = ucurr_getDefaultFractionDigits(code, &status);
  return U_FAILURE(status) ? 2 : digits;
}

std::string DecimalAmount(int64_t amount_minor, std::string_view currency) {
  int digits = MinorUnits(currency);
  bool negative = amount_minor < 0;
  uint64_t v = negative ? 0 - static_cast<uint64_t>(amount_minor) : amount_minor;
  std::string s = std::to_string(v);
  if (digits > 0) {
    if (s.size() <= static_cast<size_t>(digits)) s.insert(0, digits + 1 - s.size(), '0');
    s.insert(s.size() - digits, ".");
  }
  return negative ? "-" + s : s;
}

std::string FormatMoney(int64_t amount_minor, std::string_view currency, std::string_view locale) {
  thread_local std::map<std::string, std::unique_ptr<icu::number::LocalizedNumberFormatter>> cache;
  std::string key = std::string(locale) + "|" + std::string(currency);
  auto it = cache.find(key);
  std::string decimal = DecimalAmount(amount_minor, currency);
  if (it == cache.end()) {
    UErrorCode status = U_ZERO_ERROR;
    std::string cur(currency);
    icu::UnicodeString ucur = icu::UnicodeString::fromUTF8(cur);
    icu::CurrencyUnit unit(ucur.getTerminatedBuffer(), status);
    if (U_FAILURE(status)) return decimal + " " + cur;
    icu::Locale loc = icu::Locale::forLanguageTag(std::string(locale), status);
    if (U_FAILURE(status)) {
      status = U_ZERO_ERROR;
      loc = icu::Locale::getEnglish();
    }
    auto f = std::make_unique<icu::number::LocalizedNumberFormatter>(
        icu::number::NumberFormatter::withLocale(loc).unit(unit));
    it = cache.emplace(key, std::move(f)).first;
  }
  UErrorCode status = U_ZERO_ERROR;
  auto formatted = it->second->formatDecimal(decimal.c_str(), status);
  if (U_FAILURE(status)) return decimal + " " + std::string(currency);
  std::string out;
  formatted.toString(status).toUTF8String(out);
  return U_FAILURE(status) ? decimal + " " + std::string(currency) : out;
}

}  // namespace taquilla::i18n
