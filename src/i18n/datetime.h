// Dates, times and language names for people, by ICU for a locale ("es-ES", "ar-AE") and
// the event's time zone ("Europe/Madrid"). Formatters are cached per thread; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace taquilla::i18n {

enum class DateStyle {
  kDateTime,   // "sábado, 12 de diciembre de 2026, 19:00"
  kShortDate,  // "12 dic 2026"
  kMonthYear,  // "diciembre de 2026"
  kTime,       // "19:00"
};

// `epoch_seconds` shown in `time_zone` (an unknown zone shows UTC) for `locale`.
std::string FormatDate(int64_t epoch_seconds, std::string_view time_zone, std::string_view locale,
                       DateStyle style);
// "2026-12" (a month facet) as a month and year for `locale`, or the text as given.
std::string FormatYearMonth(std::string_view year_month, std::string_view locale);
// The name of a language in that language, capitalised: "Español", "日本語", "Português (Brasil)".
std::string LanguageName(std::string_view tag);

}  // namespace taquilla::i18n
