#include "i18n/messages.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>

namespace taquilla_messages {
const std::vector<std::pair<std::string_view, std::string_view>>& All();
}  // namespace taquilla_messages

namespace taquilla::i18n {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The primary language subtag ("pt" of "pt-BR").
std::string_view Base(std::string_view tag) { return tag.substr(0, tag.find_first_of("-_")); }

}  // namespace

Result<Messages> Messages::Parse(const std::vector<std::pair<std::string, std::string>>& files) {
  Messages m;
  for (const auto& [name, text] : files) {
    if (name.size() < 6 || name.substr(name.size() - 5) != ".json") continue;
    std::string lang = name.substr(0, name.size() - 5);
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(text, ec);
    if (ec || !v.is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, "message catalog {} is not a JSON object",
                       name);
    }
    Catalog catalog;
    for (const auto& kv : v.as_object()) {
      if (!kv.value().is_string() || kv.key().empty()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "{}: '{}' must be a non-empty key of a string", name,
                         std::string_view(kv.key()));
      }
      catalog.emplace(std::string(kv.key()), std::string(kv.value().as_string()));
    }
    // "a" and "a.b" cannot both be keys: templates read them as nested names.
    for (auto it = catalog.begin(); it != catalog.end(); ++it) {
      auto next = std::next(it);
      if (next != catalog.end() && next->first.rfind(it->first + ".", 0) == 0) {
        return MakeError(ErrorCode::kInvalidArgument, "{}: key '{}' is a prefix of '{}'", name,
                         it->first, next->first);
      }
    }
    m.catalogs_.emplace(std::move(lang), std::move(catalog));
  }
  if (!m.catalogs_.count(kFallbackLanguage)) {
    return MakeError(ErrorCode::kInvalidArgument, "there is no English message catalog");
  }
  return m;
}

const Messages& Messages::Default() {
  static const Messages kDefault = [] {
    std::vector<std::pair<std::string, std::string>> files;
    for (const auto& [name, data] : taquilla_messages::All()) {
      files.emplace_back(std::string(name), std::string(data));
    }
    auto m = Parse(files);
    if (!m.ok()) {
      std::fprintf(stderr, "embedded message catalogs: %s\n", m.error().message.c_str());
      std::abort();
    }
    return std::move(*m);
  }();
  return kDefault;
}

std::string Messages::Get(std::string_view lang, std::string_view key) const {
  for (std::string_view l : {lang, kFallbackLanguage}) {
    auto c = catalogs_.find(l);
    if (c == catalogs_.end()) continue;
    auto it = c->second.find(key);
    if (it != c->second.end()) return it->second;
  }
  return std::string(key);
}

std::string Messages::Match(std::string_view tag) const {
  if (tag.empty() || tag.size() > 35) return "";
  std::string want = Lower(tag);
  for (auto& c : want) {
    if (c == '_') c = '-';
  }
  for (const auto& [lang, catalog] : catalogs_) {
    if (Lower(lang) == want) return lang;
  }
  std::string base(Base(want));
  for (const auto& [lang, catalog] : catalogs_) {
    if (Lower(lang) == base) return lang;
  }
  return "";
}

std::string Messages::Negotiate(std::string_view header) const {
  // Ranges in order of preference: "de-CH, de;q=0.9, en;q=0.5".
  struct Choice {
    double q;
    size_t position;
    std::string lang;
  };
  std::vector<Choice> choices;
  size_t position = 0;
  while (!header.empty() && position < 50) {
    auto comma = header.find(',');
    std::string_view part = header.substr(0, comma);
    header = comma == std::string_view::npos ? "" : header.substr(comma + 1);
    auto semi = part.find(';');
    std::string_view range = part.substr(0, semi);
    double q = 1;
    if (semi != std::string_view::npos) {
      std::string_view params = part.substr(semi + 1);
      auto qpos = params.find("q=");
      if (qpos != std::string_view::npos)
        q = std::atof(std::string(params.substr(qpos + 2)).c_str());
    }
    while (!range.empty() && range.front() == ' ') range.remove_prefix(1);
    while (!range.empty() && range.back() == ' ') range.remove_suffix(1);
    if (q <= 0 || range.empty() || range == "*") continue;
    std::string lang = Match(range);
    if (!lang.empty()) choices.push_back({q, position++, lang});
  }
  std::stable_sort(choices.begin(), choices.end(),
                   [](const Choice& a, const Choice& b) { return a.q > b.q; });
  return choices.empty() ? std::string(kFallbackLanguage) : choices.front().lang;
}

Messages::Catalog Messages::All(std::string_view lang) const {
  Catalog out;
  auto en = catalogs_.find(kFallbackLanguage);
  if (en != catalogs_.end()) out = en->second;
  auto c = catalogs_.find(lang);
  if (c != catalogs_.end() && c->first != kFallbackLanguage) {
    for (const auto& [k, v] : c->second) out[k] = v;
  }
  return out;
}

std::vector<std::string> Messages::Languages() const {
  std::vector<std::string> out;
  for (const auto& [lang, catalog] : catalogs_) out.push_back(lang);
  return out;
}

bool IsRightToLeft(std::string_view lang) {
  static constexpr std::string_view kRtl[] = {"ar", "he", "fa", "ur", "ps",
                                              "sd", "ug", "yi", "dv", "ckb"};
  std::string base = Lower(Base(lang));
  return std::find(std::begin(kRtl), std::end(kRtl), base) != std::end(kRtl);
}

}  // namespace taquilla::i18n
