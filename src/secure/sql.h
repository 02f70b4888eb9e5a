// The small SQL helpers Market's files share: text parameters, nullable columns as JSON,
// an unprepared statement with the API's errors, and the page shape of paged lists.
// Internal to src/secure; plain functions, thread-safe.
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "db/pg.h"
#include "secure/market.h"

namespace taquilla::secure {

inline db::Param P(int64_t v) { return std::to_string(v); }
inline db::Param P(const std::optional<int64_t>& v) {
  return v ? db::Param(std::to_string(*v)) : db::Param(std::nullopt);
}
inline db::Param P(const std::optional<std::string>& v) { return v; }
db::Param P(const std::optional<double>& v);

boost::json::value IntOrNull(const db::PgResult& r, int row, int col);
boost::json::value StrOrNull(const db::PgResult& r, int row, int col);

// One statement (not prepared: for the backoffice's and the pages' colder queries), its
// failure mapped by ApiErrorOf.
Result<db::PgResult> Query(db::Connection& c, std::string_view sql,
                           const std::vector<db::Param>& params);

// {"items", "page", "per_page", "total"}.
boost::json::object PageOf(boost::json::array items, const Page& page, int64_t total);

// The total of a paged query whose column `col` is count(*) OVER (): it rides on the page's
// rows, so a page past the last one counts again with `count_sql`.
Result<int64_t> TotalOf(db::Connection& c, const db::PgResult& r, int col, const Page& page,
                        std::string_view count_sql, const std::vector<db::Param>& params);

}  // namespace taquilla::secure
