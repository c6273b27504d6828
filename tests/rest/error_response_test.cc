#include "rest/error_response.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>

namespace rest {
namespace {

using core::ErrorCode;
using nlohmann::json;

TEST(ErrorResponseTest, EveryCodeMapsToItsStatus) {
  struct Case {
    ErrorCode code;
    int status;
    std::string name;
  };
  const Case cases[] = {
      {ErrorCode::kInvalidRequest, 400, "invalid_request"},
      {ErrorCode::kCardinalityLimit, 400, "cardinality_limit"},
      {ErrorCode::kUnauthorized, 401, "unauthorized"},
      {ErrorCode::kInsufficientCredit, 402, "insufficient_credit"},
      {ErrorCode::kBudgetExceeded, 402, "budget_exceeded"},
      {ErrorCode::kForbidden, 403, "forbidden"},
      {ErrorCode::kNotFound, 404, "not_found"},
      {ErrorCode::kMethodNotAllowed, 405, "method_not_allowed"},
      {ErrorCode::kConflict, 409, "conflict"},
      {ErrorCode::kTypeMismatch, 409, "type_mismatch"},
      {ErrorCode::kPayloadTooLarge, 413, "payload_too_large"},
      {ErrorCode::kUnsupportedMediaType, 415, "unsupported_media_type"},
      {ErrorCode::kIdempotencyKeyReused, 422, "idempotency_key_reused"},
      {ErrorCode::kRateLimited, 429, "rate_limited"},
      {ErrorCode::kInternal, 500, "internal_error"},
      {ErrorCode::kUnavailable, 503, "unavailable"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(HttpStatusFor(c.code), c.status);
    core::HttpResponse resp;
    resp.content_type = "text/plain";
    WriteError(resp, core::MakeError(c.code, "something about " + c.name, "points[3].value"));
    EXPECT_EQ(resp.status, c.status);
    EXPECT_EQ(resp.content_type, "application/json");
    const json body = json::parse(resp.body);
    ASSERT_TRUE(body.is_object());
    ASSERT_EQ(body.size(), 1u);
    const json& err = body.at("error");
    ASSERT_EQ(err.size(), 3u) << err.dump();
    EXPECT_EQ(err.at("code"), c.name);
    EXPECT_EQ(err.at("message"), "something about " + c.name);
    EXPECT_EQ(err.at("param"), "points[3].value");
  }
}

TEST(ErrorResponseTest, ParamIsOmittedWhenEmpty) {
  const json body = json::parse(ErrorBody(core::MakeError(ErrorCode::kNotFound, "no route")));
  EXPECT_EQ(body, json::parse(R"({"error":{"code":"not_found","message":"no route"}})"));
}

TEST(ErrorResponseTest, EscapesAndSurvivesInvalidUtf8) {
  const std::string msg = "bad \"quote\" \\ \n and \xFF\xFE bytes, caf\xC3\xA9";
  const std::string text = ErrorBody(core::MakeError(ErrorCode::kInvalidRequest, msg, "na\xC3\xAFve"));
  json body;
  ASSERT_NO_THROW(body = json::parse(text)) << text;
  const std::string got = body["error"]["message"];
  EXPECT_EQ(got.substr(0, 20), "bad \"quote\" \\ \n and ");
  EXPECT_NE(got.find("caf\xC3\xA9"), std::string::npos);
  EXPECT_EQ(got.find('\xFF'), std::string::npos) << "invalid bytes are replaced";
  EXPECT_EQ(body["error"]["param"], "na\xC3\xAFve");
}

}  // namespace
}  // namespace rest
