#include "exporter/pricing.h"

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <tuple>
#include <utility>

#include "core/text.h"

namespace exporter {

namespace {

using Int128 = __int128;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

struct ProviderAlias {
  std::string_view alias;
  std::string_view provider;
};

// Other spellings of the providers in config/prices.yaml (SDKs, gateways).
constexpr std::array<ProviderAlias, 9> kProviderAliases = {{
    {"gemini", "google"},
    {"google_genai", "google"},
    {"google-genai", "google"},
    {"google_ai_studio", "google"},
    {"google-ai-studio", "google"},
    {"mistralai", "mistral"},
    {"together_ai", "together"},
    {"togetherai", "together"},
    {"together.ai", "together"},
}};

struct ModelPrefix {
  std::string_view prefix;
  std::string_view provider;  // the provider the prefix names, or empty
};

// Prefixes gateways and SDKs put before model names. Tried only after the name
// as given found nothing, so names that really contain them (Together's
// "meta-llama/...") still match exactly.
constexpr std::array<ModelPrefix, 12> kModelPrefixes = {{
    {"openai/", "openai"},
    {"anthropic/", "anthropic"},
    {"google/", "google"},
    {"gemini/", "google"},
    {"models/", "google"},  // the Gemini API's resource names
    {"vertex_ai/", ""},
    {"mistral/", "mistral"},
    {"mistralai/", "mistral"},
    {"deepseek/", "deepseek"},
    {"groq/", "groq"},
    {"together_ai/", "together"},
    {"together/", "together"},
}};

}  // namespace

std::string NormalizeProvider(std::string_view provider) {
  std::string lower = Lower(provider);
  for (const ProviderAlias& a : kProviderAliases) {
    if (lower == a.alias) return std::string(a.provider);
  }
  return lower;
}

core::Result<Cost> ComputeCost(const config::PriceEntry& entry, const TokenCounts& tokens) {
  if (tokens.input < 0 || tokens.output < 0 || tokens.cache_read < 0 ||
      tokens.cache_write_5m < 0 || tokens.cache_write_1h < 0) {
    return core::Fail(core::ErrorCode::kInvalidRequest, "token counts must not be negative");
  }
  Int128 prompt = Int128{tokens.input} + tokens.cache_read + tokens.cache_write_5m +
                  tokens.cache_write_1h;
  bool long_context = entry.long_context_above > 0 && prompt > entry.long_context_above;
  const config::TokenPrices& p = long_context ? entry.long_context : entry.prices;
  if (p.input < 0 || p.output < 0 || p.cache_read < 0 || p.cache_write_5m < 0 ||
      p.cache_write_1h < 0) {
    return core::Fail(core::ErrorCode::kInternal,
                      "negative price for model '" + entry.model + "'");
  }
  // micro-USD per 1M tokens == pico-USD per token: each product is exact.
  // At most 5 * 2^63 * 2^63 < 2^127, so the sum cannot overflow.
  Int128 pico = Int128{tokens.input} * p.input + Int128{tokens.output} * p.output +
                Int128{tokens.cache_read} * p.cache_read +
                Int128{tokens.cache_write_5m} * p.cache_write_5m +
                Int128{tokens.cache_write_1h} * p.cache_write_1h;
  Int128 nano = pico / 1000;
  Int128 remainder = pico % 1000;
  if (remainder > 500 || (remainder == 500 && (nano & 1) != 0)) ++nano;  // half to even
  if (nano > std::numeric_limits<int64_t>::max()) {
    return core::Fail(core::ErrorCode::kInvalidRequest,
                      "cost exceeds the largest representable amount (9.2e9 USD)");
  }
  return Cost{static_cast<int64_t>(nano), long_context};
}

PriceTable::PriceTable(std::vector<config::PriceEntry> entries) : entries_(std::move(entries)) {
  std::map<std::tuple<std::string, std::string, bool>, size_t> key_index;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const config::PriceEntry& e = entries_[i];
    std::string provider = Lower(e.provider);
    std::string model = Lower(e.model);
    auto [it, inserted] = key_index.emplace(std::make_tuple(provider, model, e.is_pattern),
                                            keys_.size());
    if (inserted) {
      Key key;
      key.provider = std::move(provider);
      key.model = std::move(model);
      key.is_pattern = e.is_pattern;
      key.literal_chars = static_cast<size_t>(std::count_if(
          key.model.begin(), key.model.end(), [](char c) { return c != '*' && c != '?'; }));
      keys_.push_back(std::move(key));
    }
    keys_[it->second].history.push_back(i);
  }
  for (size_t k = 0; k < keys_.size(); ++k) {
    Key& key = keys_[k];
    // Stable: of two entries with the same valid_from (a loader error) the later wins.
    std::stable_sort(key.history.begin(), key.history.end(), [&](size_t a, size_t b) {
      return entries_[a].valid_from_ms < entries_[b].valid_from_ms;
    });
    if (key.is_pattern) {
      patterns_.push_back(k);
    } else {
      exact_[key.model].push_back(k);
    }
  }
  std::stable_sort(patterns_.begin(), patterns_.end(), [&](size_t a, size_t b) {
    return keys_[a].literal_chars > keys_[b].literal_chars;
  });
}

