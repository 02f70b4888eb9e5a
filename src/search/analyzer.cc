#include "search/analyzer.h"

#include <unicode/brkiter.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/utf16.h>

#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace taquilla::search {
namespace {

// Scripts whose combining marks are accents a searcher does not type.
bool FoldsMarks(UScriptCode s) {
  return s == USCRIPT_LATIN || s == USCRIPT_GREEK || s == USCRIPT_ARABIC || s == USCRIPT_HEBREW;
}

// Scripts written without spaces between words that ICU's dictionaries break.
bool NeedsWordBreaks(UScriptCode s) {
  return s == USCRIPT_THAI || s == USCRIPT_LAO || s == USCRIPT_KHMER || s == USCRIPT_MYANMAR;
}

UScriptCode ScriptOf(UChar32 c) {
  UErrorCode err = U_ZERO_ERROR;
  UScriptCode s = uscript_getScript(c, &err);
  return U_SUCCESS(err) ? s : USCRIPT_COMMON;
}

// A per-thread word BreakIterator (creating one loads dictionaries; cloning is cheap).
icu::BreakIterator* WordBreaker() {
  thread_local std::unique_ptr<icu::BreakIterator> it = [] {
    UErrorCode err = U_ZERO_ERROR;
    std::unique_ptr<icu::BreakIterator> b(
        icu::BreakIterator::createWordInstance(icu::Locale::getRoot(), err));
    return U_SUCCESS(err) ? std::move(b) : nullptr;
  }();
  return it.get();
}

// A per-thread grapheme-cluster BreakIterator (a Thai consonant with its vowel and tone
// marks is one cluster).
icu::BreakIterator* ClusterBreaker() {
  thread_local std::unique_ptr<icu::BreakIterator> it = [] {
    UErrorCode err = U_ZERO_ERROR;
    std::unique_ptr<icu::BreakIterator> b(
        icu::BreakIterator::createCharacterInstance(icu::Locale::getRoot(), err));
    return U_SUCCESS(err) ? std::move(b) : nullptr;
  }();
  return it.get();
}

// The overlapping pairs of grapheme clusters of `run`, separated by spaces ("" when the
// run is a single cluster).
icu::UnicodeString ClusterBigrams(const icu::UnicodeString& run) {
  icu::BreakIterator* ci = ClusterBreaker();
  icu::UnicodeString out;
  if (ci == nullptr) return out;
  std::vector<int32_t> bounds;
  ci->setText(run);
  for (int32_t b = ci->first(); b != icu::BreakIterator::DONE; b = ci->next()) bounds.push_back(b);
  for (size_t k = 0; k + 2 < bounds.size(); ++k) {
    if (k > 0) out.append(static_cast<UChar>(' '));
    out.append(run, bounds[k], bounds[k + 2] - bounds[k]);
  }
  return out;
}

// Inside runs of the scripts above: for documents, the run's dictionary words (ICU's
// BreakIterator) followed by its cluster bigrams; for queries, the cluster bigrams as a
// phrase, so any substring of a document's run is found, whatever the dictionary made of it.
icu::UnicodeString BreakWords(const icu::UnicodeString& in, Analyzer::Purpose purpose) {
  bool any = false;
  for (int32_t i = 0; i < in.length() && !any;) {
    UChar32 c = in.char32At(i);
    any = NeedsWordBreaks(ScriptOf(c));
    i += U16_LENGTH(c);
  }
  icu::BreakIterator* bi = any ? WordBreaker() : nullptr;
  if (bi == nullptr) return in;
  icu::UnicodeString out;
  int32_t i = 0;
  while (i < in.length()) {
    UChar32 c = in.char32At(i);
    if (!NeedsWordBreaks(ScriptOf(c))) {
      out.append(c);
      i += U16_LENGTH(c);
      continue;
    }
    // The run of the script (its combining marks included).
    int32_t end = i;
    while (end < in.length()) {
      UChar32 d = in.char32At(end);
      UScriptCode s = ScriptOf(d);
      if (!NeedsWordBreaks(s) && s != USCRIPT_INHERITED) break;
      end += U16_LENGTH(d);
    }
    icu::UnicodeString run(in, i, end - i);
    icu::UnicodeString bigrams = ClusterBigrams(run);
    if (purpose == Analyzer::Purpose::kDocument) {
      bi->setText(run);
      int32_t prev = bi->first();
      for (int32_t b = bi->next(); b != icu::BreakIterator::DONE; prev = b, b = bi->next()) {
        if (prev > 0) out.append(static_cast<UChar>(' '));
        out.append(run, prev, b - prev);
      }
      if (!bigrams.isEmpty()) out.append(static_cast<UChar>(' ')).append(bigrams);
      out.append(static_cast<UChar>(' '));  // "การแข่งรถของTeam": Team is a word of its own
    } else if (bigrams.isEmpty()) {
      out.append(run).append(static_cast<UChar>(' '));  // a single cluster
    } else {
      // A phrase of its bigrams, unless the user's own quotes already make one.
      int32_t quotes = 0;
      for (int32_t k = 0; k < out.length(); ++k) quotes += out[k] == u'"';
      const bool quoted = quotes % 2 == 1;
      out.append(static_cast<UChar>(' '));
      if (!quoted) out.append(static_cast<UChar>('"'));
      out.append(bigrams);
      if (!quoted) out.append(static_cast<UChar>('"'));
      out.append(static_cast<UChar>(' '));
    }
    i = end;
  }
  return out;
}

}  // namespace

