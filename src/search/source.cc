#include "search/source.h"

#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "sync/sites.h"

namespace taquilla::search {
namespace json = boost::json;

void ProjectionSource::Invalidate() {
  sites_loaded_ = false;
  sites_.clear();
  parents_.clear();
}

Status ProjectionSource::LoadSites() {
  TQ_ASSIGN_OR_RETURN(redis::Reply r, client_->Cmd("GET", keys_.Sites()));
  sites_.clear();
  if (r.IsNil()) {  // sync has not written the site list yet: no site has events
    sites_loaded_ = true;
    return Ok();
  }
  auto dir = sync::SiteDirectory::Parse(r.str());
  if (!dir.ok()) return MakeError(ErrorCode::kInternal, "{} is not a site list", keys_.Sites());
  for (const sync::Site& site : (*dir)->sites()) {
    if (site.code.empty()) continue;
    SiteLanguages sl{site.code, {}};
    for (const auto& l : site.languages) {
      if (!l.code.empty()) sl.languages.push_back(l.code);
    }
    sites_.push_back(std::move(sl));
  }
  sites_loaded_ = true;
  return Ok();
}

Result<std::vector<SiteLanguages>> ProjectionSource::Sites() {
  if (!sites_loaded_) TQ_RETURN_IF_ERROR(LoadSites());
  return sites_;
}

Result<const std::map<int64_t, int64_t>*> ProjectionSource::Parents(const std::string& site,
                                                                    const std::string& lang) {
  auto key = std::make_pair(site, lang);
  auto it = parents_.find(key);
  if (it != parents_.end()) return &it->second;
  TQ_ASSIGN_OR_RETURN(redis::Reply r, client_->Cmd("GET", keys_.Categories(site, lang)));
  std::map<int64_t, int64_t> parents;
  if (!r.IsNil()) {
    TQ_ASSIGN_OR_RETURN(parents, CategoryParents(r.str()));
  }
  return &parents_.emplace(key, std::move(parents)).first->second;
}

Result<std::vector<EventDoc>> ProjectionSource::Build(std::span<const int64_t> ids, int64_t now,
                                                      const std::string& lang,
                                                      const std::string& site) {
  std::vector<EventDoc> out;
  if (ids.empty()) return out;
  if (!sites_loaded_) TQ_RETURN_IF_ERROR(LoadSites());
  // One MGET for every (site, language, event) content document and one for every
  // (site, event) offers document.
  struct Slot {
    const SiteLanguages* site;
    const std::string* lang;
    int64_t id;
  };
  std::vector<Slot> slots;
  std::vector<std::string> ev_cmd{"MGET"}, eo_cmd{"MGET"};
  for (const auto& s : sites_) {
    if (!site.empty() && s.site != site) continue;
    for (int64_t id : ids) {
      eo_cmd.push_back(keys_.Offers(s.site, id));
      for (const auto& l : s.languages) {
        if (!lang.empty() && l != lang) continue;
        slots.push_back({&s, &l, id});
        ev_cmd.push_back(keys_.Event(s.site, l, id));
      }
    }
  }
  if (slots.empty()) return out;
  client_->Append(ev_cmd);
  client_->Append(eo_cmd);
  TQ_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, client_->Flush());
  const redis::Reply& ev = replies[0];
  const redis::Reply& eo = replies[1];
  if (ev.size() != slots.size() || eo.size() + 1 != eo_cmd.size()) {
    return MakeError(ErrorCode::kInternal, "MGET answered {} of {} documents", ev.size(),
                     slots.size());
  }
  std::map<std::pair<std::string, int64_t>, size_t> offers_at;
  {
    size_t k = 0;
    for (const auto& s : sites_) {
      if (!site.empty() && s.site != site) continue;
      for (int64_t id : ids) offers_at[{s.site, id}] = k++;
    }
  }
  // Venue documents (for the location) of the events found.
  std::vector<size_t> found;
  std::set<std::pair<std::string, int64_t>> venue_keys;
  std::vector<int64_t> venue_of(slots.size(), 0);
  for (size_t i = 0; i < slots.size(); ++i) {
    if (ev[i].IsNil()) continue;
    found.push_back(i);
    boost::system::error_code ec;
    json::value v = json::parse(ev[i].str(), ec);
    if (ec || !v.is_object()) continue;  // BuildEventDoc reports it
    const json::value* venue = v.as_object().if_contains("venue");
    const json::value* vid =
        venue != nullptr && venue->is_object() ? venue->as_object().if_contains("id") : nullptr;
    if (vid != nullptr && vid->is_int64()) {
      venue_of[i] = vid->as_int64();
      venue_keys.insert({*slots[i].lang, vid->as_int64()});
    }
  }
  std::map<std::pair<std::string, int64_t>, std::string> venues;
  if (!venue_keys.empty()) {
    std::vector<std::string> cmd{"MGET"};
    for (const auto& [l, id] : venue_keys) cmd.push_back(keys_.Venue(l, id));
    TQ_ASSIGN_OR_RETURN(redis::Reply vr, client_->Command(cmd));
    size_t k = 0;
    for (const auto& key : venue_keys) {
      if (k < vr.size() && !vr[k].IsNil()) venues[key] = std::string(vr[k].str());
      ++k;
    }
  }
  for (size_t i : found) {
    const Slot& s = slots[i];
    using ParentMap = std::map<int64_t, int64_t>;
    TQ_ASSIGN_OR_RETURN(const ParentMap* parents, Parents(s.site->site, *s.lang));
    const redis::Reply& offers = eo[offers_at[{s.site->site, s.id}]];
    auto venue = venues.find({*s.lang, venue_of[i]});
    TQ_ASSIGN_OR_RETURN(
        std::optional<EventDoc> doc,
        BuildEventDoc(s.site->site, *s.lang, ev[i].str(), offers.IsNil() ? "" : offers.str(),
                      venue == venues.end() ? std::string_view() : std::string_view(venue->second),
                      *parents, now));
    if (doc) out.push_back(std::move(*doc));
  }
  return out;
}

