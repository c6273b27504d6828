#include "rest/error_response.h"

#include <nlohmann/json.hpp>

namespace rest {

int HttpStatusFor(core::ErrorCode code) {
  using core::ErrorCode;
  switch (code) {
    case ErrorCode::kInvalidRequest: return 400;
    case ErrorCode::kCardinalityLimit: return 400;
    case ErrorCode::kUnauthorized: return 401;
    case ErrorCode::kInsufficientCredit: return 402;
    case ErrorCode::kBudgetExceeded: return 402;
    case ErrorCode::kForbidden: return 403;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kMethodNotAllowed: return 405;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kTypeMismatch: return 409;
    case ErrorCode::kPayloadTooLarge: return 413;
    case ErrorCode::kUnsupportedMediaType: return 415;
    case ErrorCode::kIdempotencyKeyReused: return 422;
    case ErrorCode::kRateLimited: return 429;
    case ErrorCode::kInternal: return 500;
    case ErrorCode::kUnavailable: return 503;
  }
  return 500;
}

std::string ErrorBody(const core::Error& error) {
  nlohmann::json err = {{"code", core::ErrorCodeName(error.code)}, {"message", error.message}};
  if (!error.param.empty()) err["param"] = error.param;
  // Messages may quote client bytes; never fail on invalid UTF-8 here.
  return nlohmann::json{{"error", std::move(err)}}.dump(-1, ' ', false,
                                                        nlohmann::json::error_handler_t::replace);
}

void WriteError(core::HttpResponse& resp, const core::Error& error) {
  resp.status = HttpStatusFor(error.code);
  resp.content_type = "application/json";
  resp.body = ErrorBody(error);
}

}  // namespace rest
