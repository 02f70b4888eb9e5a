#include "secure/sql.h"

#include <fmt/format.h>

#include "secure/db_errors.h"

namespace taquilla::secure {

db::Param P(const std::optional<double>& v) {
  return v ? db::Param(fmt::format("{:.8f}", *v)) : db::Param(std::nullopt);
}

boost::json::value IntOrNull(const db::PgResult& r, int row, int col) {
  if (r.IsNull(row, col)) return nullptr;
  return r.GetInt(row, col);
}

boost::json::value StrOrNull(const db::PgResult& r, int row, int col) {
  if (r.IsNull(row, col)) return nullptr;
  return boost::json::string(r.Get(row, col));
}

Result<db::PgResult> Query(db::Connection& c, std::string_view sql,
                           const std::vector<db::Param>& params) {
  auto r = c.ExecParams(sql, params);
  if (!r.ok()) return ApiErrorOf(r.error());
  return r;
}

boost::json::object PageOf(boost::json::array items, const Page& page, int64_t total) {
  boost::json::object o;
  o["items"] = std::move(items);
  o["page"] = page.page;
  o["per_page"] = page.per_page;
  o["total"] = total;
  return o;
}

Result<int64_t> TotalOf(db::Connection& c, const db::PgResult& r, int col, const Page& page,
                        std::string_view count_sql, const std::vector<db::Param>& params) {
  if (r.rows() > 0) return r.GetInt(0, col);
  if (page.page == 1) return int64_t{0};
  TQ_ASSIGN_OR_RETURN(auto n, Query(c, count_sql, params));
  return n.GetInt(0, 0);
}

}  // namespace taquilla::secure