Result<std::vector<int64_t>> ProjectionSource::UpcomingEvents(int64_t now) {
  if (!sites_loaded_) TQ_RETURN_IF_ERROR(LoadSites());
  std::set<int64_t> ids;
  for (const auto& s : sites_) {
    TQ_ASSIGN_OR_RETURN(redis::Reply r, client_->Cmd("ZRANGEBYSCORE", keys_.ByDate(s.site),
                                                     std::to_string(now + 1), "+inf"));
    for (size_t i = 0; i < r.size(); ++i) {
      ids.insert(std::strtoll(std::string(r[i].str()).c_str(), nullptr, 10));
    }
  }
  return std::vector<int64_t>(ids.begin(), ids.end());
}

Result<std::vector<int64_t>> ProjectionSource::UpcomingOnSite(const std::string& site,
                                                              int64_t now) {
  TQ_ASSIGN_OR_RETURN(redis::Reply r, client_->Cmd("ZRANGEBYSCORE", keys_.ByDate(site),
                                                   std::to_string(now + 1), "+inf"));
  std::vector<int64_t> ids;
  for (size_t i = 0; i < r.size(); ++i) {
    ids.push_back(std::strtoll(std::string(r[i].str()).c_str(), nullptr, 10));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<std::vector<int64_t>> ProjectionSource::EventsAtVenue(int64_t venue_id, int64_t now) {
  if (!sites_loaded_) TQ_RETURN_IF_ERROR(LoadSites());
  std::set<int64_t> ids;
  for (const auto& s : sites_) {
    client_->Append(
        {"ZRANGEBYSCORE", keys_.AtVenue(s.site, venue_id), std::to_string(now + 1), "+inf"});
  }
  TQ_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, client_->Flush());
  for (const auto& r : replies) {
    for (size_t i = 0; i < r.size(); ++i) {
      ids.insert(std::strtoll(std::string(r[i].str()).c_str(), nullptr, 10));
    }
  }
  return std::vector<int64_t>(ids.begin(), ids.end());
}

}  // namespace taquilla::search
