#include "search/analyzer.h"

#include <gtest/gtest.h>

namespace taquilla::search {
namespace {

TEST(AnalyzerTest, FoldsCaseAndLatinAccents) {
  EXPECT_EQ(Analyzer::For("es").Normalize("CANCIÓN Ñandú"), "cancion nandu");
  EXPECT_EQ(Analyzer::For("de").Normalize("Konzerte ÜBER Straße"), "konzerte uber strasse");
}

TEST(AnalyzerTest, KeepsMarksThatAreLetters) {
  // Thai vowels and Japanese dakuten are not accents.
  EXPECT_NE(Analyzer::For("th").Normalize("คอนเสิร์ต").find("\u0e34"), std::string::npos);
  EXPECT_EQ(Analyzer::For("ja").Normalize("ガ"), "ガ");
}

TEST(AnalyzerTest, CyrillicYoFoldsToYe) {
  EXPECT_EQ(Analyzer::For("ru").Normalize("Ёлка"), "елка");
}

TEST(AnalyzerTest, BreaksThaiIntoWords) {
  std::string s = Analyzer::For("th").Normalize("คอนเสิร์ตร็อคกรุงเทพ");
  EXPECT_NE(s.find(' '), std::string::npos) << s;
}

TEST(AnalyzerTest, StemmersWhereXapianHasThem) {
  EXPECT_TRUE(Analyzer::For("es").has_stemmer());
  EXPECT_TRUE(Analyzer::For("pt-BR").has_stemmer());
  EXPECT_TRUE(Analyzer::For("tr").has_stemmer());
  EXPECT_TRUE(Analyzer::For("ar").has_stemmer());
  EXPECT_FALSE(Analyzer::For("ja").has_stemmer());
  EXPECT_FALSE(Analyzer::For("pl").has_stemmer());
  EXPECT_EQ(Analyzer::For("es").Stem()("conciertos"), Analyzer::For("es").Stem()("concierto"));
}

TEST(AnalyzerTest, FoldsMarksOnlyWhereTheyAreAccents) {
  // Arabic harakat and tatweel, Hebrew niqqud, Greek tonos go; Cyrillic й and Devanagari
  // signs stay.
  EXPECT_EQ(Analyzer::For("ar").Normalize("حَفْلَة"), "حفلة");
  EXPECT_EQ(Analyzer::For("ar").Normalize("حفـــلة"), "حفلة");
  EXPECT_EQ(Analyzer::For("he").Normalize("שָׁלוֹם"), "שלום");
  EXPECT_EQ(Analyzer::For("el").Normalize("Ωδείο"), "ωδειο");
  EXPECT_EQ(Analyzer::For("ru").Normalize("Чайковский"), "чайковский");
  EXPECT_EQ(Analyzer::For("hi").Normalize("संगीत"), "संगीत");
}

TEST(AnalyzerTest, CompatibilityFormsAndInvalidUtf8) {
  EXPECT_EQ(Analyzer::For("ja").Normalize("ＴＯＫＹＯ"), "tokyo");
  EXPECT_EQ(Analyzer::For("en").Normalize("\uFB01esta"), "fiesta");  // the fi ligature
  EXPECT_EQ(Analyzer::For("en").Normalize("a\xff"
                                          "b"),
            "a\uFFFD"
            "b");
  EXPECT_EQ(Analyzer::For("en").Normalize(""), "");
}

TEST(AnalyzerTest, QuerySyntaxPassesThrough) {
  EXPECT_EQ(Analyzer::For("es").Normalize("\"Teatro Real\" -rock* +Madrid"),
            "\"teatro real\" -rock* +madrid");
}

TEST(AnalyzerTest, TurkishCaseFolding) {
  // Unicode's full case folding, not Turkish's: İ and I both fold to i, while the dotless
  // ı stays a letter of its own (see searcher_test's TurkishKnownGaps).
  const Analyzer& tr = Analyzer::For("tr");
  EXPECT_EQ(tr.Normalize("İSTANBUL"), "istanbul");
  EXPECT_EQ(tr.Normalize("ISTANBUL"), "istanbul");
  EXPECT_EQ(tr.Normalize("ılık"), "ılık");
  EXPECT_EQ(tr.Normalize("KONSERLER"), "konserler");
}

// The pairs the search tests rely on, at the stemmer.
TEST(AnalyzerTest, StemmersConflateInflections) {
  auto same = [](const char* lang, const char* a, const char* b) {
    const Analyzer& an = Analyzer::For(lang);
    EXPECT_EQ(an.Stem()(an.Normalize(a)), an.Stem()(an.Normalize(b)))
        << lang << ": " << a << " / " << b;
  };
  same("de", "Konzerte", "Konzert");
  same("ru", "концерты", "концерт");
  same("ru", "концертов", "концерт");
  same("tr", "konserler", "konser");
  same("tr", "KONSERLER", "konser");
  same("ar", "الحفلات", "حفلة");
  same("ar", "لاعبين", "لاعب");
  same("es", "canciones", "canción");
  EXPECT_EQ(Analyzer::For("nb").stemmer_name(), Analyzer::For("no").stemmer_name());
  EXPECT_FALSE(Analyzer::For("zh-Hans").has_stemmer());
  EXPECT_FALSE(Analyzer::For("").has_stemmer());
}

}  // namespace
}  // namespace taquilla::search
