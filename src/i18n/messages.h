// Messages: the UI strings of every language, one flat JSON catalog per language
// (data/messages/<lang>.json, {"login.title": "Log in", …}) embedded in the binary.
//
// A lookup takes a language and falls back to English, then to the key itself, so a
// half-translated catalog still renders every page. Language tags match exactly, then by
// their base language ("pt-BR" → "pt"), case-insensitively.
//
// Thread-safety: immutable after construction; Default() is built once and shared.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace taquilla::i18n {

inline constexpr std::string_view kFallbackLanguage = "en";

class Messages {
 public:
  using Catalog = std::map<std::string, std::string, std::less<>>;

  // Builds catalogs from (file name "<lang>.json", JSON text) pairs. Each file is one
  // object of string values; keys are dotted names, and no key may be a prefix ("a") of
  // another ("a.b"), so templates can address them as nested names.
  static Result<Messages> Parse(const std::vector<std::pair<std::string, std::string>>& files);
  // The catalogs embedded in the binary (aborts at start-up if one is malformed).
  static const Messages& Default();

  // The string of `key` in `lang`, else in English, else the key.
  std::string Get(std::string_view lang, std::string_view key) const;
  // The catalog language that serves `tag` (exact, then its base language), or "".
  std::string Match(std::string_view tag) const;
  // The best catalog language for an Accept-Language header, else English.
  std::string Negotiate(std::string_view accept_language) const;
  // Every key of `lang` with English filling the gaps.
  Catalog All(std::string_view lang) const;
  // The languages that have a catalog.
  std::vector<std::string> Languages() const;

 private:
  std::map<std::string, Catalog, std::less<>> catalogs_;
};

// True for scripts written right to left (ar, he, fa, ur …): the page gets dir="rtl".
bool IsRightToLeft(std::string_view lang);

}  // namespace taquilla::i18n
