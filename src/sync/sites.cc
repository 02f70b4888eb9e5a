#include "sync/sites.h"

#include <boost/json.hpp>

namespace taquilla::sync {

namespace json = boost::json;

namespace {
std::string Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}
}  // namespace

bool Site::Offers(std::string_view lang) const {
  for (const auto& l : languages) {
    if (l.code == lang) return true;
  }
  return false;
}

Result<std::shared_ptr<const SiteDirectory>> SiteDirectory::Parse(std::string_view text) {
  auto dir = std::make_shared<SiteDirectory>();
  dir->json_ = text.empty() ? std::string(R"({"sites":[]})") : std::string(text);
  if (text.empty()) return std::shared_ptr<const SiteDirectory>(dir);
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  const json::value* sites = !ec && v.is_object() ? v.as_object().if_contains("sites") : nullptr;
  if (sites == nullptr || !sites->is_array()) {
    return MakeError(ErrorCode::kInternal, "the site list in Redis is not the projection's JSON");
  }
  for (const auto& s : sites->as_array()) {
    if (!s.is_object()) continue;
    const auto& o = s.as_object();
    Site site{.code = Str(o, "code"),
              .name = Str(o, "name"),
              .country = Str(o, "country"),
              .currency = Str(o, "currency"),
              .timezone = Str(o, "timezone"),
              .default_language = Str(o, "default_language"),
              .languages = {}};
    if (const auto* langs = o.if_contains("languages"); langs != nullptr && langs->is_array()) {
      for (const auto& l : langs->as_array()) {
        if (l.is_string()) {  // a bare code
          site.languages.push_back(SiteLanguage{std::string(l.as_string()), "", ""});
          continue;
        }
        if (!l.is_object()) continue;
        site.languages.push_back(SiteLanguage{Str(l.as_object(), "code"),
                                              Str(l.as_object(), "name"),
                                              Str(l.as_object(), "direction")});
      }
    }
    dir->sites_.push_back(std::move(site));
  }
  return std::shared_ptr<const SiteDirectory>(dir);
}

const Site* SiteDirectory::Find(std::string_view code) const {
  for (const auto& s : sites_) {
    if (s.code == code) return &s;
  }
  return nullptr;
}

}  // namespace taquilla::sync
