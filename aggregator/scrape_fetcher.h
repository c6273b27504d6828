// HttpFetcher: how a scrape target's body is fetched. An interface so the
// scrape logic (scrape.h) is tested without a network; curl_fetcher.h is the
// libcurl implementation.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace scrape {

struct FetchRequest {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. {"Accept", "..."}
  int64_t timeout_ms = 10'000;  // whole request, connect included
  int64_t body_size_limit = 0;  // bytes of decoded body; 0 = unlimited
};

struct FetchResponse {
  int status = 0;            // HTTP status
  std::string content_type;  // as sent, or empty
  std::string body;          // decoded (gzip undone)
};

// Why a fetch failed, so the scraper can word its reason.
enum class FetchError {
  kNone,
  kTimeout,        // the request took longer than timeout_ms
  kBodyTooLarge,   // more than body_size_limit bytes
  kTransport,      // connect/TLS/protocol failure
};

// Implementations say whether they are thread-safe.
class HttpFetcher {
 public:
  virtual ~HttpFetcher() = default;
  // GETs request.url into `response` (whose buffers may be reused). A non-2xx
  // status is a success here (the caller judges it). On failure `*error` says why
  // and the Error's message has the details.
  virtual core::Status Fetch(const FetchRequest& request, FetchResponse& response,
                             FetchError* error) = 0;
};

}  // namespace scrape
