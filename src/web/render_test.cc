#include "web/render.h"

#include <gtest/gtest.h>
#include <zlib.h>

namespace taquilla::web {
namespace {

std::string Gunzip(const std::string& in) {
  z_stream zs{};
  inflateInit2(&zs, 15 + 16);
  std::string out(1 << 20, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  inflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

TEST(Web, GzipRoundTrips) {
  std::string body(5000, 'a');
  body += "<html lang=\"es\">ñandú</html>";
  std::string z = Gzip(body);
  ASSERT_FALSE(z.empty());
  EXPECT_LT(z.size(), body.size() / 10);
  EXPECT_TRUE(Gunzip(z) == body);
  // The thread's deflate state is reused: a second body comes out whole too.
  std::string other = "{\"id\":1,\"title\":\"Концерт\"}";
  EXPECT_EQ(Gunzip(Gzip(other)), other);
  EXPECT_TRUE(Gunzip(Gzip(body)) == body);
}

TEST(Web, ETagsAreStrongAndMatchIfNoneMatchLists) {
  std::string e = ETagOf("hello");
  EXPECT_EQ(e.size(), 34u);
  EXPECT_EQ(e.front(), '"');
  EXPECT_NE(e, ETagOf("hello!"));
  EXPECT_TRUE(ETagMatches(e, e));
  EXPECT_TRUE(ETagMatches("\"x\", W/" + e, e));
  EXPECT_TRUE(ETagMatches("*", e));
  EXPECT_FALSE(ETagMatches("\"x\"", e));
  EXPECT_FALSE(ETagMatches("", e));
}

TEST(Web, AcceptEncoding) {
  EXPECT_TRUE(AcceptsGzip("gzip, deflate, br"));
  EXPECT_TRUE(AcceptsGzip("br;q=1.0, gzip;q=0.8"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("identity"));
  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_TRUE(AcceptsGzip("*"));
}

TEST(Web, RenderPageEscapesEveryValue) {
  boost::json::object data{{"title", "<script>alert(1)</script>"},
                           {"lang", "es"},
                           {"dir", "ltr"},
                           {"t", NestedCatalog({{"app.name", "Taquilla"}})},
                           {"error", "\"><img src=x onerror=alert(1)>"}};
  auto html = RenderPage("read/error", data);
  ASSERT_TRUE(html.ok()) << html.error().message;
  EXPECT_EQ(html->find("<script>alert"), std::string::npos);
  EXPECT_EQ(html->find("<img src=x"), std::string::npos);
  EXPECT_NE(html->find("&lt;script&gt;"), std::string::npos);
  EXPECT_NE(html->find("<html lang=\"es\" dir=\"ltr\">"), std::string::npos);
}

TEST(Web, NestedCatalog) {
  auto n = NestedCatalog({{"a.b", "1"}, {"a.c", "2"}, {"d", "3"}});
  EXPECT_EQ(n["a"].as_object()["b"].as_string(), "1");
  EXPECT_EQ(n["d"].as_string(), "3");
}

}  // namespace
}  // namespace taquilla::web
