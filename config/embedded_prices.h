// The shipped price table, config/prices.yaml, compiled into the binary at
// build time (config/embed_prices.cmake, no downloads): tally prices events
// with it when `pricing.file` is not set (docs/pricing.md). Stateless;
// thread-safe.
#pragma once

#include <string_view>

namespace config {

// How logs and errors name the built-in table.
inline constexpr std::string_view kEmbeddedPricesName = "built-in config/prices.yaml";

// The text of config/prices.yaml as of the build (parse it with LoadPricesText).
std::string_view EmbeddedPricesYaml();

}  // namespace config
