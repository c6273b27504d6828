// The one place errors map to HTTP statuses and the JSON error body of API.md:
// {"error":{"code":"invalid_request","message":"...","param":"start_date"}}
#pragma once

#include "core/http.h"
#include "core/status.h"

namespace rest {

int HttpStatusFor(core::ErrorCode code);

// The JSON error body for `error`.
std::string ErrorBody(const core::Error& error);

// Sets status, content type and body of `resp` from `error`.
void WriteError(core::HttpResponse& resp, const core::Error& error);

}  // namespace rest
