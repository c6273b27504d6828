// Pricing LLM calls: PriceTable finds the price of a (provider, model) at a
// time, ComputeCost turns token counts into an exact cost, and PriceBook holds
// the current table for reloads. The file format and the rules are in
// docs/pricing.md.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/prices.h"
#include "core/status.h"

namespace exporter {

// The values of an event's cost_source (API.md section 3).
inline constexpr std::string_view kCostSourceReported = "reported";
inline constexpr std::string_view kCostSourcePriceTable = "price_table";
inline constexpr std::string_view kCostSourceUnknownModel = "unknown_model";

// Tokens of one call, by kind. The kinds are disjoint: `input` counts only
// uncached input tokens. (OpenAI's prompt_tokens includes its cached_tokens and
// Gemini's promptTokenCount its cachedContentTokenCount: subtract them;
// Anthropic's input_tokens already excludes cache reads and writes.)
struct TokenCounts {
  int64_t input = 0;
  int64_t output = 0;  // including reasoning/thinking tokens
  int64_t cache_read = 0;
  int64_t cache_write_5m = 0;
  int64_t cache_write_1h = 0;
};

struct Cost {
  // tokens x price, summed over the kinds in pico-USD (exact), then rounded
  // once, half to even, to whole nano-USD (1e-9 USD). Totals over events are
  // sums of these integers, so a total always equals the sum of its parts.
  int64_t nano_usd = 0;
  bool long_context = false;  // the entry's long-context prices applied
};

// The cost of `tokens` at `entry`'s prices. When the prompt (input + cache
// reads + cache writes) exceeds entry.long_context_above (if set), every token
// is billed at the long-context prices. Exact for any int64 token counts
// (128-bit intermediate); fails on negative counts or prices, and when the cost
// exceeds INT64_MAX nano-USD (about 9.2 billion USD).
core::Result<Cost> ComputeCost(const config::PriceEntry& entry, const TokenCounts& tokens);

// "gemini" -> "google", "together_ai" -> "together", "OpenAI" -> "openai": the
// provider spelling the price table uses (lower case, a few common aliases).
std::string NormalizeProvider(std::string_view provider);

// What Lookup found.
struct PriceMatch {
  // The entry valid at the asked time; points into the table, valid while the
  // table lives. Its `model` is the key to report with cost_source
  // "price_table", with its valid_from_ms.
  const config::PriceEntry* entry = nullptr;
  // A provider was given but the price is another provider's (no entry of the
  // asked provider matched the model): e.g. gpt-4o via "azure" priced at OpenAI's.
  bool provider_fallback = false;
};

// An immutable price table, indexed for lookup. Thread-safe: any number of
// threads may call Lookup at once. To change prices build a new table (and
// swap it in a PriceBook).
class PriceTable {
 public:
  PriceTable() = default;
  // `entries` as loaded by config::LoadPricesText (no duplicate
  // (provider, model, valid_from); providers in lower case).
  explicit PriceTable(std::vector<config::PriceEntry> entries);

  PriceTable(const PriceTable&) = delete;
  PriceTable& operator=(const PriceTable&) = delete;

  // The price of `model` served by `provider` (may be empty) at `at_ms`, or
  // nullopt for an unknown model (cost_source "unknown_model"). Models compare
  // case-insensitively. Precedence, first match wins:
  //   1. the provider's entries: exact model name, then patterns;
  //   2. any provider's entries: exact name, then patterns (file order among
  //      providers) -- the only step when `provider` is empty;
  //   3. steps 1-2 again with a known prefix stripped from the model
  //      ("openai/gpt-4o", "models/gemini-2.5-pro"); the prefix names the
  //      provider when none was given.
  // Among patterns the most specific (most non-wildcard characters) is tried
  // first. A name or pattern matches only when one of its entries has
  // valid_from_ms <= at_ms; the latest such entry is the answer.
  std::optional<PriceMatch> Lookup(std::string_view provider, std::string_view model,
                                   int64_t at_ms) const;

  const std::vector<config::PriceEntry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }

 private:
  // All entries of one (provider, model or pattern): its price history.
  struct Key {
    std::string provider;
    std::string model;  // lower case
    bool is_pattern = false;
    size_t literal_chars = 0;      // characters other than * and ?
    std::vector<size_t> history;   // indexes into entries_, by valid_from_ms ascending
  };

  std::optional<PriceMatch> Find(const std::string& provider, const std::string& model,
                                 int64_t at_ms) const;
  const config::PriceEntry* ValidAt(const Key& key, int64_t at_ms) const;

  std::vector<config::PriceEntry> entries_;
  std::vector<Key> keys_;                                        // in file order
  std::unordered_map<std::string, std::vector<size_t>> exact_;  // model -> keys_ indexes
  std::vector<size_t> patterns_;  // keys_ indexes, most specific first, then file order
};

// The price table in force. Readers take a snapshot (a shared_ptr they keep for
// as long as they use entries from it, e.g. one per request or batch); a reload
// (SIGHUP, POST /-/reload) builds a new table and Replace()s it. Thread-safe:
// Current and Replace are atomic with respect to each other.
//
// A mutex rather than std::atomic<std::shared_ptr>: GCC 12's implementation
// unlocks in load() with memory_order_relaxed, a data race ThreadSanitizer
// reports. The lock is held only to copy or swap one pointer; the old table is
// freed outside it.
class PriceBook {
 public:
  PriceBook() : table_(std::make_shared<const PriceTable>()) {}
  explicit PriceBook(std::shared_ptr<const PriceTable> table) : table_(std::move(table)) {}

  std::shared_ptr<const PriceTable> Current() const {
    std::lock_guard<std::mutex> lock(mu_);
    return table_;
  }
  // REQUIRES: table != nullptr.
  void Replace(std::shared_ptr<const PriceTable> table) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      table_.swap(table);
    }
    // `table` (the old one) is released here, outside the lock.
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const PriceTable> table_;  // guarded by mu_
};

}  // namespace exporter
