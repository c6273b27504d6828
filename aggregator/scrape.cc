#include "aggregator/scrape.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdio>

namespace scrape {
namespace {

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t n = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                       static_cast<uint8_t>(in[i + 2]);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  if (i < in.size()) {
    uint32_t n = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<uint8_t>(in[i + 1]) << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::string Seconds(int64_t ms) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, static_cast<double>(ms) / 1000.0);
  return std::string(buf, r.ptr);
}

// Go's %.50s / %.50q for the limit messages.
std::string Cut50(std::string_view s) { return std::string(s.substr(0, 50)); }

core::Labels ReportLabels(std::string_view name, const core::Labels& target) {
  std::vector<core::Label> labels = target.items();
  labels.push_back({"__name__", std::string(name)});
  return core::Labels(std::move(labels));
}

bool Has(const std::vector<core::Label>& labels, std::string_view name) {
  for (const core::Label& l : labels) {
    if (l.name == name) return true;
  }
  return false;
}

}  // namespace

double StaleNaN() { return std::bit_cast<double>(kStaleNaNBits); }
bool IsStaleNaN(double v) { return std::bit_cast<uint64_t>(v) == kStaleNaNBits; }

int64_t ScrapeOffsetMs(int64_t interval_ms, uint64_t target_hash) {
  if (interval_ms <= 0) return 0;
  return static_cast<int64_t>(target_hash % static_cast<uint64_t>(interval_ms));
}

ScrapeTarget::ScrapeTarget(const ScrapeConfig& config, TargetSpec spec, HttpFetcher& fetcher,
                           ScrapeSink& sink, const core::Clock& clock)
    : config_(config), spec_(std::move(spec)), fetcher_(fetcher), sink_(sink), clock_(clock) {
  request_.url = ScrapeUrl(config_, spec_.address);
  request_.timeout_ms = config_.scrape_timeout_ms;
  request_.body_size_limit = config_.body_size_limit;
  request_.headers.emplace_back("Accept", std::string(kAcceptHeader));
  request_.headers.emplace_back("User-Agent", "tally-scraper/0.1");
  request_.headers.emplace_back("X-Prometheus-Scrape-Timeout-Seconds",
                                Seconds(config_.scrape_timeout_ms));
  if (!config_.bearer_token.empty()) {
    request_.headers.emplace_back("Authorization", "Bearer " + config_.bearer_token);
  } else if (config_.basic_auth) {
    request_.headers.emplace_back(
        "Authorization",
        "Basic " + Base64(config_.basic_auth->username + ":" + config_.basic_auth->password));
  }
  hash_ = core::HashBytes(request_.url, spec_.labels.Hash());
  up_labels_ = ReportLabels("up", spec_.labels);
  duration_labels_ = ReportLabels("scrape_duration_seconds", spec_.labels);
  scraped_labels_ = ReportLabels("scrape_samples_scraped", spec_.labels);
  post_relabel_labels_ = ReportLabels("scrape_samples_post_metric_relabeling", spec_.labels);
  series_added_labels_ = ReportLabels("scrape_series_added", spec_.labels);
}

int64_t ScrapeTarget::NextScrapeMs(int64_t now_ms) const {
  const int64_t interval = config_.scrape_interval_ms;
  const int64_t offset = ScrapeOffsetMs(interval, hash_);
  int64_t base = now_ms - now_ms % interval;
  if (now_ms % interval < 0) base -= interval;
  int64_t t = base + offset;
  if (t < now_ms) t += interval;
  return t;
}

