#include "core/status.h"

namespace core {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidRequest: return "invalid_request";
    case ErrorCode::kUnauthorized: return "unauthorized";
    case ErrorCode::kInsufficientCredit: return "insufficient_credit";
    case ErrorCode::kBudgetExceeded: return "budget_exceeded";
    case ErrorCode::kForbidden: return "forbidden";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kMethodNotAllowed: return "method_not_allowed";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kTypeMismatch: return "type_mismatch";
    case ErrorCode::kCardinalityLimit: return "cardinality_limit";
    case ErrorCode::kPayloadTooLarge: return "payload_too_large";
    case ErrorCode::kUnsupportedMediaType: return "unsupported_media_type";
    case ErrorCode::kIdempotencyKeyReused: return "idempotency_key_reused";
    case ErrorCode::kRateLimited: return "rate_limited";
    case ErrorCode::kInternal: return "internal_error";
    case ErrorCode::kUnavailable: return "unavailable";
  }
  return "internal_error";
}

}  // namespace core
