#include "core/http.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace core {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(PercentDecodeTest, DecodesEscapesAndPlus) {
  struct Case {
    std::string in;
    std::string want;
  };
  const Case cases[] = {
      {"", ""},
      {"plain", "plain"},
      {"a%20b", "a b"},
      {"a+b", "a b"},
      {"%2B", "+"},
      {"%2b%2F", "+/"},
      {"%e2%82%ac", "\xE2\x82\xAC"},
      {"%41%42%43", "ABC"},
      {"%00", std::string("\0", 1)},
      // Malformed escapes stay as they are.
      {"%zz", "%zz"},
      {"%4", "%4"},
      {"100%", "100%"},
      {"%%41", "%A"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.in);
    EXPECT_EQ(PercentDecode(c.in), c.want);
  }
}

TEST(HttpRequestTest, QueryParamsInOrderAndDecoded) {
  HttpRequest req;
  req.query_string = "a=1&b=two%20words&&c&d=&tags%5Bhost%5D=web+1&x=a=b";
  EXPECT_THAT(req.QueryParams(),
              ElementsAre(Pair("a", "1"), Pair("b", "two words"), Pair("c", ""), Pair("d", ""),
                          Pair("tags[host]", "web 1"), Pair("x", "a=b")));
}

TEST(HttpRequestTest, QueryParamReturnsFirstDecodedValue) {
  HttpRequest req;
  req.query_string = "name=api.latency&agg=p99&agg=p50&since=-1h&q=%7B%22a%22%7D";
  EXPECT_EQ(req.QueryParam("name"), "api.latency");
  EXPECT_EQ(req.QueryParam("agg"), "p99");
  EXPECT_EQ(req.QueryParam("since"), "-1h");
  EXPECT_EQ(req.QueryParam("q"), "{\"a\"}");
  EXPECT_EQ(req.QueryParam("missing"), std::nullopt);
  EXPECT_EQ(req.QueryParam("Name"), std::nullopt) << "parameter names are case-sensitive";
}

TEST(HttpRequestTest, EmptyQueryStringHasNoParams) {
  HttpRequest req;
  EXPECT_TRUE(req.QueryParams().empty());
  EXPECT_EQ(req.QueryParam(""), std::nullopt);
}

TEST(HttpRequestTest, HeaderFindsFirstByLowerCaseName) {
  HttpRequest req;
  req.headers = {{"content-type", "application/json"},
                 {"x-dup", "first"},
                 {"x-dup", "second"},
                 {"empty", ""}};
  ASSERT_NE(req.Header("content-type"), nullptr);
  EXPECT_EQ(*req.Header("content-type"), "application/json");
  ASSERT_NE(req.Header("x-dup"), nullptr);
  EXPECT_EQ(*req.Header("x-dup"), "first");
  ASSERT_NE(req.Header("empty"), nullptr);
  EXPECT_EQ(*req.Header("empty"), "");
  EXPECT_EQ(req.Header("authorization"), nullptr);
}

TEST(HttpResponseTest, SetHeaderReplacesExisting) {
  HttpResponse resp;
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.content_type, "application/json");
  resp.SetHeader("Allow", "GET");
  resp.SetHeader("Retry-After", "5");
  resp.SetHeader("Allow", "GET, POST");
  EXPECT_THAT(resp.headers, ElementsAre(Pair("Allow", "GET, POST"), Pair("Retry-After", "5")));
}

}  // namespace
}  // namespace core