core::Result<core::Labels> ScrapeTarget::BuildLabels(const textparse::Parser& p) const {
  std::vector<core::Label> labels;
  labels.reserve(p.Labels().size() + spec_.labels.size() + 1);
  labels.push_back({"__name__", std::string(p.MetricName())});
  for (const textparse::LabelView& l : p.Labels()) {
    if (l.value.empty()) continue;  // an empty label is no label
    labels.push_back({std::string(l.name), std::string(l.value)});
  }
  const std::vector<core::Label>& target = spec_.labels.items();
  if (config_.honor_labels) {
    for (const core::Label& t : target) {
      if (!Has(labels, t.name)) labels.push_back(t);
    }
  } else {
    // Prometheus' resolveConflictingExposedLabels: scraped labels that clash with
    // target labels become exported_<name> (shortest names first, prefix repeated
    // until free).
    std::vector<core::Label> conflicting;
    std::vector<core::Label> kept;
    for (core::Label& l : labels) {
      bool clash = false;
      for (const core::Label& t : target) clash |= t.name == l.name;
      (clash ? conflicting : kept).push_back(std::move(l));
    }
    std::stable_sort(conflicting.begin(), conflicting.end(),
                     [](const core::Label& a, const core::Label& b) {
                       return a.name.size() < b.name.size();
                     });
    for (size_t i = 0; i < conflicting.size(); ++i) {
      std::string name = conflicting[i].name;
      while (true) {
        name = "exported_" + name;
        bool taken = Has(kept, name) || Has(target, name);
        for (size_t j = 0; j < i && !taken; ++j) taken = conflicting[j].name == name;
        if (!taken) break;
      }
      conflicting[i].name = std::move(name);
    }
    labels = std::move(kept);
    for (core::Label& l : conflicting) labels.push_back(std::move(l));
    for (const core::Label& t : target) labels.push_back(t);
  }

  const std::string_view metric = p.MetricName();
  if (config_.label_limit > 0 && labels.size() > config_.label_limit) {
    return core::Fail(core::ErrorCode::kInvalidRequest,
                      "label_limit exceeded (metric: " + Cut50(metric) +
                          ", number of labels: " + std::to_string(labels.size()) +
                          ", limit: " + std::to_string(config_.label_limit) + ")");
  }
  for (const core::Label& l : labels) {
    if (config_.label_name_length_limit > 0 && l.name.size() > config_.label_name_length_limit) {
      return core::Fail(core::ErrorCode::kInvalidRequest,
                        "label_name_length_limit exceeded (metric: " + Cut50(metric) +
                            ", label name: " + Cut50(l.name) +
                            ", length: " + std::to_string(l.name.size()) +
                            ", limit: " + std::to_string(config_.label_name_length_limit) + ")");
    }
    if (config_.label_value_length_limit > 0 &&
        l.value.size() > config_.label_value_length_limit) {
      return core::Fail(core::ErrorCode::kInvalidRequest,
                        "label_value_length_limit exceeded (metric: " + Cut50(metric) +
                            ", label name: " + Cut50(l.name) + ", value: \"" + Cut50(l.value) +
                            "\", length: " + std::to_string(l.value.size()) +
                            ", limit: " + std::to_string(config_.label_value_length_limit) + ")");
    }
  }
  return core::Labels(std::move(labels));
}

core::Status ScrapeTarget::ParseBody(std::string_view body, textparse::Format format,
                                     int64_t now_ms, ScrapeResult& result) {
  parser_.Reset(body, format);
  uint64_t over_limit = 0;
  while (true) {
    auto e = parser_.Next();
    if (!e) return core::Unexpected(e.error());
    if (*e == textparse::Entry::kEof) break;
    if (*e != textparse::Entry::kSeries) continue;
    ++result.samples_scraped;
    const bool explicit_ts = config_.honor_timestamps && parser_.HasTimestamp();
    const int64_t t = explicit_ts ? parser_.TimestampMs() : now_ms;
    auto it = cache_.find(parser_.Series());
    if (it == cache_.end()) {
      auto labels = BuildLabels(parser_);
      if (!labels) return core::Unexpected(labels.error());
      it = cache_.emplace(std::string(parser_.Series()), CacheEntry{std::move(*labels), 0}).first;
      ++result.series_added;
    }
    CacheEntry& entry = it->second;
    if (entry.last_seen == iter_) {
      ++result.duplicates;
      continue;
    }
    entry.last_seen = iter_;
    if (config_.sample_limit > 0 && pending_.size() >= config_.sample_limit) {
      ++over_limit;
      continue;  // keep counting, as Prometheus does
    }
    pending_.push_back(Pending{&entry, t, parser_.Value()});
    if (!explicit_ts) cur_series_.push_back(&entry);
  }
  result.samples_post_relabel = result.samples_scraped;
  if (over_limit > 0) {
    return core::Fail(core::ErrorCode::kInvalidRequest,
                      "sample_limit exceeded (" + std::to_string(pending_.size() + over_limit) +
                          " samples, limit " + std::to_string(config_.sample_limit) + ")");
  }
  return {};
}

