// JsonBody: strict reading of small JSON request bodies (account routes and
// other control-plane routes; the hot ingest path uses simdjson instead).
// Every failure names the offending field in `param` (API.md section 1).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/http.h"
#include "core/status.h"

namespace rest {

class JsonBody {
 public:
  // Parses `body` (empty = {}); it must be a JSON object whose keys are all in
  // `allowed` ("idempotency_key" is always allowed).
  static core::Result<JsonBody> Parse(std::string_view body,
                                      const std::vector<std::string>& allowed);

  bool Has(const std::string& name) const { return doc_.contains(name); }
  bool IsNull(const std::string& name) const { return Has(name) && doc_[name].is_null(); }

  // Each returns nullopt when the field is absent (or null where noted), and an
  // error naming the field when it has the wrong type or range.
  core::Result<std::optional<std::string>> String(const std::string& name, size_t min_len,
                                                  size_t max_len) const;
  core::Result<std::optional<int64_t>> Int(const std::string& name, int64_t min,
                                           int64_t max) const;  // null -> nullopt
  core::Result<std::optional<double>> Number(const std::string& name, double min,
                                             double max) const;
  core::Result<std::optional<bool>> Bool(const std::string& name) const;
  core::Result<std::optional<std::vector<std::string>>> StringList(const std::string& name,
                                                                    size_t max_items) const;
  core::Result<std::optional<nlohmann::json>> Object(const std::string& name) const;

  std::optional<std::string> idempotency_key() const { return idempotency_key_; }

 private:
  nlohmann::json doc_;
  std::optional<std::string> idempotency_key_;
};

// `limit` query parameter: default when absent; 1..max otherwise (400 naming limit).
core::Result<int> QueryLimit(const core::HttpRequest& req, int default_limit, int max_limit);

// Serialises for a response body (invalid UTF-8 replaced, never throws).
std::string DumpJson(const nlohmann::json& j);

}  // namespace rest
