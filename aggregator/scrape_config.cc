#include "aggregator/scrape_config.h"

#include <set>


namespace scrape {
namespace {

bool IsLabelName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::string Field(const ScrapeConfig& c, std::string_view field) {
  return "scrape_configs[job=" + c.job_name + "]." + std::string(field);
}

void AppendQueryEscaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
}

}  // namespace

core::Status ValidateScrapeConfig(const ScrapeConfig& c) {
  using core::ErrorCode;
  if (c.job_name.empty()) {
    return core::Fail(ErrorCode::kInvalidRequest, "job_name must not be empty",
                      "scrape_configs[].job_name");
  }
  if (c.scrape_interval_ms <= 0) {
    return core::Fail(ErrorCode::kInvalidRequest, "scrape_interval must be positive",
                      Field(c, "scrape_interval"));
  }
  if (c.scrape_timeout_ms <= 0 || c.scrape_timeout_ms > c.scrape_interval_ms) {
    return core::Fail(ErrorCode::kInvalidRequest,
                      "scrape_timeout must be positive and not greater than scrape_interval",
                      Field(c, "scrape_timeout"));
  }
  if (c.metrics_path.empty() || c.metrics_path[0] != '/') {
    return core::Fail(ErrorCode::kInvalidRequest, "metrics_path must start with '/'",
                      Field(c, "metrics_path"));
  }
  if (c.scheme != "http" && c.scheme != "https") {
    return core::Fail(ErrorCode::kInvalidRequest, "scheme must be http or https",
                      Field(c, "scheme"));
  }
  if (!c.bearer_token.empty() && c.basic_auth) {
    return core::Fail(ErrorCode::kInvalidRequest,
                      "at most one of bearer_token and basic_auth may be set",
                      Field(c, "basic_auth"));
  }
  if (c.basic_auth && c.basic_auth->username.empty()) {
    return core::Fail(ErrorCode::kInvalidRequest, "basic_auth needs a username",
                      Field(c, "basic_auth.username"));
  }
  if (c.body_size_limit < 0) {
    return core::Fail(ErrorCode::kInvalidRequest, "body_size_limit must not be negative",
                      Field(c, "body_size_limit"));
  }
  for (size_t i = 0; i < c.params.size(); ++i) {
    if (c.params[i].first.empty()) {
      return core::Fail(ErrorCode::kInvalidRequest, "parameter names must not be empty",
                        Field(c, "params"));
    }
  }
  for (size_t i = 0; i < c.static_configs.size(); ++i) {
    const StaticConfig& sc = c.static_configs[i];
    const std::string prefix = "static_configs[" + std::to_string(i) + "].";
    for (size_t j = 0; j < sc.targets.size(); ++j) {
      const std::string& t = sc.targets[j];
      const std::string field = Field(c, prefix + "targets[" + std::to_string(j) + "]");
      if (t.empty()) {
        return core::Fail(ErrorCode::kInvalidRequest, "target address must not be empty", field);
      }
      if (t.find("://") != std::string::npos || t.find('/') != std::string::npos) {
        return core::Fail(ErrorCode::kInvalidRequest,
                          "target must be host:port (set scheme and metrics_path separately): \"" +
                              t + "\"",
                          field);
      }
    }
    std::set<std::string> names;
    for (const core::Label& l : sc.labels) {
      const std::string field = Field(c, prefix + "labels." + l.name);
      if (!IsLabelName(l.name) || l.name.starts_with("__")) {
        return core::Fail(ErrorCode::kInvalidRequest,
                          "invalid label name \"" + l.name +
                              "\" (must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __)",
                          field);
      }
      if (!names.insert(l.name).second) {
        return core::Fail(ErrorCode::kInvalidRequest, "duplicate label name \"" + l.name + "\"",
                          field);
      }
    }
  }
  return {};
}

core::Status ValidateScrapeConfigs(const std::vector<ScrapeConfig>& configs) {
  std::set<std::string> jobs;
  for (const ScrapeConfig& c : configs) {
    if (auto s = ValidateScrapeConfig(c); !s) return s;
    if (!jobs.insert(c.job_name).second) {
      return core::Fail(core::ErrorCode::kInvalidRequest,
                        "duplicate job_name \"" + c.job_name + "\"", Field(c, "job_name"));
    }
  }
  return {};
}

std::vector<TargetSpec> TargetsOf(const ScrapeConfig& config) {
  std::vector<TargetSpec> out;
  for (const StaticConfig& sc : config.static_configs) {
    for (const std::string& address : sc.targets) {
      std::vector<core::Label> labels;
      bool has_job = false, has_instance = false;
      for (const core::Label& l : sc.labels) {
        if (l.value.empty()) continue;  // an empty label is no label
        has_job |= l.name == "job";
        has_instance |= l.name == "instance";
        labels.push_back(l);
      }
      if (!has_job) labels.push_back({"job", config.job_name});
      if (!has_instance) labels.push_back({"instance", address});
      TargetSpec spec{address, core::Labels(std::move(labels))};
      bool dup = false;
      for (const TargetSpec& t : out) dup |= t.address == spec.address && t.labels == spec.labels;
      if (!dup) out.push_back(std::move(spec));
    }
  }
  return out;
}

std::string ScrapeUrl(const ScrapeConfig& config, const std::string& address) {
  std::string url = config.scheme + "://" + address + config.metrics_path;
  char sep = config.metrics_path.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [k, v] : config.params) {
    url.push_back(sep);
    sep = '&';
    AppendQueryEscaped(url, k);
    url.push_back('=');
    AppendQueryEscaped(url, v);
  }
  return url;
}

}  // namespace scrape
