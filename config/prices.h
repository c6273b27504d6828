// PriceEntry: one row of the LLM price table (config/prices.yaml) as a plain
// struct. Loading is in config/prices_loader.h; lookup and cost arithmetic are in
// exporter/pricing.h. docs/pricing.md describes the file format.
#pragma once

#include <cstdint>
#include <string>

namespace config {

// Prices are exact integers in micro-USD per 1M tokens, which is the same
// number as pico-USD (1e-12 USD) per token: "$0.075 per 1M tokens" is 75'000.
// Every price a provider publishes (at most 6 decimals of a dollar per 1M
// tokens) is exact in this unit, and tokens x price is an exact pico-USD amount.
inline constexpr int64_t kMicroUsdPerUsd = 1'000'000;

// What one token of each kind costs, in micro-USD per 1M tokens. The five kinds
// are disjoint: `input` is the uncached input, cache reads and writes are billed
// only at their own price.
struct TokenPrices {
  int64_t input = 0;
  int64_t output = 0;
  int64_t cache_read = 0;      // cached input (OpenAI "cached input", Anthropic cache hits)
  int64_t cache_write_5m = 0;  // Anthropic cache writes with the default 5 minute TTL
  int64_t cache_write_1h = 0;  // Anthropic cache writes with the 1 hour TTL
};

// The price of one model (or glob pattern of model names) at one provider from
// `valid_from_ms` until the next entry of the same (provider, model) starts.
struct PriceEntry {
  std::string provider;  // lower case, e.g. "openai", "groq"
  std::string model;     // as written in the file; a glob when is_pattern ("claude-3-5-sonnet-*")
  bool is_pattern = false;
  int64_t valid_from_ms = 0;  // unix ms (UTC midnight for a plain date)
  TokenPrices prices;
  // Long-context tier: when a request's prompt (input + cache reads + cache
  // writes) has more than this many tokens, every token of the request is billed
  // at `long_context` prices (Gemini 2.5 Pro above 200k, Claude Sonnet 4 above
  // 200k, GPT-5.4 above 272k). 0: no such tier.
  int64_t long_context_above = 0;
  TokenPrices long_context;
  std::string source;  // URL of the provider's pricing page
  int line = 0;        // line of the entry in its file (1-based), 0 when not from a file
};

}  // namespace config
