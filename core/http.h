// Plain HTTP request/response values. Handlers are functions over these, so
// unit tests call them without a socket; core/http_server.h binds them to civetweb.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace core {

struct HttpRequest {
  std::string method;        // "GET", "POST", ...
  std::string path;          // URL-decoded path without the query string
  std::string query_string;  // raw, without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  // The body. The server reserves extra capacity after it so simdjson can parse
  // in place (see kBodyPadding).
  std::string body;
  // Set by the server when the declared or received body exceeded the limit;
  // `body` is then empty and the router answers 413.
  bool body_too_large = false;
  std::string remote_addr;

  // The first header named `name` (lower-case), or nullptr.
  const std::string* Header(std::string_view name) const;
  // The first query parameter `name`, percent-decoded, or nullopt.
  std::optional<std::string> QueryParam(std::string_view name) const;
  // All query parameters in order, percent-decoded.
  std::vector<std::pair<std::string, std::string>> QueryParams() const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers

  void SetHeader(std::string name, std::string value);
};

// Bytes of spare capacity kept after a request body (>= simdjson's padding).
inline constexpr size_t kBodyPadding = 64;

// Decodes %XX and '+' (as space) in a query component.
std::string PercentDecode(std::string_view s);

}  // namespace core
