// The price table loader: YAML text -> PriceEntry list, or every error found.
// yaml-cpp comes in through config/yaml_util.h; every YAML::Exception stops here.

#include "config/prices_loader.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "config/yaml_util.h"
#include "core/time_parse.h"

namespace config {

namespace {

using yaml_util::Describe;
using yaml_util::Entry;
using yaml_util::Field;
using yaml_util::IsPlain;
using yaml_util::Quote;

constexpr int kMaxDecimals = 6;  // micro-USD
constexpr int64_t kMaxPriceMicro = 1'000'000 * kMicroUsdPerUsd;  // 1,000,000 USD per 1M tokens
constexpr int64_t kMaxThresholdTokens = 1'000'000'000'000;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool ValidProviderName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || IsDigit(c) || c == '-' || c == '_' || c == '.';
  });
}

// "2024-05-13" for midnight, else the full ISO 8601 form.
std::string FormatValidFrom(int64_t ms) {
  std::string iso = core::FormatIso8601(ms);
  if (ms % 86'400'000 == 0 && iso.size() >= 10) return iso.substr(0, 10);
  return iso;
}

// Strict YYYY-MM-DD, or an ISO 8601 / RFC 3339 time with a 'T'.
std::optional<int64_t> ParseValidFrom(std::string_view text) {
  bool date_only = text.size() == 10;
  bool date_time = text.size() > 10 && (text[10] == 'T' || text[10] == 't');
  if (!date_only && !date_time) return std::nullopt;
  core::Result<int64_t> ms = core::ParseIso8601Ms(text);
  if (!ms || *ms < 0) return std::nullopt;
  return *ms;
}

// Parses and checks one price table, collecting every error on the way.
// Not thread-safe; one loader per load.
class PricesLoader : public yaml_util::YamlWalker {
 public:
  using YamlWalker::YamlWalker;

  // Throws YAML::Exception on malformed YAML; errors found so far are kept.
  void Load(std::string_view text, std::vector<PriceEntry>& entries);

 private:
  void Provider(const Entry& e, std::vector<PriceEntry>& entries);
  void Models(const Entry& e, const std::string& provider,
              const std::optional<std::string>& default_source, std::vector<PriceEntry>& entries);
  std::optional<PriceEntry> Model(const YAML::Node& item, const YAML::Node& list_key,
                                  const std::string& path, const std::string& provider,
                                  const std::optional<std::string>& default_source);
  std::optional<TokenPrices> LongContext(const Entry& e, int64_t* above);

  std::optional<int64_t> Price(const Entry& e);
  std::optional<int64_t> ValidFrom(const Entry& e);
  std::optional<std::string> Url(const Entry& e);
  std::optional<std::string> ModelName(const Entry& e, bool pattern);

  // (provider, lower-case model, is_pattern, valid_from) -> line of the first entry.
  std::map<std::tuple<std::string, std::string, bool, int64_t>, int> seen_;
};

std::optional<int64_t> PricesLoader::Price(const Entry& e) {
  constexpr std::string_view kExpected = "a price in USD per 1M tokens such as 2.50";
  std::optional<std::string> text = Scalar(e, kExpected);
  if (!text) return std::nullopt;
  if (!IsPlain(e.value)) {
    ErrorAt(e, "expected a number, got " + Describe(e.value));
    return std::nullopt;
  }
  int64_t micro = 0;
  if (ParseUsdPerMillion(*text, &micro)) return micro;
  // Say what is wrong with it.
  std::string_view s = *text;
  std::string lower = Lower(s);
  if (lower == ".nan" || lower.ends_with(".inf") || lower == "nan" || lower == "inf") {
    ErrorAt(e, "must be a finite number of USD per 1M tokens (got " + *text + ")");
    return std::nullopt;
  }
  std::string_view unsigned_part = s;
  bool negative = !s.empty() && s.front() == '-';
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) unsigned_part.remove_prefix(1);
  double as_double = 0;
  auto [ptr, ec] =
      std::from_chars(unsigned_part.data(), unsigned_part.data() + unsigned_part.size(), as_double);
  bool numeric = !unsigned_part.empty() && ptr == unsigned_part.data() + unsigned_part.size() &&
                 (ec == std::errc() || ec == std::errc::result_out_of_range);
  if (!numeric) {
    ErrorAt(e, "expected " + std::string(kExpected) + ", got " + Describe(e.value));
    return std::nullopt;
  }
  if (negative && as_double != 0) {
    ErrorAt(e, "must not be negative (got " + *text + ")");
    return std::nullopt;
  }
  size_t dot = unsigned_part.find('.');
  bool plain = std::all_of(unsigned_part.begin(), unsigned_part.end(),
                           [](char c) { return IsDigit(c) || c == '.'; }) &&
               dot != 0 && dot != unsigned_part.size() - 1;
  if (!plain || negative || s.front() == '+') {
    ErrorAt(e, "write prices as plain decimals such as 0.075 (got " + *text + ")");
    return std::nullopt;
  }
  if (dot != std::string_view::npos && unsigned_part.size() - dot - 1 > kMaxDecimals) {
    ErrorAt(e, "has more than 6 decimal places; prices are exact to 0.000001 USD per 1M tokens "
               "(got " + *text + ")");
    return std::nullopt;
  }
  ErrorAt(e, "must be at most 1000000 USD per 1M tokens (got " + *text + ")");
  return std::nullopt;
}

