// Analyzer: the per-language text analysis that documents and queries share, so a word
// typed in a query meets the terms its inflected forms were indexed under.
//
//   1. ICU NFKC case folding (Unicode's full case folding: "KONZERTE" and "Konzerte" alike,
//      full-width forms folded to their plain forms).
//   2. Accent folding: combining marks are dropped after letters of the Latin, Greek,
//      Arabic and Hebrew scripts ("canción" = "cancion", Arabic harakat, Hebrew niqqud),
//      and Cyrillic "ё" folds to "е"; marks that are part of a letter elsewhere (Thai vowels,
//      Devanagari signs, Japanese dakuten) stay.
//   3. Word breaking: runs of Thai, Lao, Khmer and Burmese, written without spaces, are split
//      into words by ICU's dictionary-based BreakIterator, and also indexed as overlapping
//      pairs of grapheme clusters; a query searches its run's pairs as a phrase, so any
//      substring is found even where the dictionary split a title otherwise (it does not
//      know every name). Chinese and Japanese are indexed and queried as overlapping
//      character n-grams (Xapian's CJK n-grams), for the same reason.
//   4. Stemming by the language's Snowball stemmer where Xapian has one (Stem()); the
//      TermGenerator and the QueryParser apply it to the normalized words.
//
// An Analyzer is immutable after construction and shared: For() returns a process-wide
// instance per language, and every method is thread-safe.
#pragma once

#include <xapian.h>

#include <string>
#include <string_view>

namespace taquilla::search {

class Analyzer {
 public:
  // The analyzer of a BCP 47 language code ("es", "pt-BR", "zh-Hans"). Never fails: a
  // language without a stemmer is analysed without one.
  static const Analyzer& For(std::string_view lang);

  explicit Analyzer(std::string lang);

  const std::string& lang() const { return lang_; }
  // Xapian's stemmer for the language (a copy: Xapian::Stem is reference counted and
  // immutable); a no-op stemmer when has_stemmer() is false.
  Xapian::Stem Stem() const { return stem_; }
  bool has_stemmer() const { return has_stemmer_; }
  const std::string& stemmer_name() const { return stemmer_name_; }

  enum class Purpose { kDocument, kQuery };
  // Steps 1-3 on UTF-8 text (invalid UTF-8 is replaced, never an error). Characters that
  // are query syntax (quotes, '*', '-') pass through.
  std::string Normalize(std::string_view text, Purpose purpose = Purpose::kDocument) const;

  // Flags for Xapian::TermGenerator and Xapian::QueryParser (CJK n-grams).
  static constexpr unsigned kTermGeneratorFlags = Xapian::TermGenerator::FLAG_CJK_NGRAM;

 private:
  std::string lang_;
  Xapian::Stem stem_;
  bool has_stemmer_ = false;
  std::string stemmer_name_;
};

}  // namespace taquilla::search
