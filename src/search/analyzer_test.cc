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

}  // namespace
}  // namespace taquilla::search
