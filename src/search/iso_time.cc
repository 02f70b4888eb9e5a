#include "search/iso_time.h"

#include <ctime>
#include <string>

namespace taquilla::search {
namespace {

// Whether `v` starts with `pattern`, where 'd' stands for any digit.
bool Shaped(std::string_view v, std::string_view pattern) {
  if (v.size() < pattern.size()) return false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == 'd' ? (v[i] < '0' || v[i] > '9') : v[i] != pattern[i]) return false;
  }
  return true;
}

int Digits(std::string_view v, size_t at, size_t n) {
  int x = 0;
  for (size_t i = 0; i < n; ++i) x = x * 10 + (v[at + i] - '0');
  return x;
}

// Whether day `d` exists in month `mo` (1-12) of year `y`.
bool DayExists(int y, int mo, int d) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d >= 1 && d <= kDays[mo - 1] + (mo == 2 && leap ? 1 : 0);
}

// The date part of `s` (shaped dddd-dd-dd) as epoch seconds at 00:00 UTC.
std::optional<int64_t> DateAt(std::string_view s) {
  const int y = Digits(s, 0, 4), mo = Digits(s, 5, 2), d = Digits(s, 8, 2);
  if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || !DayExists(y, mo, d)) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace

std::optional<int64_t> ParseIsoDate(std::string_view s) {
  if (s.size() != 10 || !Shaped(s, "dddd-dd-dd")) return std::nullopt;
  return DateAt(s);
}

std::optional<int64_t> ParseIsoTime(std::string_view s) {
  if (s.size() < 20 || s.size() > 35 || !Shaped(s, "dddd-dd-ddTdd:dd:dd")) return std::nullopt;
  auto day = DateAt(s);
  const int h = Digits(s, 11, 2), mi = Digits(s, 14, 2), se = Digits(s, 17, 2);
  if (!day || h > 23 || mi > 59 || se > 60) return std::nullopt;
  const int64_t t = *day + h * 3600 + mi * 60 + se;
  std::string_view rest = s.substr(19);
  if (!rest.empty() && rest[0] == '.') {
    size_t k = 1;
    while (k < rest.size() && rest[k] >= '0' && rest[k] <= '9') ++k;
    rest = rest.substr(k);
  }
  if (rest == "Z") return t;
  if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && Shaped(rest.substr(1), "dd:dd")) {
    const int oh = Digits(rest, 1, 2), om = Digits(rest, 4, 2);
    if (oh > 23 || om > 59) return std::nullopt;
    const int64_t off = oh * 3600 + om * 60;
    return rest[0] == '+' ? t - off : t + off;
  }
  return std::nullopt;
}

}  // namespace taquilla::search
