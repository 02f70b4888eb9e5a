// Money: integer minor units plus an ISO 4217 code, formatted by ICU for a locale
// ("45,00 €" in es, "€45.00" in en). Never floating point. Thread-safe (formatters are
// cached per thread).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace taquilla::i18n {

// Digits after the decimal point of `currency` (2 for EUR, 0 for JPY, 3 for KWD).
int MinorUnits(std::string_view currency);

// "45.00" for 4500 EUR: the exact decimal amount.
std::string DecimalAmount(int64_t amount_minor, std::string_view currency);

// The amount formatted for `locale` (a BCP 47 tag such as "es" or "pt-BR").
std::string FormatMoney(int64_t amount_minor, std::string_view currency, std::string_view locale);

}  // namespace taquilla::i18n
