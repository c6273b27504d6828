#include "core/status.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace core {
namespace {

TEST(StatusTest, ErrorCodeNamesMatchTheHttpContract) {
  struct Case {
    ErrorCode code;
    std::string_view name;
  };
  const Case cases[] = {
      {ErrorCode::kInvalidRequest, "invalid_request"},
      {ErrorCode::kUnauthorized, "unauthorized"},
      {ErrorCode::kInsufficientCredit, "insufficient_credit"},
      {ErrorCode::kBudgetExceeded, "budget_exceeded"},
      {ErrorCode::kForbidden, "forbidden"},
      {ErrorCode::kNotFound, "not_found"},
      {ErrorCode::kMethodNotAllowed, "method_not_allowed"},
      {ErrorCode::kConflict, "conflict"},
      {ErrorCode::kTypeMismatch, "type_mismatch"},
      {ErrorCode::kCardinalityLimit, "cardinality_limit"},
      {ErrorCode::kPayloadTooLarge, "payload_too_large"},
      {ErrorCode::kUnsupportedMediaType, "unsupported_media_type"},
      {ErrorCode::kIdempotencyKeyReused, "idempotency_key_reused"},
      {ErrorCode::kRateLimited, "rate_limited"},
      {ErrorCode::kInternal, "internal_error"},
      {ErrorCode::kUnavailable, "unavailable"},
  };
  std::set<std::string_view> seen;
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.name));
    EXPECT_EQ(ErrorCodeName(c.code), c.name);
    seen.insert(ErrorCodeName(c.code));
  }
  EXPECT_EQ(seen.size(), std::size(cases)) << "two codes share a wire name";
}

TEST(StatusTest, FailCarriesCodeMessageAndParam) {
  Result<int> r = Fail(ErrorCode::kInvalidRequest, "bad value", "points[3].value");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidRequest);
  EXPECT_EQ(r.error().message, "bad value");
  EXPECT_EQ(r.error().param, "points[3].value");
}

TEST(StatusTest, ResultHoldsValue) {
  Result<int> r = 42;
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 42);
  Status ok;
  EXPECT_TRUE(ok.has_value());
  Status bad = Fail(ErrorCode::kNotFound, "gone");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(bad.error().param.empty());
}

TEST(StatusTest, MakeErrorBuildsPlainError) {
  Error e = MakeError(ErrorCode::kTypeMismatch, "no", "type");
  EXPECT_EQ(e.code, ErrorCode::kTypeMismatch);
  EXPECT_EQ(e.message, "no");
  EXPECT_EQ(e.param, "type");
}

}  // namespace
}  // namespace core
