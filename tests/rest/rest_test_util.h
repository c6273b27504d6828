// Helpers shared by the rest/ unit tests: request builders, a scriptable
// Authenticator, and reading self-metrics back from a Registry.
#pragma once

#include <prometheus/registry.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/http.h"
#include "rest/request_context.h"

namespace rest::test_util {

inline core::HttpRequest MakeRequest(std::string method, std::string path, std::string body = "",
                                     std::string content_type = "application/json") {
  core::HttpRequest req;
  req.method = std::move(method);
  req.path = std::move(path);
  req.body = std::move(body);
  req.body.reserve(req.body.size() + core::kBodyPadding);  // as the server does
  if (!content_type.empty()) req.headers.emplace_back("content-type", std::move(content_type));
  return req;
}

// Accepts "Bearer good" (project "acme"), "Bearer other" (project "globex"),
// "Bearer readonly" (scope metrics:read only: the router answers 403 on
// metrics:write routes); anything else is 401.
class FakeAuthenticator final : public Authenticator {
 public:
  core::Result<RequestContext> Authenticate(const core::HttpRequest& req) const override {
    calls_.fetch_add(1);
    const std::string* auth = req.Header("authorization");
    if (auth == nullptr) return core::Fail(core::ErrorCode::kUnauthorized, "missing API key");
    if (*auth == "Bearer good") return RequestContext{"acct_1", "acme", "key_1", {}};
    if (*auth == "Bearer other") return RequestContext{"acct_2", "globex", "key_2", {}};
    if (*auth == "Bearer readonly") return RequestContext{"acct_1", "acme", "key_3", {"metrics:read"}};
    return core::Fail(core::ErrorCode::kUnauthorized, "unknown API key");
  }

  int calls() const { return calls_.load(); }

 private:
  mutable std::atomic<int> calls_{0};
};

// The value of a counter in `registry` whose labels include all of `labels`.
inline std::optional<double> CounterValue(
    const prometheus::Registry& registry, const std::string& name,
    const std::vector<std::pair<std::string, std::string>>& labels) {
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    if (f.name != name) continue;
    for (const prometheus::ClientMetric& m : f.metric) {
      bool all = true;
      for (const auto& [k, v] : labels) {
        bool found = false;
        for (const auto& l : m.label) found = found || (l.name == k && l.value == v);
        all = all && found;
      }
      if (all) return m.counter.value;
    }
  }
  return std::nullopt;
}

inline const std::string* ResponseHeader(const core::HttpResponse& resp, const std::string& name) {
  for (const auto& [k, v] : resp.headers) {
    if (k == name) return &v;
  }
  return nullptr;
}

}  // namespace rest::test_util
