#include "config/prices_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kSourceDir = TALLY_SOURCE_DIR;

constexpr int64_t kDayMs = 86'400'000;
// 2024-05-13T00:00:00Z
constexpr int64_t k20240513 = 19'856 * kDayMs;

std::string AllErrors(const PricesLoadResult& r) {
  std::string out;
  for (const ConfigError& e : r.errors) out += "\n  " + e.ToString();
  return out;
}

// One provider "openai" with a default source, then `models` lines.
std::string OneProvider(const std::string& models) {
  return "providers:\n"
         "  openai:\n"
         "    source: https://openai.com/api/pricing/\n"
         "    models:\n" +
         models;
}

// ---------------------------------------------------------------------------
// ParseUsdPerMillion: exact decimal parsing, no floating point.

TEST(ParseUsdPerMillionTest, ParsesPlainDecimalsExactly) {
  const std::vector<std::pair<std::string, int64_t>> cases = {
      {"0", 0},
      {"0.0", 0},
      {"5", 5'000'000},
      {"5.00", 5'000'000},
      {"2.5", 2'500'000},
      {"0.075", 75'000},
      {"0.01875", 18'750},
      {"0.000001", 1},
      {"0.1", 100'000},  // 0.1 is not exact in binary; here it is
      {"0.3125", 312'500},
      {"1000000", 1'000'000'000'000},
      {"1000000.000000", 1'000'000'000'000},
      {"007.5", 7'500'000},
  };
  for (const auto& [text, want] : cases) {
    SCOPED_TRACE(text);
    int64_t got = -1;
    ASSERT_TRUE(ParseUsdPerMillion(text, &got));
    EXPECT_EQ(got, want);
  }
}

TEST(ParseUsdPerMillionTest, RejectsEverythingElse) {
  for (const char* text : {"", "-1", "+1", "1e3", "1E-3", ".5", "5.", "1.0000001", "1000000.000001",
                           "10000000", "1,5", "0x10", " 1", "1 ", "nan", ".inf", "1.2.3", "abc",
                           "99999999999999999999"}) {
    SCOPED_TRACE(text);
    int64_t got = -1;
    EXPECT_FALSE(ParseUsdPerMillion(text, &got));
    EXPECT_EQ(got, -1);
  }
}

// ---------------------------------------------------------------------------
// Good input

TEST(LoadPricesTextTest, EmptyTablesAreAllowed) {
  for (const char* text : {"", "# only a comment\n", "---\n", "providers:\n", "providers: {}\n",
                           "providers:\n  openai:\n", "providers:\n  openai:\n    models: []\n"}) {
    SCOPED_TRACE(text);
    PricesLoadResult r = LoadPricesText(text, "p.yaml");
    EXPECT_TRUE(r.ok()) << AllErrors(r);
    EXPECT_TRUE(r.entries.empty());
  }
}

TEST(LoadPricesTextTest, ReadsEveryField) {
  PricesLoadResult r = LoadPricesText(
      OneProvider("      - model: gpt-4o\n"               // line 5
                  "        valid_from: 2024-05-13\n"
                  "        input: 2.50\n"
                  "        output: 10\n"
                  "        cache_read: 1.25\n"
                  "        cache_write_5m: 3.125\n"
                  "        cache_write_1h: 0.000001\n"
                  "        long_context: {above: 200000, input: 5, output: 20.5, cache_read: 2.5,\n"
                  "                       cache_write_5m: 6.25, cache_write_1h: 10}\n"
                  "        source: https://example.com/x\n"),
      "p.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  ASSERT_EQ(r.entries.size(), 1u);
  const PriceEntry& e = r.entries[0];
  EXPECT_EQ(e.provider, "openai");
  EXPECT_EQ(e.model, "gpt-4o");
  EXPECT_FALSE(e.is_pattern);
  EXPECT_EQ(e.valid_from_ms, k20240513);
  EXPECT_EQ(e.prices.input, 2'500'000);
  EXPECT_EQ(e.prices.output, 10'000'000);
  EXPECT_EQ(e.prices.cache_read, 1'250'000);
  EXPECT_EQ(e.prices.cache_write_5m, 3'125'000);
  EXPECT_EQ(e.prices.cache_write_1h, 1);
  EXPECT_EQ(e.long_context_above, 200'000);
  EXPECT_EQ(e.long_context.input, 5'000'000);
  EXPECT_EQ(e.long_context.output, 20'500'000);
  EXPECT_EQ(e.long_context.cache_read, 2'500'000);
  EXPECT_EQ(e.long_context.cache_write_5m, 6'250'000);
  EXPECT_EQ(e.long_context.cache_write_1h, 10'000'000);
  EXPECT_EQ(e.source, "https://example.com/x");
  EXPECT_EQ(e.line, 5);
}

TEST(LoadPricesTextTest, DefaultsAndForms) {
  PricesLoadResult r = LoadPricesText(
      OneProvider(
          "      - {model: a, valid_from: 2024-05-13, input: 3, output: 4}\n"
          "      - {pattern: \"a-*\", valid_from: \"2024-05-13\", input: 3, output: 4}\n"
          "      - {model: A, valid_from: 2024-05-13T16:30:00Z, input: 3, output: 4}\n"
          "      - {model: b, valid_from: 2024-05-13, input: 1, output: 2,\n"
          "         long_context: {above: 10, input: 7, output: 8}}\n") +
          "  Other.Host:\n"
          "    models:\n"
          "      - {model: c, valid_from: 1970-01-01, input: 0, output: 0, source: "
          "http://h/p}\n",
      "p.yaml");
  // Provider names must be lower case.
  ASSERT_EQ(r.errors.size(), 1u) << AllErrors(r);
  EXPECT_EQ(r.errors[0].key_path, "providers.Other.Host");
  EXPECT_THAT(r.errors[0].message, HasSubstr("lower case"));

  r = LoadPricesText(
      OneProvider(
          "      - {model: a, valid_from: 2024-05-13, input: 3, output: 4}\n"
          "      - {pattern: \"a-*\", valid_from: \"2024-05-13\", input: 3, output: 4}\n"
          "      - {model: A, valid_from: 2024-05-13T16:30:00Z, input: 3, output: 4}\n"
          "      - {model: b, valid_from: 2024-05-13, input: 1, output: 2,\n"
          "         long_context: {above: 10, input: 7, output: 8}}\n") +
          "  other.host_2:\n"
          "    models:\n"
          "      - {model: c, valid_from: 1970-01-01, input: 0, output: 0, source: "
          "http://h/p}\n",
      "p.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  ASSERT_EQ(r.entries.size(), 5u);
  // Cache prices default to the input price.
  EXPECT_EQ(r.entries[0].prices.cache_read, 3'000'000);
  EXPECT_EQ(r.entries[0].prices.cache_write_5m, 3'000'000);
  EXPECT_EQ(r.entries[0].prices.cache_write_1h, 3'000'000);
  EXPECT_EQ(r.entries[0].long_context_above, 0);
  EXPECT_EQ(r.entries[0].source, "https://openai.com/api/pricing/");
  EXPECT_TRUE(r.entries[1].is_pattern);
  EXPECT_EQ(r.entries[1].model, "a-*");
  EXPECT_EQ(r.entries[1].valid_from_ms, k20240513);
  // Same model in another case, but another valid_from: not a duplicate.
  EXPECT_EQ(r.entries[2].model, "A");
  EXPECT_EQ(r.entries[2].valid_from_ms, k20240513 + (16 * 60 + 30) * 60'000);
  EXPECT_EQ(r.entries[3].long_context_above, 10);
  EXPECT_EQ(r.entries[3].long_context.cache_read, 7'000'000);
  EXPECT_EQ(r.entries[3].long_context.cache_write_1h, 7'000'000);
  EXPECT_EQ(r.entries[4].provider, "other.host_2");
  EXPECT_EQ(r.entries[4].valid_from_ms, 0);
  EXPECT_EQ(r.entries[4].source, "http://h/p");
  EXPECT_EQ(r.entries[4].line, 12);
}

// ---------------------------------------------------------------------------
// Bad input: exactly one error each, with position, key path and message.

struct BadCase {
  std::string name;
  std::string yaml;
  std::string key_path;
  int line;
  int column;
  std::string message;  // substring of the message
};

TEST(LoadPricesTextTest, BadCases) {
  const std::string m = OneProvider("");  // models start on line 5
  const std::vector<BadCase> cases = {
      // Structure.
      {"root is a list", "- a\n", "", 1, 1, "top level must be a map with the key providers"},
      {"yaml syntax error", "providers: [\n", "", 2, 1, "invalid YAML"},
      {"two documents", "providers: {}\n---\nproviders: {}\n", "", 2, 1, "2 YAML documents"},
      {"stray comma", ",", "", 1, 1, "invalid YAML: unexpected ','"},
      {"unknown top-level key", "provider:\n  openai: {}\n", "provider", 1, 1,
       "unknown key (did you mean 'providers'? known keys: providers)"},
      {"providers is a list", "providers: [openai]\n", "providers", 1, 12,
       "expected a map of provider name to {source, models}, got a list"},
      {"provider is a scalar", "providers:\n  openai: 5\n", "providers.openai", 2, 11,
       "expected a map with keys source and models, got '5'"},
      {"duplicate provider", "providers:\n  openai: {}\n  openai: {}\n", "providers.openai", 3, 3,
       "duplicate key (first set on line 2)"},
      {"upper-case provider", "providers:\n  OpenAI: {}\n", "providers.OpenAI", 2, 3,
       "provider names are lower case"},
      {"unknown provider key", "providers:\n  openai:\n    sources: https://x\n",
       "providers.openai.sources", 3, 5,
       "unknown key (did you mean 'source'? known keys: source, models)"},
      {"bad provider source", "providers:\n  openai:\n    source: openai.com\n",
       "providers.openai.source", 3, 13,
       "expected the URL of the provider's pricing page (https://...), got 'openai.com'"},
      {"models is a map", m + "      gpt-4o: 1\n", "providers.openai.models", 5, 7,
       "expected a list of model prices, got a map"},
      {"model item is a scalar", m + "      - gpt-4o\n", "providers.openai.models[0]", 5, 9,
       "expected a map with keys model (or pattern), valid_from, input, output, got 'gpt-4o'"},
      // Keys of an entry.
      {"unknown entry key", m + "      - {model: a, valid_from: 2024-05-13, input: 1, output: 2, "
                                "cahce_read: 1}\n",
       "providers.openai.models[0].cahce_read", 5, 65,
       "unknown key (did you mean 'cache_read'? known keys: model, pattern, valid_from, input, "
       "output, cache_read, cache_write_5m, cache_write_1h, long_context, source)"},
      {"typo in cache key", m + "      - {model: a, valid_from: 2024-05-13, input: 1, output: 2, "
                                "cache_write_5min: 1}\n",
       "providers.openai.models[0].cache_write_5min", 5, 65, "did you mean 'cache_write_5m'?"},
      {"duplicate entry key", m + "      - {model: a, valid_from: 2024-05-13, input: 1, input: 2, "
                                  "output: 2}\n",
       "providers.openai.models[0].input", 5, 54, "duplicate key (first set on line 5)"},
      {"missing model", m + "      - {valid_from: 2024-05-13, input: 1, output: 2}\n",
       "providers.openai.models[0]", 5, 9, "missing required key 'model'"},
      {"model and pattern", m + "      - {model: a, pattern: \"a*\", valid_from: 2024-05-13, "
                                "input: 1, output: 2}\n",
       "providers.openai.models[0]", 5, 9, "give either 'model' or 'pattern', not both"},
      {"missing valid_from", m + "      - {model: a, input: 1, output: 2}\n",
       "providers.openai.models[0]", 5, 9, "missing required key 'valid_from'"},
      {"missing input", m + "      - {model: a, valid_from: 2024-05-13, output: 2}\n",
       "providers.openai.models[0]", 5, 9, "missing required key 'input' (USD per 1M input tokens)"},
      {"missing output", m + "      - {model: a, valid_from: 2024-05-13, input: 2}\n",
       "providers.openai.models[0]", 5, 9, "missing required key 'output'"},
      {"missing source", "providers:\n  x:\n    models:\n      - {model: a, valid_from: "
                         "2024-05-13, input: 1, output: 2}\n",
       "providers.x.models[0]", 4, 9, "missing required key 'source'"},
      // Model names.
      {"glob in model", m + "      - {model: \"gpt-4o-*\", valid_from: 2024-05-13, input: 1, "
                            "output: 2}\n",
       "providers.openai.models[0].model", 5, 17,
       "model 'gpt-4o-*' contains * or ?; write globs as `pattern: gpt-4o-*`"},
      {"pattern without glob", m + "      - {pattern: gpt-4o, valid_from: 2024-05-13, input: 1, "
                                   "output: 2}\n",
       "providers.openai.models[0].pattern", 5, 19, "pattern 'gpt-4o' has no * or ?"},
      {"empty model", m + "      - {model: \"\", valid_from: 2024-05-13, input: 1, output: 2}\n",
       "providers.openai.models[0].model", 5, 17, "must not be empty"},
      {"model is a list", m + "      - {model: [a], valid_from: 2024-05-13, input: 1, output: 2}\n",
       "providers.openai.models[0].model", 5, 17, "expected a model name, got a list"},
      // Dates.
      {"bad month", m + "      - {model: a, valid_from: 2024-13-01, input: 1, output: 2}\n",
       "providers.openai.models[0].valid_from", 5, 32,
       "invalid date '2024-13-01' (expected a date such as 2024-05-13"},
      {"bad day", m + "      - {model: a, valid_from: 2023-02-29, input: 1, output: 2}\n",
       "providers.openai.models[0].valid_from", 5, 32, "invalid date '2023-02-29'"},
      {"date without dashes", m + "      - {model: a, valid_from: 20240513, input: 1, output: 2}\n",
       "providers.openai.models[0].valid_from", 5, 32, "invalid date '20240513'"},
      {"american date", m + "      - {model: a, valid_from: 05/13/2024, input: 1, output: 2}\n",
       "providers.openai.models[0].valid_from", 5, 32, "invalid date '05/13/2024'"},
      {"before 1970", m + "      - {model: a, valid_from: 1969-12-31, input: 1, output: 2}\n",
       "providers.openai.models[0].valid_from", 5, 32, "invalid date '1969-12-31'"},
      {"empty date", m + "      - model: a\n        valid_from:\n        input: 1\n        output: 2\n",
       "providers.openai.models[0].valid_from", 6, 9, "missing value (expected a date"},
      // Prices.
      {"negative price", m + "      - {model: a, valid_from: 2024-05-13, input: -1, output: 2}\n",
       "providers.openai.models[0].input", 5, 51, "must not be negative (got -1)"},
      {"negative decimal", m + "      - {model: a, valid_from: 2024-05-13, input: 1, output: -0.5}\n",
       "providers.openai.models[0].output", 5, 62, "must not be negative (got -0.5)"},
      {"nan price", m + "      - {model: a, valid_from: 2024-05-13, input: .nan, output: 2}\n",
       "providers.openai.models[0].input", 5, 51,
       "must be a finite number of USD per 1M tokens (got .nan)"},
      {"infinite price", m + "      - {model: a, valid_from: 2024-05-13, input: .inf, output: 2}\n",
       "providers.openai.models[0].input", 5, 51, "must be a finite number"},
      {"text price", m + "      - {model: a, valid_from: 2024-05-13, input: free, output: 2}\n",
       "providers.openai.models[0].input", 5, 51,
       "expected a price in USD per 1M tokens such as 2.50, got 'free'"},
      {"quoted price", m + "      - {model: a, valid_from: 2024-05-13, input: \"1\", output: 2}\n",
       "providers.openai.models[0].input", 5, 51, "expected a number, got the string '1'"},
      {"dollar sign", m + "      - {model: a, valid_from: 2024-05-13, input: $1, output: 2}\n",
       "providers.openai.models[0].input", 5, 51, "got '$1'"},
      {"exponent", m + "      - {model: a, valid_from: 2024-05-13, input: 1e-3, output: 2}\n",
       "providers.openai.models[0].input", 5, 51,
       "write prices as plain decimals such as 0.075 (got 1e-3)"},
      {"too precise", m + "      - {model: a, valid_from: 2024-05-13, input: 0.0000001, output: 2}\n",
       "providers.openai.models[0].input", 5, 51,
       "has more than 6 decimal places; prices are exact to 0.000001 USD per 1M tokens"},
      {"too large", m + "      - {model: a, valid_from: 2024-05-13, input: 2000000, output: 2}\n",
       "providers.openai.models[0].input", 5, 51,
       "must be at most 1000000 USD per 1M tokens (got 2000000)"},
      {"price is a map", m + "      - model: a\n        valid_from: 2024-05-13\n        input: "
                             "{usd: 1}\n        output: 2\n",
       "providers.openai.models[0].input", 7, 16,
       "expected a price in USD per 1M tokens such as 2.50, got a map"},
      {"price is empty", m + "      - model: a\n        valid_from: 2024-05-13\n        input:\n"
                             "        output: 2\n",
       "providers.openai.models[0].input", 7, 9, "missing value (expected a price"},
      // Long context.
      {"long context not a map", m + "      - {model: a, valid_from: 2024-05-13, input: 1, "
                                     "output: 2, long_context: 200000}\n",
       "providers.openai.models[0].long_context", 5, 79,
       "expected a map such as {above: 200000, input: 2.50, output: 15.00}"},
      {"long context without threshold", m + "      - {model: a, valid_from: 2024-05-13, input: 1, "
                                             "output: 2, long_context: {input: 2, output: 4}}\n",
       "providers.openai.models[0].long_context", 5, 79, "missing required key 'above'"},
      {"long context zero threshold", m + "      - {model: a, valid_from: 2024-05-13, input: 1, "
                                          "output: 2, long_context: {above: 0, input: 2, "
                                          "output: 4}}\n",
       "providers.openai.models[0].long_context.above", 5, 87,
       "expected a positive number of prompt tokens such as 200000, got '0'"},
      {"long context bad price", m + "      - {model: a, valid_from: 2024-05-13, input: 1, "
                                     "output: 2, long_context: {above: 9, input: x, output: 4}}\n",
       "providers.openai.models[0].long_context.input", 5, 97, "got 'x'"},
      {"long context unknown key", m + "      - {model: a, valid_from: 2024-05-13, input: 1, "
                                       "output: 2, long_context: {threshold: 9, input: 2, "
                                       "output: 4}}\n",
       "providers.openai.models[0].long_context.threshold", 5, 80, "unknown key"},
      // Duplicates.
      {"duplicate entry", m + "      - {model: gpt-4o, valid_from: 2024-05-13, input: 1, output: 2}\n"
                              "      - {model: GPT-4o, valid_from: 2024-05-13, input: 3, output: 4}\n",
       "providers.openai.models[1].valid_from", 6, 37,
       "duplicate price: openai model 'GPT-4o' from 2024-05-13 is already given on line 5 (model "
       "names compare case-insensitively)"},
      {"duplicate pattern entry", m + "      - {pattern: \"a*\", valid_from: 2025-02-08T16:00:00Z, "
                                      "input: 1, output: 2}\n"
                                      "      - {pattern: \"A*\", valid_from: 2025-02-08T16:00:00Z, "
                                      "input: 1, output: 2}\n",
       "providers.openai.models[1].valid_from", 6, 37,
       "duplicate price: openai pattern 'A*' from 2025-02-08T16:00:00Z is already given on line 5"},
  };
  for (const BadCase& tc : cases) {
    SCOPED_TRACE(tc.name);
    PricesLoadResult r = LoadPricesText(tc.yaml, "p.yaml");
    ASSERT_EQ(r.errors.size(), 1u) << AllErrors(r);
    EXPECT_TRUE(r.entries.empty());
    const ConfigError& e = r.errors[0];
    EXPECT_EQ(e.file, "p.yaml");
    EXPECT_EQ(e.key_path, tc.key_path) << e.ToString();
    EXPECT_EQ(e.line, tc.line) << e.ToString();
    EXPECT_EQ(e.column, tc.column) << e.ToString();
    EXPECT_THAT(e.message, HasSubstr(tc.message)) << e.ToString();
  }
}

TEST(LoadPricesTextTest, SameModelAtTwoProvidersOrTwoDatesIsNotADuplicate) {
  PricesLoadResult r = LoadPricesText(
      "providers:\n"
      "  groq:\n"
      "    source: https://groq.com/pricing\n"
      "    models:\n"
      "      - {model: m, valid_from: 2024-05-13, input: 1, output: 2}\n"
      "      - {model: m, valid_from: 2024-05-14, input: 1, output: 2}\n"
      "      - {pattern: \"m*\", valid_from: 2024-05-13, input: 1, output: 2}\n"
      "  together:\n"
      "    source: https://www.together.ai/pricing\n"
      "    models:\n"
      "      - {model: M, valid_from: 2024-05-13, input: 1, output: 2}\n",
      "p.yaml");
  EXPECT_TRUE(r.ok()) << AllErrors(r);
  EXPECT_EQ(r.entries.size(), 4u);
}

TEST(LoadPricesTextTest, ReportsAllErrorsAtOnce) {
  PricesLoadResult r = LoadPricesText(
      "providers:\n"
      "  openai:\n"
      "    source: https://openai.com/api/pricing/\n"
      "    models:\n"
      "      - {model: a, valid_from: 2024-02-30, input: -1, output: x}\n"  // 5: three errors
      "      - {model: b, valid_from: 2024-05-13, input: 1, output: 2}\n"   // 6: fine
      "      - {model: c, input: 1}\n"                                      // 7: two missing keys
      "  anthropic:\n"
      "    sorce: https://anthropic.com\n"                                  // 9
      "    models:\n"
      "      - {pattern: c*, valid_from: 2024-05-13, input: 1, output: 2, extra: 1}\n",  // 11
      "multi.yaml");
  std::vector<std::string> paths;
  std::vector<int> lines;
  for (const ConfigError& e : r.errors) {
    paths.push_back(e.key_path);
    lines.push_back(e.line);
  }
  EXPECT_THAT(paths, ElementsAre("providers.openai.models[0].valid_from",
                                 "providers.openai.models[0].input",
                                 "providers.openai.models[0].output", "providers.openai.models[2]",
                                 "providers.openai.models[2]", "providers.anthropic.sorce",
                                 "providers.anthropic.models[0].extra",
                                 "providers.anthropic.models[0]"))
      << AllErrors(r);
  EXPECT_THAT(lines, ElementsAre(5, 5, 5, 7, 7, 9, 11, 11));
  EXPECT_TRUE(r.entries.empty());
  EXPECT_THAT(r.errors[0].ToString(),
              HasSubstr("multi.yaml:5:32: providers.openai.models[0].valid_from: invalid date"));
}

TEST(LoadPricesTextTest, ManyErrorsAreCapped) {
  std::string yaml = OneProvider("");
  for (int i = 0; i < 300; ++i) {
    yaml += "      - {model: m" + std::to_string(i) + ", valid_from: 2024-05-13, input: x, output: 1}\n";
  }
  PricesLoadResult r = LoadPricesText(yaml, "p.yaml");
  ASSERT_EQ(r.errors.size(), 101u);
  EXPECT_EQ(r.errors.back().message, "200 more errors not shown");
}

TEST(LoadPricesTextTest, GarbageIsAnErrorNotACrash) {
  EXPECT_FALSE(LoadPricesText(std::string("\0\xff\xfe{[\"\0", 8), "bin.yaml").ok());
  EXPECT_FALSE(LoadPricesText("providers: " + std::string(100'000, '['), "deep.yaml").ok());
  EXPECT_FALSE(LoadPricesText("providers: &a [*a]\n", "alias.yaml").ok());
}

// ---------------------------------------------------------------------------
// Files

TEST(LoadPricesFileTest, MissingFileIsAnError) {
  PricesLoadResult r = LoadPricesFile("/nonexistent/dir/prices.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].ToString(),
            "/nonexistent/dir/prices.yaml: cannot open price file: No such file or directory");
}

TEST(LoadPricesFileTest, DirectoryIsAnError) {
  PricesLoadResult r = LoadPricesFile(kSourceDir + "/config");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0].message, HasSubstr("Is a directory"));
}

// ---------------------------------------------------------------------------
// The shipped table: loads clean, covers every provider tally documents, and
// its numbers are consistent with the providers' published pricing rules.

class ShippedPricesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    result_ = LoadPricesFile(kSourceDir + "/config/prices.yaml");
    ASSERT_TRUE(result_.ok()) << AllErrors(result_);
  }
  PricesLoadResult result_;
};

TEST_F(ShippedPricesTest, HasEntriesForEveryProvider) {
  std::map<std::string, int> per_provider;
  for (const PriceEntry& e : result_.entries) ++per_provider[e.provider];
  for (const char* provider :
       {"openai", "anthropic", "google", "mistral", "deepseek", "groq", "together"}) {
    SCOPED_TRACE(provider);
    EXPECT_GE(per_provider[provider], 1);
  }
  // Meta Llama on at least two hosts.
  std::set<std::string> llama_hosts;
  for (const PriceEntry& e : result_.entries) {
    std::string lower = e.model;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.find("llama") != std::string::npos) llama_hosts.insert(e.provider);
  }
  EXPECT_GE(llama_hosts.size(), 2u);
}

TEST_F(ShippedPricesTest, EntriesAreSane) {
  const int64_t k2020 = 18'262 * kDayMs;
  const int64_t k2030 = 21'915 * kDayMs;
  for (const PriceEntry& e : result_.entries) {
    SCOPED_TRACE(e.provider + " " + e.model + " line " + std::to_string(e.line));
    EXPECT_TRUE(e.source.starts_with("https://"));
    EXPECT_GT(e.valid_from_ms, k2020 - 5 * 365 * kDayMs);
    EXPECT_LT(e.valid_from_ms, k2030);
    EXPECT_GT(e.prices.input, 0);
    EXPECT_LE(e.prices.cache_read, e.prices.input);  // a cache hit never costs more
    if (e.long_context_above > 0) {
      EXPECT_GE(e.long_context.input, e.prices.input);
      EXPECT_GE(e.long_context.output, e.prices.output);
    }
    // Anthropic: hits 0.1x, 5 min writes 1.25x, 1 h writes 2x the input price
    // (Claude 3 Haiku's are published rounded: $0.03 and $0.30 for $0.25 input).
    if (e.provider == "anthropic" && e.prices.cache_read != e.prices.input &&
        e.model != "claude-3-haiku-*") {
      EXPECT_EQ(e.prices.cache_read * 10, e.prices.input);
      EXPECT_EQ(e.prices.cache_write_5m * 4, e.prices.input * 5);
      EXPECT_EQ(e.prices.cache_write_1h, e.prices.input * 2);
    }
    if (e.provider != "anthropic") {
      // Only Anthropic bills cache writes apart from input.
      EXPECT_EQ(e.prices.cache_write_5m, e.prices.input);
      EXPECT_EQ(e.prices.cache_write_1h, e.prices.input);
    }
  }
}

}  // namespace
}  // namespace config
