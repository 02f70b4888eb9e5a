// Text helpers of the seed generator: pattern substitution, ASCII slugs (ICU
// transliteration), capitalisation and the shared demo password hash. Pure functions;
// a Slugger owns an ICU transliterator and a cache and belongs to one thread.
#pragma once

#include <unicode/translit.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/result.h"

namespace taquilla::seed {

// Values for the placeholders {performer} {city} {venue} {year} {kind} {Kind} {kinds}
// {Kinds} {category}. Unknown placeholders are copied verbatim.
struct PatternVars {
  std::string_view performer, city, venue, year, kind, Kind, kinds, Kinds, category;
};

using Span = std::pair<uint32_t, uint32_t>;  // [begin, end) byte offsets

// Appends `pattern` with its placeholders replaced to *out. When `spans` is set, it
// receives the byte ranges (in *out) of each literal run and each substituted value.
void Substitute(std::string_view pattern, const PatternVars& vars, std::string* out,
                std::vector<Span>* spans = nullptr);
std::string Substitute(std::string_view pattern, const PatternVars& vars);

// Lower-case ASCII alnum runs of `ascii` joined by '-', at most max_len characters
// (cut at a word boundary when possible). May return "".
std::string FinishSlug(std::string_view ascii, size_t max_len);

// Transliterates any script to lower-case ASCII ("Any-Latin; Latin-ASCII; Lower")
// and makes a slug. Caches transliterations of non-ASCII pieces.
class Slugger {
 public:
  Slugger();
  ~Slugger();
  Slugger(const Slugger&) = delete;
  Slugger& operator=(const Slugger&) = delete;

  // The transliteration of `text` (lower-case, may keep non-ASCII leftovers).
  const std::string& ToAscii(std::string_view text);
  // Slug of the whole text; "" if nothing alphanumeric survives.
  std::string Slug(std::string_view text, size_t max_len = 200);
  // Slug of `text` whose pieces (from Substitute) are transliterated one by one.
  std::string SlugPieces(std::string_view text, const std::vector<Span>& spans, size_t max_len);

 private:
  std::unique_ptr<icu::Transliterator> translit_;
  std::unordered_map<std::string, std::string> cache_;
  std::string scratch_;
};

// Slugger::Slug with a thread-local Slugger.
std::string Slugify(std::string_view text, size_t max_len = 200);

// `text` with its first character upper-cased (ICU simple case mapping).
std::string CapitalizeFirst(std::string_view text);

// An argon2id PHC string ($argon2id$v=19$m=65536,t=2,p=1$salt$hash) of `password`
// with a salt derived from `seed`: crypto_pwhash_str_verify accepts it.
Result<std::string> DemoPasswordHash(std::string_view password, uint64_t seed);

}  // namespace taquilla::seed