std::optional<int64_t> PricesLoader::ValidFrom(const Entry& e) {
  constexpr std::string_view kForm =
      "a date such as 2024-05-13, or an RFC 3339 time such as 2025-02-08T16:00:00Z";
  std::optional<std::string> text = Scalar(e, kForm);
  if (!text) return std::nullopt;
  std::optional<int64_t> ms = ParseValidFrom(*text);
  if (!ms) {
    ErrorAt(e, "invalid date " + Quote(*text) + " (expected " + std::string(kForm) + ", UTC)");
    return std::nullopt;
  }
  return ms;
}

std::optional<std::string> PricesLoader::Url(const Entry& e) {
  std::optional<std::string> text = Scalar(e, "the URL of the provider's pricing page");
  if (!text) return std::nullopt;
  if (!text->starts_with("https://") && !text->starts_with("http://")) {
    ErrorAt(e, "expected the URL of the provider's pricing page (https://...), got " +
                   Describe(e.value));
    return std::nullopt;
  }
  return text;
}

std::optional<std::string> PricesLoader::ModelName(const Entry& e, bool pattern) {
  std::optional<std::string> text =
      Scalar(e, pattern ? "a glob of model names such as claude-3-5-sonnet-*" : "a model name");
  if (!text) return std::nullopt;
  if (text->empty()) {
    ErrorAt(e, "must not be empty");
    return std::nullopt;
  }
  if (std::any_of(text->begin(), text->end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    ErrorAt(e, "must not contain control characters");
    return std::nullopt;
  }
  bool has_glob = text->find_first_of("*?") != std::string::npos;
  if (pattern && !has_glob) {
    ErrorAt(e, "pattern " + Quote(*text) + " has no * or ?; write it as `model: " + *text + "`");
    return std::nullopt;
  }
  if (!pattern && has_glob) {
    ErrorAt(e, "model " + Quote(*text) + " contains * or ?; write globs as `pattern: " + *text +
                   "`");
    return std::nullopt;
  }
  return text;
}

std::optional<TokenPrices> PricesLoader::LongContext(const Entry& e, int64_t* above) {
  if (!e.value.IsMap()) {
    ErrorAt(e, "expected a map such as {above: 200000, input: 2.50, output: 15.00}, got " +
                   Describe(e.value));
    return std::nullopt;
  }
  size_t errors_before = ErrorCount();
  std::optional<int64_t> threshold, input, output, cache_read, write_5m, write_1h;
  WalkMap(e.value, e.path,
          {
              {"above",
               [&](const Entry& f) {
                 std::optional<std::string> text = Scalar(f, "a number of prompt tokens");
                 if (!text) return;
                 int64_t v = 0;
                 auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
                 if (!IsPlain(f.value) || text->empty() || !IsDigit(text->front()) ||
                     ec != std::errc() || ptr != text->data() + text->size() || v <= 0 ||
                     v > kMaxThresholdTokens) {
                   ErrorAt(f, "expected a positive number of prompt tokens such as 200000, got " +
                                  Describe(f.value));
                   return;
                 }
                 threshold = v;
               }},
              {"input", [&](const Entry& f) { input = Price(f); }},
              {"output", [&](const Entry& f) { output = Price(f); }},
              {"cache_read", [&](const Entry& f) { cache_read = Price(f); }},
              {"cache_write_5m", [&](const Entry& f) { write_5m = Price(f); }},
              {"cache_write_1h", [&](const Entry& f) { write_1h = Price(f); }},
          });
  if (ErrorCount() != errors_before) return std::nullopt;
  const char* missing = !threshold ? "above" : !input ? "input" : !output ? "output" : nullptr;
  if (missing != nullptr) {
    ErrorAt(e, std::string("missing required key '") + missing + "'");
    return std::nullopt;
  }
  *above = *threshold;
  return TokenPrices{*input, *output, cache_read.value_or(*input), write_5m.value_or(*input),
                     write_1h.value_or(*input)};
}

std::optional<PriceEntry> PricesLoader::Model(const YAML::Node& item, const YAML::Node& list_key,
                                              const std::string& path, const std::string& provider,
                                              const std::optional<std::string>& default_source) {
  if (!item.IsMap()) {
    ErrorAt(item.IsNull() ? list_key : item, path,
            "expected a map with keys model (or pattern), valid_from, input, output, got " +
                Describe(item));
    return std::nullopt;
  }
  size_t errors_before = ErrorCount();
  PriceEntry entry;
  entry.provider = provider;
  entry.line = yaml_util::OneBased(item.Mark().line);
  std::optional<std::string> model, pattern, source;
  std::optional<int64_t> valid_from, input, output, cache_read, write_5m, write_1h;
  std::optional<Entry> valid_from_entry;
  bool has_model_key = false, has_pattern_key = false;
  bool has_input = false, has_output = false, has_source = false;
  WalkMap(item, path,
          {
              {"model",
               [&](const Entry& f) {
                 has_model_key = true;
                 model = ModelName(f, false);
               }},
              {"pattern",
               [&](const Entry& f) {
                 has_pattern_key = true;
                 pattern = ModelName(f, true);
               }},
              {"valid_from",
               [&](const Entry& f) {
                 valid_from_entry = f;
                 valid_from = ValidFrom(f);
               }},
              {"input",
               [&](const Entry& f) {
                 has_input = true;
                 input = Price(f);
               }},
              {"output",
               [&](const Entry& f) {
                 has_output = true;
                 output = Price(f);
               }},
              {"cache_read", [&](const Entry& f) { cache_read = Price(f); }},
              {"cache_write_5m", [&](const Entry& f) { write_5m = Price(f); }},
              {"cache_write_1h", [&](const Entry& f) { write_1h = Price(f); }},
              {"long_context",
               [&](const Entry& f) {
                 int64_t above = 0;
                 if (std::optional<TokenPrices> p = LongContext(f, &above)) {
                   entry.long_context = *p;
                   entry.long_context_above = above;
                 }
               }},
              {"source",
               [&](const Entry& f) {
                 has_source = true;
                 source = Url(f);
               }},
          });
  if (has_model_key && has_pattern_key) {
    ErrorAt(item, path, "give either 'model' or 'pattern', not both");
  } else if (!has_model_key && !has_pattern_key) {
    ErrorAt(item, path,
            "missing required key 'model' (an exact model name) or 'pattern' (a glob such as "
            "gpt-4o-2024-*)");
  }
  if (!valid_from_entry) {
    ErrorAt(item, path,
            "missing required key 'valid_from' (the first day, UTC, this price applies)");
  }
  if (!has_input) ErrorAt(item, path, "missing required key 'input' (USD per 1M input tokens)");
  if (!has_output) {
    ErrorAt(item, path, "missing required key 'output' (USD per 1M output tokens)");
  }
  if (!has_source && !default_source) {
    ErrorAt(item, path,
            "missing required key 'source' (the pricing page's URL; or set one for the provider)");
  }
  if (ErrorCount() != errors_before) return std::nullopt;

  entry.is_pattern = pattern.has_value();
  entry.model = entry.is_pattern ? *pattern : *model;
  entry.valid_from_ms = *valid_from;
  entry.prices = TokenPrices{*input, *output, cache_read.value_or(*input),
                             write_5m.value_or(*input), write_1h.value_or(*input)};
  entry.source = source ? *source : *default_source;

  auto key = std::make_tuple(entry.provider, Lower(entry.model), entry.is_pattern,
                             entry.valid_from_ms);
  auto [it, inserted] = seen_.emplace(key, entry.line);
  if (!inserted) {
    ErrorAt(*valid_from_entry,
            "duplicate price: " + provider + " " + (entry.is_pattern ? "pattern " : "model ") +
                Quote(entry.model) + " from " + FormatValidFrom(entry.valid_from_ms) +
                " is already given on line " + std::to_string(it->second) +
                " (model names compare case-insensitively)");
    return std::nullopt;
  }
  return entry;
}

void PricesLoader::Models(const Entry& e, const std::string& provider,
                          const std::optional<std::string>& default_source,
                          std::vector<PriceEntry>& entries) {
  if (e.value.IsNull()) return;
  if (!e.value.IsSequence()) {
    ErrorAt(e, "expected a list of model prices, got " + Describe(e.value));
    return;
  }
  size_t index = 0;
  for (auto it = e.value.begin(); it != e.value.end(); ++it, ++index) {
    std::string path = e.path + "[" + std::to_string(index) + "]";
    if (std::optional<PriceEntry> entry = Model(*it, e.key, path, provider, default_source)) {
      entries.push_back(std::move(*entry));
    }
  }
}

void PricesLoader::Provider(const Entry& e, std::vector<PriceEntry>& entries) {
  const std::string& name = e.key.Scalar();
  if (!ValidProviderName(name)) {
    ErrorAt(e.key, e.path,
            "provider names are lower case letters, digits, '-', '_' and '.' (e.g. openai, "
            "groq), got " + Quote(name));
    return;
  }
  if (e.value.IsNull()) return;
  if (!e.value.IsMap()) {
    ErrorAt(e, "expected a map with keys source and models, got " + Describe(e.value));
    return;
  }
  // The provider's source is the default of its entries, so read it first.
  std::optional<std::string> source;
  std::optional<Entry> models;
  WalkMap(e.value, e.path,
          {
              {"source",
               [&](const Entry& f) {
                 // A bad default is reported once, not again for every entry.
                 source = Url(f).value_or("");
               }},
              {"models", [&](const Entry& f) { models = f; }},
          });
  if (models) Models(*models, name, source, entries);
}

void PricesLoader::Load(std::string_view text, std::vector<PriceEntry>& entries) {
  std::optional<YAML::Node> document = LoadDocument(text);
  if (!document) return;  // empty, or only comments: an empty table
  const YAML::Node root = *document;
  if (!root.IsMap()) {
    ErrorAt(root, "", "the top level must be a map with the key providers, got " + Describe(root));
    return;
  }
  WalkMap(root, "",
          {
              {"providers",
               [&](const Entry& e) {
                 if (e.value.IsNull()) return;
                 if (!e.value.IsMap()) {
                   ErrorAt(e, "expected a map of provider name to {source, models}, got " +
                                  Describe(e.value));
                   return;
                 }
                 std::map<std::string, int> seen;
                 for (auto it = e.value.begin(); it != e.value.end(); ++it) {
                   if (!it->first.IsScalar()) {
                     ErrorAt(it->first, e.path,
                             "keys must be plain strings, not " + Describe(it->first));
                     continue;
                   }
                   const std::string& name = it->first.Scalar();
                   std::string path = e.path + "." + name;
                   int line = yaml_util::OneBased(it->first.Mark().line);
                   auto [prev, inserted] = seen.emplace(name, line);
                   if (!inserted) {
                     ErrorAt(it->first, path,
                             "duplicate key (first set on line " + std::to_string(prev->second) +
                                 ")");
                     continue;
                   }
                   Provider(Entry{it->first, it->second, path}, entries);
                 }
               }},
          });
}

}  // namespace

