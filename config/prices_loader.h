// Loading the LLM price table (config/prices.yaml) from YAML. Like the config
// loader, it reports every error at once with file:line:column and key path.
// Stateless functions; safe to call from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "config/prices.h"

namespace config {

// Either the entries of a price file, in file order, or every error found.
struct PricesLoadResult {
  std::vector<PriceEntry> entries;  // empty when there are errors
  std::vector<ConfigError> errors;
  bool ok() const { return errors.empty(); }
};

// Parses a price table; `file_name` only labels the errors. An empty text (or a
// file with `providers: {}`) is a valid, empty table. Errors: unknown keys (with
// did-you-mean), missing model/input/output, negative, NaN, non-numeric or
// over-precise prices (more than 6 decimals), bad dates, a glob in `model:`,
// and a (provider, model, valid_from) given twice (models compare case-insensitively).
PricesLoadResult LoadPricesText(std::string_view yaml_text, const std::string& file_name);

// Reads and parses a file.
PricesLoadResult LoadPricesFile(const std::string& path);

// Parses a price in USD per 1M tokens written as a plain decimal ("2.50",
// "0.075", "3") into micro-USD per 1M tokens, exactly (no floating point).
// Returns false for anything else (signs, exponents, more than 6 decimals,
// values above 1,000,000 USD).
bool ParseUsdPerMillion(std::string_view text, int64_t* micro_usd);

}  // namespace config
