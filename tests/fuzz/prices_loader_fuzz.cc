// libFuzzer target for the price table loader: any input must give entries or
// a list of errors, never a crash, a hang or an escaped exception; loaded
// entries must satisfy the loader's promises.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/prices_loader.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckPrices(const config::TokenPrices& p) {
  constexpr int64_t kMax = 1'000'000LL * config::kMicroUsdPerUsd;
  for (int64_t v : {p.input, p.output, p.cache_read, p.cache_write_5m, p.cache_write_1h}) {
    Check(v >= 0 && v <= kMax);
  }
}

// micro-USD -> "12.345678", which must parse back to the same value.
void CheckRoundTrip(int64_t micro) {
  std::string text = std::to_string(micro / 1'000'000) + ".";
  std::string frac = std::to_string(micro % 1'000'000);
  text += std::string(6 - frac.size(), '0') + frac;
  int64_t back = -1;
  Check(config::ParseUsdPerMillion(text, &back) && back == micro);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  config::PricesLoadResult result = config::LoadPricesText(text, "fuzz.yaml");
  for (const config::ConfigError& error : result.errors) (void)error.ToString();
  Check(result.ok() || result.entries.empty());
  for (const config::PriceEntry& e : result.entries) {
    Check(!e.provider.empty() && !e.model.empty() && !e.source.empty());
    Check(e.valid_from_ms >= 0);
    Check(e.is_pattern == (e.model.find_first_of("*?") != std::string::npos));
    CheckPrices(e.prices);
    Check(e.long_context_above >= 0);
    if (e.long_context_above > 0) CheckPrices(e.long_context);
    CheckRoundTrip(e.prices.input);
  }
  // The price parser on its own, on the raw bytes.
  int64_t micro = -1;
  if (config::ParseUsdPerMillion(text, &micro)) CheckRoundTrip(micro);
  return 0;
}
