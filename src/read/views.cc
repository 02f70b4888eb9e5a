#include "read/views.h"

#include <charconv>

#include "sync/compose.h"

namespace taquilla::read {

namespace json = boost::json;

namespace {

Error Invalid(std::string_view name, std::string_view what) {
  return MakeReason(ErrorCode::kInvalidArgument, "invalid_parameter", "'{}' {}.", name, what);
}

std::string Score(int64_t v) { return std::to_string(v); }

}  // namespace

std::optional<int64_t> ParseId(std::string_view text) {
  if (text.empty() || text.size() > 15 || text[0] == '0') return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v <= 0) return std::nullopt;
  return v;
}

std::map<std::string, std::string> NonEmpty(const std::map<std::string, std::string>& params) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : params) {
    if (!v.empty()) out.emplace(k, v);
  }
  return out;
}

Result<ListQuery> ParseListQuery(const std::map<std::string, std::string>& raw) {
  auto params = NonEmpty(raw);
  // from, to, category, page and per_page mean what they mean to search.
  std::map<std::string, std::string> common;
  for (const char* k : {"from", "to", "category", "page", "per_page"}) {
    if (auto it = params.find(k); it != params.end()) common.emplace(k, it->second);
  }
  TQ_ASSIGN_OR_RETURN(search::SearchRequest sr, search::ParseSearchRequest(common));
  ListQuery q;
  q.category = sr.category;
  q.from = sr.from;
  q.to = sr.to;
  q.page = sr.page;
  q.per_page = sr.per_page;
  for (auto [name, field] : {std::pair{"venue", &q.venue}, std::pair{"performer", &q.performer}}) {
    auto it = params.find(name);
    if (it == params.end()) continue;
    auto id = ParseId(it->second);
    if (!id) return Invalid(name, "must be a positive whole number");
    *field = *id;
  }
  if (auto it = params.find("sort"); it != params.end()) {
    if (it->second == "price") {
      q.by_price = true;
    } else if (it->second != "date") {
      return Invalid("sort", "must be date or price");
    }
  }
  return q;
}

Result<std::optional<json::object>> LoadEvent(Replica& replica, const Audience& a, int64_t id,
                                              bool full, std::vector<std::string>& deps) {
  const auto& k = replica.keys();
  std::string content_key = k.Event(a.site->code, a.lang, id);
  std::string offers_key = k.Offers(a.site->code, id);
  deps.push_back(content_key);
  deps.push_back(offers_key);
  TQ_ASSIGN_OR_RETURN(auto r, replica.Run({{"GET", content_key}, {"GET", offers_key}}));
  if (r[0].IsError() || r[1].IsError()) return MakeError(ErrorCode::kInternal, "redis GET failed");
  if (r[0].IsNil()) return std::optional<json::object>();
  TQ_ASSIGN_OR_RETURN(
      json::object ev,
      sync::ComposeEvent(r[0].str(), r[1].IsNil() ? "" : r[1].str(), a.locale,
                         full ? sync::EventShape::kEvent : sync::EventShape::kSummary));
  return std::optional<json::object>(std::move(ev));
}

Result<std::optional<json::value>> LoadDocument(Replica& replica, const std::string& key,
                                                std::vector<std::string>& deps) {
  deps.push_back(key);
  TQ_ASSIGN_OR_RETURN(redis::Reply r, replica.Run1({"GET", key}));
  if (r.IsNil()) return std::optional<json::value>();
  boost::system::error_code ec;
  json::value v = json::parse(r.str(), ec);
  if (ec) return MakeError(ErrorCode::kInternal, "{} is not JSON", key);
  return std::optional<json::value>(std::move(v));
}

