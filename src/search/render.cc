#include "search/render.h"

#include "sync/compose.h"

namespace taquilla::search {
namespace json = boost::json;

json::object SearchResultJson(const SearchResult& result, const SearchRequest& request,
                              const std::string& locale) {
  json::array items;
  for (const auto& hit : result.items) {
    boost::system::error_code ec;
    json::value data = json::parse(hit.data, ec);
    if (ec || !data.is_object()) continue;
    const json::value* c = data.as_object().if_contains("c");
    const json::value* o = data.as_object().if_contains("o");
    if (c == nullptr || o == nullptr) continue;
    auto summary = sync::ComposeEvent(json::serialize(*c), json::serialize(*o), locale,
                                      sync::EventShape::kSummary);
    if (!summary.ok()) continue;
    summary->emplace("score", hit.score);
    items.push_back(std::move(*summary));
  }
  json::array categories, months;
  for (const auto& f : result.categories) {
    categories.push_back(json::object{
        {"id", std::strtoll(f.key.c_str(), nullptr, 10)}, {"name", f.name}, {"count", f.count}});
  }
  for (const auto& f : result.months) {
    months.push_back(json::object{{"month", f.key}, {"count", f.count}});
  }
  json::object out{
      {"items", std::move(items)},
      {"page", request.page},
      {"per_page", request.per_page},
      {"total", result.total},
      {"facets", json::object{{"category", std::move(categories)}, {"month", std::move(months)}}}};
  if (!result.corrected_query.empty()) out.emplace("corrected_query", result.corrected_query);
  return out;
}

}  // namespace taquilla::search