bool ParseUsdPerMillion(std::string_view text, int64_t* micro_usd) {
  size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (whole.empty() || whole.size() > 7) return false;  // at most 1000000
  if (dot != std::string_view::npos && (frac.empty() || frac.size() > kMaxDecimals)) return false;
  if (!std::all_of(whole.begin(), whole.end(), IsDigit) ||
      !std::all_of(frac.begin(), frac.end(), IsDigit)) {
    return false;
  }
  int64_t value = 0;
  for (char c : whole) value = value * 10 + (c - '0');
  for (int i = 0; i < kMaxDecimals; ++i) {
    value = value * 10 + (i < static_cast<int>(frac.size()) ? frac[i] - '0' : 0);
  }
  if (value > kMaxPriceMicro) return false;
  *micro_usd = value;
  return true;
}

PricesLoadResult LoadPricesText(std::string_view yaml_text, const std::string& file_name) {
  PricesLoadResult result;
  PricesLoader loader(file_name);
  try {
    loader.Load(yaml_text, result.entries);
  } catch (const YAML::Exception& e) {
    loader.AddExceptionError(e);
  } catch (const std::exception& e) {
    loader.AddError(0, 0, "", std::string("cannot load prices: ") + e.what());
  }
  result.errors = loader.TakeErrors();
  if (!result.errors.empty()) result.entries.clear();
  return result;
}

PricesLoadResult LoadPricesFile(const std::string& path) {
  std::string text, error;
  if (!yaml_util::ReadSmallFile(path, "price file", &text, &error)) {
    PricesLoadResult result;
    result.errors.push_back(ConfigError{path, 0, 0, "", std::move(error)});
    return result;
  }
  return LoadPricesText(text, path);
}

}  // namespace config
