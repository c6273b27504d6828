#include "exporter/pricing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/embedded_prices.h"
#include "config/prices_loader.h"
#include "core/time_parse.h"

namespace exporter {
namespace {

using config::PriceEntry;
using config::TokenPrices;

const std::string kSourceDir = TALLY_SOURCE_DIR;
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

int64_t Ms(const char* iso) {
  core::Result<int64_t> ms = core::ParseIso8601Ms(iso);
  EXPECT_TRUE(ms.has_value()) << iso;
  return ms ? *ms : 0;
}

// USD per 1M tokens -> micro-USD per 1M tokens, for readable fixtures.
constexpr int64_t Usd(double usd_per_million) {
  return static_cast<int64_t>(usd_per_million * 1'000'000 + 0.5);
}

PriceEntry Entry(std::string provider, std::string model, const char* valid_from, double input,
                 double output = 0) {
  PriceEntry e;
  e.provider = std::move(provider);
  e.model = std::move(model);
  e.is_pattern = e.model.find_first_of("*?") != std::string::npos;
  e.valid_from_ms = Ms(valid_from);
  e.prices = TokenPrices{Usd(input), Usd(output), Usd(input), Usd(input), Usd(input)};
  e.source = "https://example.com/" + e.provider;
  return e;
}

// The input price of what Lookup found, in USD per 1M tokens; -1 for unknown.
double InputPriceOf(const PriceTable& table, std::string_view provider, std::string_view model,
                    const char* at) {
  std::optional<PriceMatch> m = table.Lookup(provider, model, Ms(at));
  if (!m) return -1;
  return static_cast<double>(m->entry->prices.input) / 1'000'000;
}

// ---------------------------------------------------------------------------
// Lookup precedence on a small table built in code.

class LookupTest : public ::testing::Test {
 protected:
  static std::unique_ptr<PriceTable> MakeTable() {
    std::vector<PriceEntry> entries = {
        Entry("openai", "gpt-4o", "2024-05-13", 5),
        Entry("openai", "gpt-4o", "2024-10-02", 2.5),
        Entry("openai", "gpt-4o-*", "2024-05-13", 7),
        Entry("openai", "gpt-4o-mini*", "2024-07-18", 0.15),
        Entry("openai", "future-model", "2030-01-01", 9),
        Entry("openai", "future-*", "2024-01-01", 8),
        Entry("groq", "llama-x", "2024-07-23", 0.05),
        Entry("together", "LLAMA-X", "2024-07-23", 0.18),
        Entry("together", "llama-*", "2024-07-23", 0.2),
        Entry("azure", "gpt-4o*", "2024-05-13", 6),
        Entry("google", "gemini-2.5-pro", "2025-03-25", 1.25),
        Entry("google", "gemini-?.0-flash", "2025-02-05", 0.1),
        Entry("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo", "2024-12-06", 0.88),
        Entry("anthropic", "claude-3-5-sonnet-*", "2024-06-20", 3),
    };
    return std::make_unique<PriceTable>(std::move(entries));
  }
  std::unique_ptr<PriceTable> table_ = MakeTable();
};

TEST_F(LookupTest, LatestValidFromAtOrBeforeTheEventWins) {
  EXPECT_EQ(InputPriceOf(*table_, "openai", "gpt-4o", "2024-05-12T23:59:59.999Z"), -1)
      << "no price is valid before the first one";
  EXPECT_EQ(InputPriceOf(*table_, "openai", "gpt-4o", "2024-05-13T00:00:00Z"), 5);
  EXPECT_EQ(InputPriceOf(*table_, "openai", "gpt-4o", "2024-10-01T23:59:59.999Z"), 5);
  EXPECT_EQ(InputPriceOf(*table_, "openai", "gpt-4o", "2024-10-02T00:00:00Z"), 2.5);
  EXPECT_EQ(InputPriceOf(*table_, "openai", "gpt-4o", "2029-01-01T00:00:00Z"), 2.5);
  // Before every price of every matching key: unknown.
  EXPECT_EQ(InputPriceOf(*table_, "groq", "llama-x", "2024-07-22T00:00:00Z"), -1);
}

TEST_F(LookupTest, ExactNameBeatsPattern) {
  EXPECT_EQ(InputPriceOf(*table_, "openai", "gpt-4o", "2025-01-01"), 2.5);
  EXPECT_EQ(InputPriceOf(*table_, "openai", "gpt-4o-2024-08-06", "2025-01-01"), 7);
  // An exact name with only future prices falls through to the pattern.
  EXPECT_EQ(InputPriceOf(*table_, "openai", "future-model", "2025-01-01"), 8);
  EXPECT_EQ(InputPriceOf(*table_, "openai", "future-model", "2030-01-01"), 9);
}

TEST_F(LookupTest, MostSpecificPatternWins) {
  // gpt-4o-mini* (11 literal characters) beats gpt-4o-* (7), whatever the file order.
  EXPECT_EQ(InputPriceOf(*table_, "openai", "gpt-4o-mini-2024-07-18", "2025-01-01"), 0.15);
  EXPECT_EQ(InputPriceOf(*table_, "openai", "gpt-4o-mini", "2025-01-01"), 0.15);
  EXPECT_EQ(InputPriceOf(*table_, "google", "gemini-2.0-flash", "2025-06-01"), 0.1);
  EXPECT_EQ(InputPriceOf(*table_, "google", "gemini-2.0-flash-lite", "2025-06-01"), -1);
}

TEST_F(LookupTest, ProviderSpecificBeatsOtherProviders) {
  // The same model at two hosts.
  EXPECT_EQ(InputPriceOf(*table_, "groq", "llama-x", "2025-01-01"), 0.05);
  EXPECT_EQ(InputPriceOf(*table_, "together", "llama-x", "2025-01-01"), 0.18);
  // Azure's own pattern beats OpenAI's exact name for Azure events.
  EXPECT_EQ(InputPriceOf(*table_, "azure", "gpt-4o", "2025-01-01"), 6);
  // Together's pattern beats Groq's exact name for Together events.
  EXPECT_EQ(InputPriceOf(*table_, "together", "llama-y", "2025-01-01"), 0.2);
  std::optional<PriceMatch> m = table_->Lookup("together", "llama-x", Ms("2025-01-01"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->entry->provider, "together");
  EXPECT_FALSE(m->provider_fallback);
}

TEST_F(LookupTest, OtherProvidersAreTheFallback) {
  std::optional<PriceMatch> m = table_->Lookup("openrouter", "gpt-4o", Ms("2025-01-01"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->entry->provider, "openai");
  EXPECT_EQ(m->entry->model, "gpt-4o");
  EXPECT_EQ(m->entry->valid_from_ms, Ms("2024-10-02"));
  EXPECT_TRUE(m->provider_fallback);
  // Exact names of other providers come before their patterns.
  EXPECT_EQ(InputPriceOf(*table_, "fireworks", "gpt-4o", "2025-01-01"), 2.5);
  // Among other providers' exact names the first in the file wins.
  EXPECT_EQ(InputPriceOf(*table_, "fireworks", "llama-x", "2025-01-01"), 0.05);
}

TEST_F(LookupTest, NoProviderSearchesEveryProvider) {
  std::optional<PriceMatch> m = table_->Lookup("", "gpt-4o", Ms("2025-01-01"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->entry->provider, "openai");
  EXPECT_FALSE(m->provider_fallback);
  EXPECT_EQ(InputPriceOf(*table_, "", "llama-x", "2025-01-01"), 0.05);        // first in file
  EXPECT_EQ(InputPriceOf(*table_, "", "llama-z", "2025-01-01"), 0.2);         // only a pattern
  EXPECT_EQ(InputPriceOf(*table_, "", "gpt-4o-2024-11-20", "2025-01-01"), 7); // openai's before azure's
}

TEST_F(LookupTest, ModelsAndProvidersCompareCaseInsensitively) {
  EXPECT_EQ(InputPriceOf(*table_, "OpenAI", "GPT-4o", "2025-01-01"), 2.5);
  EXPECT_EQ(InputPriceOf(*table_, "TOGETHER", "Llama-X", "2025-01-01"), 0.18);
  EXPECT_EQ(InputPriceOf(*table_, "together", "meta-llama/llama-3.3-70b-instruct-turbo",
                         "2025-01-01"),
            0.88);
  EXPECT_EQ(InputPriceOf(*table_, "anthropic", "Claude-3-5-Sonnet-20241022", "2025-01-01"), 3);
}

TEST_F(LookupTest, ProviderAliases) {
  EXPECT_EQ(NormalizeProvider("Gemini"), "google");
  EXPECT_EQ(NormalizeProvider("together_ai"), "together");
  EXPECT_EQ(NormalizeProvider("mistralai"), "mistral");
  EXPECT_EQ(NormalizeProvider("OpenAI"), "openai");
  EXPECT_EQ(NormalizeProvider(""), "");
  std::optional<PriceMatch> m = table_->Lookup("gemini", "gemini-2.5-pro", Ms("2025-06-01"));
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->provider_fallback);
}

TEST_F(LookupTest, ProviderPrefixesAreStripped) {
  // The prefix names the provider when the event has none.
  std::optional<PriceMatch> m = table_->Lookup("", "openai/gpt-4o", Ms("2025-01-01"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->entry->model, "gpt-4o");
  EXPECT_FALSE(m->provider_fallback);
  EXPECT_EQ(InputPriceOf(*table_, "", "models/gemini-2.5-pro", "2025-06-01"), 1.25);
  EXPECT_EQ(InputPriceOf(*table_, "", "gemini/gemini-2.5-pro", "2025-06-01"), 1.25);
  EXPECT_EQ(InputPriceOf(*table_, "", "gemini/models/gemini-2.5-pro", "2025-06-01"), 1.25);
  EXPECT_EQ(InputPriceOf(*table_, "", "Anthropic/claude-3-5-sonnet-latest", "2025-06-01"), 3);
  // A gateway's own provider name is kept; the model falls back to its vendor.
  m = table_->Lookup("openrouter", "anthropic/claude-3-5-sonnet-20241022", Ms("2025-01-01"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->entry->provider, "anthropic");
  EXPECT_TRUE(m->provider_fallback);
  // A name that contains a slash is matched as given first.
  EXPECT_EQ(InputPriceOf(*table_, "together", "meta-llama/Llama-3.3-70B-Instruct-Turbo",
                         "2025-01-01"),
            0.88);
  // A bare prefix is not a model.
  EXPECT_EQ(InputPriceOf(*table_, "", "openai/", "2025-01-01"), -1);
}

TEST_F(LookupTest, UnknownModels) {
  EXPECT_EQ(InputPriceOf(*table_, "openai", "gpt-9", "2025-01-01"), -1);
  EXPECT_EQ(InputPriceOf(*table_, "", "", "2025-01-01"), -1);
  EXPECT_EQ(InputPriceOf(*table_, "", "unknown/gpt-4o-x", "2025-01-01"), -1);
  PriceTable empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_FALSE(empty.Lookup("openai", "gpt-4o", Ms("2025-01-01")));
}

// ---------------------------------------------------------------------------
// ComputeCost: exact integer arithmetic, rounded once, half to even.

PriceEntry WithPrices(TokenPrices prices) {
  PriceEntry e;
  e.provider = "p";
  e.model = "m";
  e.prices = prices;
  return e;
}

int64_t NanoUsd(const PriceEntry& e, TokenCounts t) {
  core::Result<Cost> cost = ComputeCost(e, t);
  EXPECT_TRUE(cost.has_value()) << (cost ? "" : cost.error().message);
  return cost ? cost->nano_usd : -1;
}

TEST(ComputeCostTest, ZeroTokensCostNothing) {
  EXPECT_EQ(NanoUsd(WithPrices({Usd(5), Usd(15), Usd(1), Usd(2), Usd(3)}), {}), 0);
}

TEST(ComputeCostTest, EachKindHasItsOwnPrice) {
  // 1 token of each kind at 1, 2, 3, 4, 5 USD per 1M tokens = 15 micro-USD.
  PriceEntry e = WithPrices({Usd(1), Usd(2), Usd(3), Usd(4), Usd(5)});
  EXPECT_EQ(NanoUsd(e, {1, 0, 0, 0, 0}), 1'000);
  EXPECT_EQ(NanoUsd(e, {0, 1, 0, 0, 0}), 2'000);
  EXPECT_EQ(NanoUsd(e, {0, 0, 1, 0, 0}), 3'000);
  EXPECT_EQ(NanoUsd(e, {0, 0, 0, 1, 0}), 4'000);
  EXPECT_EQ(NanoUsd(e, {0, 0, 0, 0, 1}), 5'000);
  EXPECT_EQ(NanoUsd(e, {1, 1, 1, 1, 1}), 15'000);
}

TEST(ComputeCostTest, RoundsOnceHalfToEven) {
  // 0.000001 USD per 1M tokens = 1 pico-USD per token.
  PriceEntry e = WithPrices({1, 0, 0, 0, 0});
  EXPECT_EQ(NanoUsd(e, {499}), 0);
  EXPECT_EQ(NanoUsd(e, {500}), 0);  // 0.5 -> 0
  EXPECT_EQ(NanoUsd(e, {501}), 1);
  EXPECT_EQ(NanoUsd(e, {1'500}), 2);  // 1.5 -> 2
  EXPECT_EQ(NanoUsd(e, {2'500}), 2);  // 2.5 -> 2
  EXPECT_EQ(NanoUsd(e, {3'500}), 4);
  // Parts are not rounded separately: 400 + 400 pico = 0.8 nano -> 1.
  PriceEntry two = WithPrices({1, 1, 0, 0, 0});
  EXPECT_EQ(NanoUsd(two, {400, 400}), 1);
  // Gemini 1.5 Flash cached input, $0.01875 per 1M = 18.75 nano-USD per token.
  PriceEntry flash = WithPrices({Usd(0.075), Usd(0.3), 18'750, Usd(0.075), Usd(0.075)});
  EXPECT_EQ(NanoUsd(flash, {0, 0, 1}), 19);   // 18.75
  EXPECT_EQ(NanoUsd(flash, {0, 0, 2}), 38);   // 37.5 -> 38
  EXPECT_EQ(NanoUsd(flash, {0, 0, 6}), 112);  // 112.5 -> 112
}

TEST(ComputeCostTest, BigCountsDoNotOverflow) {
  // 1e12 tokens at $100 per 1M: 1e20 pico-USD does not fit in int64, the result does.
  PriceEntry e = WithPrices({Usd(100), 0, 0, 0, 0});
  EXPECT_EQ(NanoUsd(e, {1'000'000'000'000}), 100'000'000'000'000'000);
  // INT64_MAX tokens at 1 pico-USD: 9223372036854775.807 nano -> ...776.
  EXPECT_EQ(NanoUsd(WithPrices({1, 0, 0, 0, 0}), {kInt64Max}), 9'223'372'036'854'776);
  // Every kind at its maximum: the 128-bit sum is exact, the result too large.
  PriceEntry max = WithPrices({Usd(1'000'000), Usd(1'000'000), Usd(1'000'000), Usd(1'000'000),
                               Usd(1'000'000)});
  core::Result<Cost> cost =
      ComputeCost(max, {kInt64Max, kInt64Max, kInt64Max, kInt64Max, kInt64Max});
  ASSERT_FALSE(cost.has_value());
  EXPECT_THAT(cost.error().message, ::testing::HasSubstr("exceeds"));
  // Just below the limit: INT64_MAX nano-USD exactly.
  EXPECT_EQ(NanoUsd(WithPrices({1'000, 0, 0, 0, 0}), {kInt64Max}), kInt64Max);
}

TEST(ComputeCostTest, NegativeCountsAreErrors) {
  PriceEntry e = WithPrices({Usd(1), Usd(1), Usd(1), Usd(1), Usd(1)});
  for (TokenCounts t : {TokenCounts{-1}, TokenCounts{0, -1}, TokenCounts{0, 0, -1},
                        TokenCounts{0, 0, 0, -1}, TokenCounts{0, 0, 0, 0, -1}}) {
    core::Result<Cost> cost = ComputeCost(e, t);
    ASSERT_FALSE(cost.has_value());
    EXPECT_EQ(cost.error().code, core::ErrorCode::kInvalidRequest);
  }
  EXPECT_FALSE(ComputeCost(WithPrices({-1, 0, 0, 0, 0}), {1}).has_value());
}

TEST(ComputeCostTest, LongContextAppliesAboveTheThreshold) {
  // Claude Sonnet 4.5: $3/$15, above 200K prompt tokens $6/$22.50.
  PriceEntry e = WithPrices({Usd(3), Usd(15), Usd(0.3), Usd(3.75), Usd(6)});
  e.long_context_above = 200'000;
  e.long_context = {Usd(6), Usd(22.5), Usd(0.6), Usd(7.5), Usd(12)};
  core::Result<Cost> at = ComputeCost(e, {200'000, 1'000});
  ASSERT_TRUE(at);
  EXPECT_FALSE(at->long_context);
  EXPECT_EQ(at->nano_usd, 615'000'000);  // 0.6 + 0.015 USD
  // Cache reads count toward the prompt: 150K + 60K = 210K.
  core::Result<Cost> above = ComputeCost(e, {150'000, 1'000, 60'000});
  ASSERT_TRUE(above);
  EXPECT_TRUE(above->long_context);
  // 150000 * 6 + 60000 * 0.6 + 1000 * 22.5 = 900000 + 36000 + 22500 micro-USD
  EXPECT_EQ(above->nano_usd, 958'500'000);
}

// ---------------------------------------------------------------------------
// The shipped table: real models, hand-computed costs.

class ShippedTableTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    config::PricesLoadResult r = config::LoadPricesFile(kSourceDir + "/config/prices.yaml");
    ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].ToString());
    table_ = new PriceTable(std::move(r.entries));
  }
  static void TearDownTestSuite() {
    delete table_;
    table_ = nullptr;
  }

  // The cost in nano-USD, or -1 for an unknown model.
  static int64_t Cost(std::string_view provider, std::string_view model, const char* at,
                      TokenCounts tokens) {
    std::optional<PriceMatch> m = table_->Lookup(provider, model, Ms(at));
    if (!m) return -1;
    return NanoUsd(*m->entry, tokens);
  }
  static std::string KeyOf(std::string_view provider, std::string_view model, const char* at) {
    std::optional<PriceMatch> m = table_->Lookup(provider, model, Ms(at));
    return m ? m->entry->provider + ":" + m->entry->model : "unknown";
  }

  static PriceTable* table_;
};

PriceTable* ShippedTableTest::table_ = nullptr;

TEST_F(ShippedTableTest, Gpt4oBeforeAndAfterThePriceCut) {
  // 1000 uncached input, 250 output, 500 cached input.
  TokenCounts t{1'000, 250, 500};
  // Until 2024-10-01 gpt-4o was $5/$15 and had no cached price:
  // 1000*5 + 250*15 + 500*5 = 11250 micro-USD.
  EXPECT_EQ(Cost("openai", "gpt-4o", "2024-06-01", t), 11'250'000);
  // Since 2024-10-02 $2.50/$10, cached $1.25: 2500 + 2500 + 625 = 5625 micro-USD.
  EXPECT_EQ(Cost("openai", "gpt-4o", "2024-10-02", t), 5'625'000);
  EXPECT_EQ(Cost("openai", "gpt-4o-2024-05-13", "2025-01-01", t), 11'250'000);
  EXPECT_EQ(KeyOf("openai", "gpt-4o-2024-11-20", "2025-01-01"), "openai:gpt-4o-2024-*");
  EXPECT_EQ(KeyOf("", "gpt-4o-mini-2024-07-18", "2025-01-01"), "openai:gpt-4o-mini-2024-*");
}

TEST_F(ShippedTableTest, Gpt4oMiniTinyCalls) {
  // 7 tokens at $0.15 = 1.05 micro-USD; 1 cached token at $0.075 = 75 nano.
  EXPECT_EQ(Cost("openai", "gpt-4o-mini", "2025-01-01", {7}), 1'050);
  EXPECT_EQ(Cost("openai", "gpt-4o-mini", "2025-01-01", {0, 0, 1}), 75);
}

TEST_F(ShippedTableTest, ClaudeWithPromptCaching) {
  // claude-sonnet-4-5: 100 input, 800 output, 50000 cache reads, 10000 5-min
  // writes, 2000 1-hour writes:
  // 100*3 + 800*15 + 50000*0.3 + 10000*3.75 + 2000*6 = 300 + 12000 + 15000 +
  // 37500 + 12000 = 76800 micro-USD.
  EXPECT_EQ(Cost("anthropic", "claude-sonnet-4-5-20250929", "2025-10-01",
                 {100, 800, 50'000, 10'000, 2'000}),
            76'800'000);
  EXPECT_EQ(KeyOf("anthropic", "claude-sonnet-4-5-20250929", "2025-10-01"),
            "anthropic:claude-sonnet-4-5*");
  EXPECT_EQ(KeyOf("anthropic", "claude-sonnet-4-20250514", "2025-10-01"),
            "anthropic:claude-sonnet-4-*");
  EXPECT_EQ(KeyOf("", "claude-opus-4-1-20250805", "2025-10-01"), "anthropic:claude-opus-4-1*");
  EXPECT_EQ(KeyOf("", "claude-opus-4-5", "2025-12-01"), "anthropic:claude-opus-4-5*");
  EXPECT_EQ(KeyOf("", "claude-3-5-sonnet-latest", "2025-01-01"), "anthropic:claude-3-5-sonnet-*");
  // Claude Haiku 3.5 launched at $1 and was cut to $0.80 per 1M input tokens.
  EXPECT_EQ(Cost("anthropic", "claude-3-5-haiku-20241022", "2024-11-10", {1'000'000}),
            1'000'000'000);
  EXPECT_EQ(Cost("anthropic", "claude-3-5-haiku-20241022", "2025-01-10", {1'000'000}),
            800'000'000);
}

TEST_F(ShippedTableTest, GeminiLongContextAndCaching) {
  // gemini-2.5-pro in July 2025: 10000 input, 3000 output, 20000 cached:
  // 10000*1.25 + 3000*10 + 20000*0.31 = 12500 + 30000 + 6200 = 48700 micro-USD.
  EXPECT_EQ(Cost("google", "gemini-2.5-pro", "2025-07-01", {10'000, 3'000, 20'000}), 48'700'000);
  // 250000 input tokens exceed 200K: 250000*2.50 + 1000*15 = 640000 micro-USD.
  EXPECT_EQ(Cost("google", "gemini-2.5-pro", "2025-07-01", {250'000, 1'000}), 640'000'000);
  EXPECT_EQ(Cost("", "models/gemini-2.5-pro", "2025-07-01", {250'000, 1'000}), 640'000'000);
}

TEST_F(ShippedTableTest, DeepSeekPriceChangesAtFourPmUtc) {
  // 1M cache-miss input, 1M output, 1M cache-hit input.
  TokenCounts t{1'000'000, 1'000'000, 1'000'000};
  // Promotion: 0.14 + 0.28 + 0.014 USD.
  EXPECT_EQ(Cost("deepseek", "deepseek-chat", "2025-02-08T15:59:59.999Z", t), 434'000'000);
  // Standard: 0.27 + 1.10 + 0.07 USD.
  EXPECT_EQ(Cost("deepseek", "deepseek-chat", "2025-02-08T16:00:00Z", t), 1'440'000'000);
}

TEST_F(ShippedTableTest, LlamaCostsDifferentlyPerHost) {
  // Llama 4 Scout, 1M input + 1M output: Groq $0.11 + $0.34, Together $0.18 + $0.59.
  TokenCounts t{1'000'000, 1'000'000};
  EXPECT_EQ(Cost("groq", "meta-llama/llama-4-scout-17b-16e-instruct", "2025-06-01", t),
            450'000'000);
  EXPECT_EQ(Cost("together", "meta-llama/Llama-4-Scout-17B-16E-Instruct", "2025-06-01", t),
            770'000'000);
  EXPECT_EQ(Cost("groq", "llama-3.3-70b-versatile", "2025-06-01", t), 1'380'000'000);
}

TEST_F(ShippedTableTest, GatewaysFallBackToTheVendorsPrice) {
  std::optional<PriceMatch> m = table_->Lookup("azure", "gpt-4o", Ms("2025-01-01"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->entry->provider, "openai");
  EXPECT_TRUE(m->provider_fallback);
  EXPECT_EQ(KeyOf("", "openai/gpt-4.1-mini", "2025-06-01"), "openai:gpt-4.1-mini");
  EXPECT_EQ(KeyOf("", "not-a-model", "2025-06-01"), "unknown");
  EXPECT_EQ(KeyOf("openai", "gpt-5", "2025-08-06"), "unknown");  // the day before its release
}

// ---------------------------------------------------------------------------
// PriceBook: readers keep their snapshot while a reload swaps the table.

TEST(PriceBookTest, StartsEmptyAndSwapsWholeTables) {
  PriceBook book;
  std::shared_ptr<const PriceTable> before = book.Current();
  ASSERT_NE(before, nullptr);
  EXPECT_TRUE(before->empty());
  auto table = std::make_shared<const PriceTable>(
      std::vector<PriceEntry>{Entry("openai", "gpt-4o", "2024-05-13", 5)});
  book.Replace(table);
  EXPECT_EQ(book.Current(), table);
  EXPECT_TRUE(before->empty());  // the old snapshot is unchanged and still alive
}

TEST(PriceBookTest, ConcurrentReadersSeeOldOrNewTable) {
  auto make = [](double input) {
    return std::make_shared<const PriceTable>(
        std::vector<PriceEntry>{Entry("openai", "gpt-4o", "2024-05-13", input)});
  };
  PriceBook book(make(1));
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] {
      int64_t at = Ms("2025-01-01");
      while (!stop.load(std::memory_order_relaxed)) {
        std::shared_ptr<const PriceTable> table = book.Current();
        std::optional<PriceMatch> m = table->Lookup("openai", "gpt-4o", at);
        if (!m || (m->entry->prices.input != Usd(1) && m->entry->prices.input != Usd(2))) {
          bad.fetch_add(1);
        }
      }
    });
  }
  for (int i = 0; i < 2'000; ++i) book.Replace(make(i % 2 == 0 ? 2 : 1));
  stop = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
}

// The table built into the binary (pricing.file unset) is config/prices.yaml
// byte for byte, loads without errors and prices like the file.
TEST(EmbeddedTableTest, IsTheShippedFileAndPricesLikeIt) {
  std::ifstream in(kSourceDir + "/config/prices.yaml", std::ios::binary);
  ASSERT_TRUE(in.good());
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(file.empty());
  EXPECT_EQ(config::EmbeddedPricesYaml(), file);
  config::PricesLoadResult embedded =
      config::LoadPricesText(config::EmbeddedPricesYaml(), std::string(config::kEmbeddedPricesName));
  ASSERT_TRUE(embedded.ok()) << embedded.errors[0].ToString();
  config::PricesLoadResult from_file = config::LoadPricesFile(kSourceDir + "/config/prices.yaml");
  ASSERT_TRUE(from_file.ok());
  ASSERT_EQ(embedded.entries.size(), from_file.entries.size());
  EXPECT_GT(embedded.entries.size(), 50u);
  const PriceTable table(std::move(embedded.entries));
  // gpt-4o since 2024-10-02: $2.50 input, $10 output, $1.25 cached input per 1M tokens.
  auto m = table.Lookup("openai", "gpt-4o", Ms("2025-01-01"));
  ASSERT_TRUE(m.has_value());
  auto cost = ComputeCost(*m->entry, TokenCounts{1'000, 250, 500});
  ASSERT_TRUE(cost.has_value());
  EXPECT_EQ(cost->nano_usd, 5'625'000);
  EXPECT_FALSE(table.Lookup("acme", "acme-secret-model-x", Ms("2025-01-01")).has_value());
}

}  // namespace
}  // namespace exporter