const config::PriceEntry* PriceTable::ValidAt(const Key& key, int64_t at_ms) const {
  // The last entry with valid_from_ms <= at_ms.
  auto it = std::upper_bound(key.history.begin(), key.history.end(), at_ms,
                             [&](int64_t t, size_t i) { return t < entries_[i].valid_from_ms; });
  if (it == key.history.begin()) return nullptr;
  return &entries_[*(it - 1)];
}

std::optional<PriceMatch> PriceTable::Find(const std::string& provider, const std::string& model,
                                           int64_t at_ms) const {
  auto exact = exact_.find(model);
  const std::vector<size_t>* exact_keys = exact == exact_.end() ? nullptr : &exact->second;
  if (!provider.empty()) {
    if (exact_keys != nullptr) {
      for (size_t k : *exact_keys) {
        if (keys_[k].provider != provider) continue;
        if (const config::PriceEntry* e = ValidAt(keys_[k], at_ms)) return PriceMatch{e, false};
      }
    }
    for (size_t k : patterns_) {
      const Key& key = keys_[k];
      if (key.provider != provider || !core::GlobMatch(key.model, model)) continue;
      if (const config::PriceEntry* e = ValidAt(key, at_ms)) return PriceMatch{e, false};
    }
  }
  bool fallback = !provider.empty();
  if (exact_keys != nullptr) {
    for (size_t k : *exact_keys) {
      if (fallback && keys_[k].provider == provider) continue;
      if (const config::PriceEntry* e = ValidAt(keys_[k], at_ms)) return PriceMatch{e, fallback};
    }
  }
  for (size_t k : patterns_) {
    const Key& key = keys_[k];
    if ((fallback && key.provider == provider) || !core::GlobMatch(key.model, model)) continue;
    if (const config::PriceEntry* e = ValidAt(key, at_ms)) return PriceMatch{e, fallback};
  }
  return std::nullopt;
}

std::optional<PriceMatch> PriceTable::Lookup(std::string_view provider, std::string_view model,
                                             int64_t at_ms) const {
  if (entries_.empty() || model.empty()) return std::nullopt;
  std::string normalized_provider = NormalizeProvider(provider);
  std::string name = Lower(model);
  if (std::optional<PriceMatch> match = Find(normalized_provider, name, at_ms)) return match;

  std::string_view rest = name;
  std::string_view implied_provider;
  bool stripped = false;
  for (int round = 0; round < 3; ++round) {
    auto prefix = std::find_if(kModelPrefixes.begin(), kModelPrefixes.end(),
                               [&](const ModelPrefix& p) {
                                 return rest.size() > p.prefix.size() && rest.starts_with(p.prefix);
                               });
    if (prefix == kModelPrefixes.end()) break;
    rest.remove_prefix(prefix->prefix.size());
    if (implied_provider.empty()) implied_provider = prefix->provider;
    stripped = true;
  }
  if (!stripped) return std::nullopt;
  std::string provider_for_rest =
      normalized_provider.empty() ? std::string(implied_provider) : normalized_provider;
  return Find(provider_for_rest, std::string(rest), at_ms);
}

}  // namespace exporter
