#include "rest/json_body.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rest {
namespace {

using ::testing::HasSubstr;

TEST(JsonBodyTest, EmptyBodyIsAnEmptyObject) {
  auto b = JsonBody::Parse("  \n", {"name"});
  ASSERT_TRUE(b);
  auto name = b->String("name", 1, 10);
  ASSERT_TRUE(name);
  EXPECT_FALSE(name->has_value());
}

TEST(JsonBodyTest, BadDocumentsNameTheBody) {
  for (const char* text : {"{", "[1]", "\"x\"", "nul", "{\"a\":1,}"}) {
    SCOPED_TRACE(text);
    auto b = JsonBody::Parse(text, {"a"});
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().code, core::ErrorCode::kInvalidRequest);
    EXPECT_EQ(b.error().param, "body");
  }
  auto bad_utf8 = JsonBody::Parse("{\"a\":\"\xff\"}", {"a"});
  ASSERT_FALSE(bad_utf8);
  EXPECT_THAT(bad_utf8.error().message, HasSubstr("UTF-8"));
}

TEST(JsonBodyTest, UnknownFieldsAreRejectedByName) {
  auto b = JsonBody::Parse(R"({"name":"x","nmae":"y"})", {"name", "scopes"});
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().param, "nmae");
  EXPECT_THAT(b.error().message, HasSubstr("allowed: name, scopes"));
}

TEST(JsonBodyTest, TypedGettersNameTheField) {
  auto b = JsonBody::Parse(
      R"({"s":5,"i":1.5,"n":"x","b":1,"l":["a",2],"o":[],"big":1e300,"ok":7,"neg":-1,
          "idempotency_key":"abc"})",
      {"s", "i", "n", "b", "l", "o", "big", "ok", "neg"});
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->String("s", 0, 9).error().param, "s");
  EXPECT_EQ(b->Int("i", 0, 9).error().param, "i");
  EXPECT_EQ(b->Number("n", 0, 9).error().param, "n");
  EXPECT_EQ(b->Bool("b").error().param, "b");
  EXPECT_EQ(b->StringList("l", 9).error().param, "l[1]");
  EXPECT_EQ(b->Object("o").error().param, "o");
  EXPECT_EQ(b->Int("big", 0, 9).error().param, "big");
  EXPECT_EQ(b->Int("neg", 0, 9).error().param, "neg");
  auto ok = b->Int("ok", 0, 9);
  ASSERT_TRUE(ok);
  EXPECT_EQ(**ok, 7);
  EXPECT_EQ(b->idempotency_key(), "abc");
}

TEST(JsonBodyTest, IdempotencyKeyMustBeAShortString) {
  auto b = JsonBody::Parse(R"({"idempotency_key":5})", {});
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().param, "idempotency_key");
}

TEST(QueryLimitTest, DefaultsAndBounds) {
  core::HttpRequest req;
  EXPECT_EQ(*QueryLimit(req, 100, 1000), 100);
  for (const char* q : {"limit=0", "limit=1001", "limit=abc", "limit=5x", "limit="}) {
    SCOPED_TRACE(q);
    req.query_string = q;
    auto l = QueryLimit(req, 100, 1000);
    ASSERT_FALSE(l);
    EXPECT_EQ(l.error().param, "limit");
  }
  req.query_string = "limit=1000";
  EXPECT_EQ(*QueryLimit(req, 100, 1000), 1000);
}

}  // namespace
}  // namespace rest
