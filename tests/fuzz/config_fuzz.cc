// libFuzzer target for the config loader: any input must give a Config or a
// list of errors, never a crash, a hang or an escaped exception.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  config::LoadResult result = config::LoadConfigText(text, "fuzz.yaml");
  for (const config::ConfigError& error : result.errors) {
    (void)error.ToString();
  }
  return 0;
}