void ScrapeTarget::WriteStale(const std::vector<const CacheEntry*>& series, int64_t now_ms,
                              ScrapeResult* result) {
  for (const CacheEntry* e : series) {
    if (e->last_seen == iter_ && result != nullptr && result->up) continue;  // still there
    sink_.Append(e->labels, now_ms, StaleNaN());
    if (result != nullptr) ++result->stale_markers;
  }
}

void ScrapeTarget::AppendReport(const ScrapeResult& r, int64_t now_ms) {
  sink_.Append(up_labels_, now_ms, r.up ? 1 : 0);
  sink_.Append(duration_labels_, now_ms, static_cast<double>(r.duration_ns) / 1e9);
  sink_.Append(scraped_labels_, now_ms, static_cast<double>(r.samples_scraped));
  sink_.Append(post_relabel_labels_, now_ms, static_cast<double>(r.samples_post_relabel));
  sink_.Append(series_added_labels_, now_ms, static_cast<double>(r.series_added));
  reported_ = true;
}

ScrapeResult ScrapeTarget::ScrapeOnce(int64_t now_ms) {
  ++iter_;
  ScrapeResult result;
  pending_.clear();
  cur_series_.clear();
  const int64_t start_ns = clock_.MonotonicNs();
  FetchError fetch_error = FetchError::kNone;
  auto fetched = fetcher_.Fetch(request_, response_, &fetch_error);
  if (!fetched) {
    switch (fetch_error) {
      case FetchError::kTimeout:
        result.error = "context deadline exceeded (scrape_timeout " +
                       Seconds(config_.scrape_timeout_ms) + "s)";
        break;
      case FetchError::kBodyTooLarge:
        result.error = "body size limit exceeded (body_size_limit " +
                       std::to_string(config_.body_size_limit) + " bytes)";
        break;
      default:
        result.error = fetched.error().message;
    }
  } else if (response_.status < 200 || response_.status > 299) {
    result.error = "server returned HTTP status " + std::to_string(response_.status);
  } else {
    auto parsed = ParseBody(response_.body,
                            textparse::FormatFromContentType(response_.content_type), now_ms,
                            result);
    if (parsed) {
      result.up = true;
    } else {
      result.error = parsed.error().message;
    }
  }
  result.duration_ns = clock_.MonotonicNs() - start_ns;

  if (result.up) {
    for (const Pending& p : pending_) sink_.Append(p.entry->labels, p.t_ms, p.v);
    WriteStale(prev_series_, now_ms, &result);
    prev_series_.swap(cur_series_);
  } else {
    WriteStale(prev_series_, now_ms, &result);
    prev_series_.clear();
  }
  AppendReport(result, now_ms);
  sink_.Commit();

  // Forget series seen neither in this scrape nor in the one before.
  std::erase_if(cache_, [&](const auto& kv) { return kv.second.last_seen + 1 < iter_; });
  pending_.clear();
  cur_series_.clear();
  return result;
}

void ScrapeTarget::MarkStale(int64_t now_ms) {
  WriteStale(prev_series_, now_ms, nullptr);
  prev_series_.clear();
  if (reported_) {
    for (const core::Labels* l : {&up_labels_, &duration_labels_, &scraped_labels_,
                                  &post_relabel_labels_, &series_added_labels_}) {
      sink_.Append(*l, now_ms, StaleNaN());
    }
    reported_ = false;
  }
  sink_.Commit();
  cache_.clear();
}

}  // namespace scrape
