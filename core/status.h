// Error values and Result<T>: how every module reports failure.
// No exceptions cross a module boundary; a library exception is caught in the
// one file that uses the library and turned into an Error.
#pragma once

#include <string>
#include <string_view>

#include "core/expected.h"

namespace core {

// The error codes of the HTTP contract (API.md section 1), plus the specific
// codes it names. The mapping to HTTP statuses lives in rest/error_response.cc.
enum class ErrorCode {
  kInvalidRequest,
  kUnauthorized,
  kInsufficientCredit,
  kBudgetExceeded,
  kForbidden,
  kNotFound,
  kMethodNotAllowed,
  kConflict,
  kTypeMismatch,      // 409: a metric name reported with a second type
  kCardinalityLimit,  // 400: too many tag combinations for one metric
  kPayloadTooLarge,
  kUnsupportedMediaType,
  kIdempotencyKeyReused,
  kRateLimited,
  kInternal,
  kUnavailable,
};

// The wire spelling of a code, e.g. "invalid_request".
std::string_view ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string param;  // offending field as a JSON path ("points[3].value"), or empty
};

inline Error MakeError(ErrorCode code, std::string message, std::string param = {}) {
  return Error{code, std::move(message), std::move(param)};
}

template <typename T>
using Result = Expected<T, Error>;

// Result for operations that return nothing on success.
using Status = Expected<void, Error>;

inline Unexpected<Error> Fail(ErrorCode code, std::string message, std::string param = {}) {
  return Unexpected(Error{code, std::move(message), std::move(param)});
}

}  // namespace core
