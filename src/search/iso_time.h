// ISO 8601 times as the projections write them and the API accepts them. Pure functions;
// thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace taquilla::search {

// "YYYY-MM-DD" (years 1970-9999, a day that exists) -> that day's start in UTC, epoch seconds.
std::optional<int64_t> ParseIsoDate(std::string_view s);
// "YYYY-MM-DDThh:mm:ss" with optional fractional seconds and "Z" or "+hh:mm"/"-hh:mm"
// -> epoch seconds. Every field is checked (digits, ranges, the day exists).
std::optional<int64_t> ParseIsoTime(std::string_view s);

}  // namespace taquilla::search
