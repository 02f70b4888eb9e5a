#include "http/router.h"

#include <boost/url.hpp>

#include "http/response.h"

namespace taquilla::http {

const std::string& Params::Query(const std::string& key) const {
  static const std::string kEmpty;
  auto it = query.find(key);
  return it == query.end() ? kEmpty : it->second;
}

namespace {

std::vector<std::string> SplitPattern(const std::string& pattern) {
  std::vector<std::string> out;
  size_t i = 1;
  while (i <= pattern.size()) {
    size_t j = pattern.find('/', i);
    if (j == std::string::npos) j = pattern.size();
    std::string seg = pattern.substr(i, j - i);
    out.push_back(seg.size() >= 2 && seg.front() == '{' && seg.back() == '}' ? "{}" : seg);
    i = j + 1;
  }
  return out;
}

bool Match(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
           std::vector<std::string>* values) {
  if (pattern.size() != path.size()) return false;
  values->clear();
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == "{}") {
      if (path[i].empty()) return false;
      values->push_back(path[i]);
    } else if (pattern[i] != path[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

void Router::Add(bhttp::verb method, std::string pattern, Fn fn) {
  Route r{method, pattern, SplitPattern(pattern), std::move(fn)};
  routes_.push_back(std::move(r));
}

std::vector<std::string> Router::Routes() const {
  std::vector<std::string> out;
  for (const auto& r : routes_) {
    out.push_back(std::string(bhttp::to_string(r.method)) + " " + r.pattern);
  }
  return out;
}

Response Router::Dispatch(const Request& req, const Peer& peer) const {
  auto parsed = boost::urls::parse_origin_form(req.target());
  if (!parsed) {
    return ErrorResponse(bhttp::status::bad_request, "bad_request",
                         "The request target is not a valid path.");
  }
  const boost::urls::url_view& url = *parsed;
  std::vector<std::string> segments;
  for (auto seg : url.segments()) segments.push_back(std::string(seg));
  if (segments.empty()) segments.push_back("");
  Params params;
  for (auto p : url.params()) {
    params.query.emplace(std::string(p.key), p.has_value ? std::string(p.value) : "");
  }
  std::string allow;
  bhttp::verb method = req.method() == bhttp::verb::head ? bhttp::verb::get : req.method();
  for (const auto& r : routes_) {
    if (!Match(r.segments, segments, &params.path)) continue;
    if (r.method == method) return r.fn(req, peer, params);
    allow += (allow.empty() ? "" : ", ") + std::string(bhttp::to_string(r.method));
  }
  if (!allow.empty()) {
    Response res = ErrorResponse(
        bhttp::status::method_not_allowed, "method_not_allowed",
        fmt::format("{} is not allowed here; use {}.", std::string(req.method_string()), allow));
    res.set(bhttp::field::allow, allow);
    return res;
  }
  if (not_found_) return not_found_(req, peer, params);
  return ErrorResponse(bhttp::status::not_found, "not_found", "There is nothing at this path.");
}

}  // namespace taquilla::http