Result<EventList> ListEvents(Replica& replica, const Audience& a, const ListQuery& q, int64_t now,
                             std::vector<std::string>& deps) {
  const auto& k = replica.keys();
  const std::string& site = a.site->code;
  // Membership constraints, most selective first.
  std::vector<std::string> sets;
  if (q.performer) sets.push_back(k.OfPerformer(site, *q.performer));
  if (q.venue) sets.push_back(k.AtVenue(site, *q.venue));
  if (q.category) sets.push_back(k.InCategory(site, *q.category));
  const std::string date_set = k.ByDate(site);
  const std::string price_set = k.ByPrice(site);
  const int64_t from = std::max(q.from.value_or(now), now);
  const int64_t to = q.to.value_or(INT64_MAX / 2);
  const int64_t offset = static_cast<int64_t>(q.page - 1) * q.per_page;

  std::string base;
  if (q.by_price) {
    base = price_set;
    sets.push_back(date_set);  // for from/to
  } else if (!sets.empty()) {
    base = sets.front();
    sets.erase(sets.begin());
  } else {
    base = date_set;
  }
  deps.push_back(base);
  for (const auto& s : sets) deps.push_back(s);

  EventList out;
  std::vector<std::string> page_ids;
  if (!q.by_price && sets.empty()) {
    // One sorted set scored by start time: count and page in Redis.
    TQ_ASSIGN_OR_RETURN(auto r,
                        replica.Run({{"ZCOUNT", base, Score(from), Score(to)},
                                     {"ZRANGEBYSCORE", base, Score(from), Score(to), "LIMIT",
                                      std::to_string(offset), std::to_string(q.per_page)}}));
    out.total = r[0].integer();
    for (size_t i = 0; i < r[1].size(); ++i) page_ids.emplace_back(r[1][i].str());
  } else {
    // Every member of the base set in order, kept when it is in every other set (and, by
    // price, starts within [from, to]).
    std::vector<std::string> members;
    if (q.by_price) {
      TQ_ASSIGN_OR_RETURN(redis::Reply r, replica.Run1({"ZRANGE", base, "0", "-1"}));
      for (size_t i = 0; i < r.size(); ++i) members.emplace_back(r[i].str());
    } else {
      TQ_ASSIGN_OR_RETURN(redis::Reply r,
                          replica.Run1({"ZRANGEBYSCORE", base, Score(from), Score(to)}));
      for (size_t i = 0; i < r.size(); ++i) members.emplace_back(r[i].str());
    }
    std::vector<bool> keep(members.size(), true);
    if (!members.empty() && !sets.empty()) {
      std::vector<std::vector<std::string>> cmds;
      for (const auto& s : sets) {
        std::vector<std::string> cmd = {"ZMSCORE", s};
        cmd.insert(cmd.end(), members.begin(), members.end());
        cmds.push_back(std::move(cmd));
      }
      TQ_ASSIGN_OR_RETURN(auto replies, replica.Run(cmds));
      for (size_t s = 0; s < sets.size(); ++s) {
        const redis::Reply& r = replies[s];
        if (r.IsError()) return MakeError(ErrorCode::kInternal, "redis: {}", r.str());
        const bool is_date = sets[s] == date_set;
        for (size_t i = 0; i < members.size() && i < r.size(); ++i) {
          redis::Reply score = r[i];
          if (score.IsNil()) {
            keep[i] = false;
          } else if (is_date) {
            double start = std::strtod(std::string(score.str()).c_str(), nullptr);
            if (start < static_cast<double>(from) || start > static_cast<double>(to)) {
              keep[i] = false;
            }
          }
        }
      }
    }
    for (size_t i = 0; i < members.size(); ++i) {
      if (!keep[i]) continue;
      if (out.total >= offset && out.total < offset + q.per_page) page_ids.push_back(members[i]);
      ++out.total;
    }
  }
  if (page_ids.empty()) return out;
  std::vector<std::vector<std::string>> gets;
  std::vector<int64_t> ids;
  for (const auto& m : page_ids) {
    auto id = ParseId(m);
    if (!id) continue;
    ids.push_back(*id);
    gets.push_back({"GET", k.Event(site, a.lang, *id)});
    gets.push_back({"GET", k.Offers(site, *id)});
    deps.push_back(gets[gets.size() - 2][1]);
    deps.push_back(gets.back()[1]);
  }
  TQ_ASSIGN_OR_RETURN(auto docs, replica.Run(gets));
  for (size_t i = 0; i < ids.size(); ++i) {
    const redis::Reply& content = docs[2 * i];
    const redis::Reply& offers = docs[2 * i + 1];
    if (!content.IsString()) continue;
    auto ev = sync::ComposeEvent(content.str(), offers.IsString() ? offers.str() : "", a.locale,
                                 sync::EventShape::kSummary);
    if (ev.ok()) out.items.push_back(std::move(*ev));
  }
  return out;
}

}  // namespace taquilla::read