const Analyzer& Analyzer::For(std::string_view lang) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Analyzer>, std::less<>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(lang);
  if (it == cache.end()) {
    it = cache.emplace(std::string(lang), std::make_unique<Analyzer>(std::string(lang))).first;
  }
  return *it->second;
}

Analyzer::Analyzer(std::string lang) : lang_(std::move(lang)) {
  std::string primary = lang_.substr(0, lang_.find('-'));
  for (auto& ch : primary) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  // Xapian knows "en" as English, but its "english" is Porter2; "no" covers nb and nn.
  if (primary == "nb" || primary == "nn") primary = "no";
  try {
    if (!primary.empty()) {
      stem_ = Xapian::Stem(primary);
      has_stemmer_ = true;
      stemmer_name_ = stem_.get_description();
    }
  } catch (const Xapian::InvalidArgumentError&) {
    stem_ = Xapian::Stem();
  }
}

std::string Analyzer::Normalize(std::string_view text, Purpose purpose) const {
  UErrorCode err = U_ZERO_ERROR;
  icu::UnicodeString s = icu::UnicodeString::fromUTF8(
      icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  const icu::Normalizer2* casefold = icu::Normalizer2::getNFKCCasefoldInstance(err);
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(err);
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(err);
  if (U_FAILURE(err)) return std::string(text);
  icu::UnicodeString folded = casefold->normalize(s, err);
  icu::UnicodeString decomposed = nfd->normalize(folded, err);
  if (U_FAILURE(err)) return std::string(text);

  icu::UnicodeString stripped;
  UScriptCode base = USCRIPT_COMMON;
  for (int32_t i = 0; i < decomposed.length();) {
    UChar32 c = decomposed.char32At(i);
    i += U16_LENGTH(c);
    if (u_charType(c) == U_NON_SPACING_MARK) {
      if (FoldsMarks(base)) continue;
      // Cyrillic ё -> е (and ї -> і): the diaeresis is optional in writing.
      if (base == USCRIPT_CYRILLIC && c == 0x0308) continue;
      stripped.append(c);
      continue;
    }
    if (c == 0x0640) continue;  // Arabic tatweel: elongation, not a letter
    base = ScriptOf(c);
    stripped.append(c);
  }
  icu::UnicodeString composed = nfc->normalize(stripped, err);
  if (U_FAILURE(err)) return std::string(text);
  std::string out;
  BreakWords(composed, purpose).toUTF8String(out);
  return out;
}

}  // namespace taquilla::search
