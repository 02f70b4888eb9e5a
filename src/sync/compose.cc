#include "sync/compose.h"

#include <fmt/format.h>

#include <unordered_map>

#include "i18n/money.h"

namespace taquilla::sync {

namespace json = boost::json;

namespace {

// ICU formatting is the costliest step of composing, and the same prices come back on
// every page: formatted strings are kept (per thread, bounded).
const std::string& Formatted(int64_t amount, const std::string& currency,
                             const std::string& locale) {
  thread_local std::unordered_map<std::string, std::string> cache;
  std::string key = fmt::format("{}|{}|{}", locale, currency, amount);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  if (cache.size() >= 200'000) cache.clear();
  return cache.emplace(std::move(key), i18n::FormatMoney(amount, currency, locale)).first->second;
}

Result<json::object> ParseObject(std::string_view text, const char* what) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return MakeError(ErrorCode::kInternal, "{} document is not a JSON object", what);
  }
  return std::move(v.as_object());
}

}  // namespace

json::value FormatMoneyValue(const json::value& money, const std::string& locale) {
  const json::object* m = money.if_object();
  if (m == nullptr) return nullptr;
  const json::value* amount = m->if_contains("amount_minor");
  const json::value* currency = m->if_contains("currency");
  if (amount == nullptr || currency == nullptr || !amount->is_int64() || !currency->is_string()) {
    return money;
  }
  const std::string cur(currency->as_string());
  return json::object{{"amount_minor", amount->as_int64()},
                      {"currency", cur},
                      {"formatted", Formatted(amount->as_int64(), cur, locale)}};
}

Result<json::object> ComposeEvent(std::string_view content, std::string_view offers,
                                  const std::string& locale, EventShape shape) {
  TQ_ASSIGN_OR_RETURN(json::object ev, ParseObject(content, "event"));
  json::object of;
  if (!offers.empty()) {
    TQ_ASSIGN_OR_RETURN(of, ParseObject(offers, "offers"));
  }
  const json::value* min_price = of.if_contains("min_price");
  const json::value* tickets = of.if_contains("tickets_available");
  json::object out;
  out.reserve(ev.size() + 3);
  for (auto& [k, v] : ev) {
    if (k == "url") {
      out["min_price"] = min_price ? FormatMoneyValue(*min_price, locale) : json::value(nullptr);
      out["tickets_available"] = tickets ? *tickets : json::value(0);
    }
    if (shape == EventShape::kSummary && (k == "description" || k == "performers")) continue;
    out[k] = std::move(v);
  }
  if (shape == EventShape::kEvent) {
    json::array listings;
    if (const json::value* ls = of.if_contains("listings"); ls && ls->is_array()) {
      listings.reserve(ls->as_array().size());
      for (const auto& l : ls->as_array()) {
        if (!l.is_object()) continue;
        json::object item = l.as_object();
        for (const char* money : {"price", "face_value", "display_price"}) {
          if (auto* m = item.if_contains(money)) *m = FormatMoneyValue(*m, locale);
        }
        listings.push_back(std::move(item));
      }
    }
    out["listings"] = std::move(listings);
  }
  return out;
}

}  // namespace taquilla::sync
