#include "i18n/messages.h"

#include <gtest/gtest.h>

namespace taquilla::i18n {
namespace {

Messages Two() {
  auto m = Messages::Parse({{"en.json", R"({"login.title": "Log in", "login.submit": "Go"})"},
                            {"ar.json", R"({"login.title": "تسجيل الدخول"})"},
                            {"pt-BR.json", R"({"login.title": "Entrar"})"},
                            {"README.txt", "ignored"}});
  EXPECT_TRUE(m.ok()) << m.error().message;
  return std::move(*m);
}

TEST(MessagesTest, FallsBackToEnglishThenTheKey) {
  Messages m = Two();
  EXPECT_EQ(m.Get("ar", "login.title"), "تسجيل الدخول");
  EXPECT_EQ(m.Get("ar", "login.submit"), "Go");
  EXPECT_EQ(m.Get("xx", "login.submit"), "Go");
  EXPECT_EQ(m.Get("ar", "no.such"), "no.such");
  auto all = m.All("ar");
  EXPECT_EQ(all.at("login.title"), "تسجيل الدخول");
  EXPECT_EQ(all.at("login.submit"), "Go");
}

TEST(MessagesTest, MatchesAndNegotiatesLanguages) {
  Messages m = Two();
  EXPECT_EQ(m.Match("AR"), "ar");
  EXPECT_EQ(m.Match("ar-EG"), "ar");
  EXPECT_EQ(m.Match("pt_br"), "pt-BR");
  EXPECT_EQ(m.Match("de"), "");
  EXPECT_EQ(m.Negotiate("de-CH, de;q=0.9, ar;q=0.5, en;q=0.4"), "ar");
  EXPECT_EQ(m.Negotiate("en;q=0.3, pt-BR"), "pt-BR");
  EXPECT_EQ(m.Negotiate("ar;q=0, fr"), "en");
  EXPECT_EQ(m.Negotiate(""), "en");
}

TEST(MessagesTest, RejectsBadCatalogs) {
  EXPECT_FALSE(Messages::Parse({{"de.json", "{}"}}).ok());  // no English
  EXPECT_FALSE(Messages::Parse({{"en.json", "[1]"}}).ok());
  EXPECT_FALSE(Messages::Parse({{"en.json", R"({"a": 1})"}}).ok());
  EXPECT_FALSE(Messages::Parse({{"en.json", R"({"a": "x", "a.b": "y"})"}}).ok());
}

TEST(MessagesTest, TheEmbeddedEnglishCatalogIsComplete) {
  const Messages& m = Messages::Default();
  EXPECT_EQ(m.Match("en-GB"), "en");
  EXPECT_NE(m.Get("en", "login.title"), "login.title");
}

TEST(MessagesTest, RightToLeftScripts) {
  EXPECT_TRUE(IsRightToLeft("ar"));
  EXPECT_TRUE(IsRightToLeft("he"));
  EXPECT_TRUE(IsRightToLeft("fa-IR"));
  EXPECT_FALSE(IsRightToLeft("en"));
  EXPECT_FALSE(IsRightToLeft("es"));
}

}  // namespace
}  // namespace taquilla::i18n
