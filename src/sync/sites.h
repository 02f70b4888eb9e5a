// The site directory: sync's {p}sites document (every active site, its currency, time
// zone and languages) parsed for its readers — the read servers, the indexer and
// `taquilla search`. Immutable once parsed; share it between threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace taquilla::sync {

struct SiteLanguage {
  std::string code, name, direction;
};

struct Site {
  std::string code, name, country, currency, timezone, default_language;
  std::vector<SiteLanguage> languages;
  bool Offers(std::string_view lang) const;
};

// The parsed {p}sites document. Immutable; shared between threads.
class SiteDirectory {
 public:
  static Result<std::shared_ptr<const SiteDirectory>> Parse(std::string_view json);
  const Site* Find(std::string_view code) const;
  const std::vector<Site>& sites() const { return sites_; }
  // The document as stored (the API's /sites answer).
  const std::string& json() const { return json_; }

 private:
  std::vector<Site> sites_;
  std::string json_;
};

}  // namespace taquilla::sync
