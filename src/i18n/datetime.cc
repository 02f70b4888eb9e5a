#include "i18n/datetime.h"

#include <unicode/datefmt.h>
#include <unicode/dtptngen.h>
#include <unicode/locid.h>
#include <unicode/smpdtfmt.h>
#include <unicode/timezone.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <map>
#include <memory>

namespace taquilla::i18n {

namespace {

icu::Locale LocaleOf(std::string_view tag) {
  UErrorCode status = U_ZERO_ERROR;
  icu::Locale l = icu::Locale::forLanguageTag(std::string(tag), status);
  return U_FAILURE(status) ? icu::Locale::getRoot() : l;
}

std::unique_ptr<icu::DateFormat> MakeFormat(std::string_view locale, std::string_view tz,
                                            DateStyle style) {
  icu::Locale loc = LocaleOf(locale);
  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<icu::DateFormat> f;
  auto skeleton = [&](const char* sk) -> std::unique_ptr<icu::DateFormat> {
    std::unique_ptr<icu::DateTimePatternGenerator> gen(
        icu::DateTimePatternGenerator::createInstance(loc, status));
    if (U_FAILURE(status)) return nullptr;
    icu::UnicodeString pattern = gen->getBestPattern(icu::UnicodeString(sk), status);
    if (U_FAILURE(status)) return nullptr;
    auto out = std::make_unique<icu::SimpleDateFormat>(pattern, loc, status);
    if (U_FAILURE(status)) return nullptr;
    return out;
  };
  switch (style) {
    case DateStyle::kDateTime:
      f.reset(icu::DateFormat::createDateTimeInstance(icu::DateFormat::kFull,
                                                      icu::DateFormat::kShort, loc));
      break;
    case DateStyle::kShortDate:
      f = skeleton("yMMMdE");
      break;
    case DateStyle::kMonthYear:
      f = skeleton("yMMMM");
      break;
    case DateStyle::kTime:
      f.reset(icu::DateFormat::createTimeInstance(icu::DateFormat::kShort, loc));
      break;
  }
  if (!f) return nullptr;
  std::unique_ptr<icu::TimeZone> zone(
      icu::TimeZone::createTimeZone(icu::UnicodeString::fromUTF8(std::string(tz))));
  f->adoptTimeZone(zone.release());
  return f;
}

icu::DateFormat* Cached(std::string_view locale, std::string_view tz, DateStyle style) {
  thread_local std::map<std::string, std::unique_ptr<icu::DateFormat>> cache;
  std::string key =
      std::string(locale) + "|" + std::string(tz) + "|" + std::to_string(static_cast<int>(style));
  auto it = cache.find(key);
  if (it == cache.end()) {
    if (cache.size() > 4096) cache.clear();
    it = cache.emplace(key, MakeFormat(locale, tz, style)).first;
  }
  return it->second.get();
}

std::string Utf8(const icu::UnicodeString& s) {
  std::string out;
  s.toUTF8String(out);
  return out;
}

}  // namespace

std::string FormatDate(int64_t epoch_seconds, std::string_view time_zone, std::string_view locale,
                       DateStyle style) {
  icu::DateFormat* f = Cached(locale, time_zone, style);
  if (f == nullptr) return std::to_string(epoch_seconds);
  icu::UnicodeString out;
  f->format(static_cast<UDate>(epoch_seconds) * 1000.0, out);
  return Utf8(out);
}

std::string FormatYearMonth(std::string_view ym, std::string_view locale) {
  if (ym.size() != 7 || ym[4] != '-') return std::string(ym);
  int y = 0, m = 0;
  for (int i = 0; i < 4; ++i) {
    if (ym[i] < '0' || ym[i] > '9') return std::string(ym);
    y = y * 10 + (ym[i] - '0');
  }
  for (int i = 5; i < 7; ++i) {
    if (ym[i] < '0' || ym[i] > '9') return std::string(ym);
    m = m * 10 + (ym[i] - '0');
  }
  if (m < 1 || m > 12) return std::string(ym);
  // The 15th at noon UTC is in that month in every zone.
  int64_t days = 0;
  {
    // days from civil (Howard Hinnant)
    int yy = m <= 2 ? y - 1 : y;
    const int era = (yy >= 0 ? yy : yy - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(yy - era * 400);
    const unsigned doy = (153 * static_cast<unsigned>(m + (m > 2 ? -3 : 9)) + 2) / 5 + 15 - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    days = static_cast<int64_t>(era) * 146097 + static_cast<int64_t>(doe) - 719468;
  }
  return FormatDate(days * 86400 + 12 * 3600, "UTC", locale, DateStyle::kMonthYear);
}

std::string LanguageName(std::string_view tag) {
  icu::Locale l = LocaleOf(tag);
  icu::UnicodeString name;
  l.getDisplayName(l, name);
  if (name.isEmpty()) return std::string(tag);
  UChar32 first = name.char32At(0);
  UChar32 title = u_totitle(first);
  if (title != first) name.replace(0, U16_LENGTH(first), title);
  return Utf8(name);
}

}  // namespace taquilla::i18n
