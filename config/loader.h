// Loading a Config from YAML text. yaml-cpp stays out of this header (config/*.cc only).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace config {

// One problem in a config file: where and what.
struct ConfigError {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  std::string key_path;  // e.g. "storage.retention" or "exposition.histograms[1].buckets"
  std::string message;

  // "file:line:column: key_path: message"
  std::string ToString() const;
};

// Either a config or every error found (loaders report all errors at once).
struct LoadResult {
  Config config;
  std::vector<ConfigError> errors;
  bool ok() const { return errors.empty(); }
};

// Parses YAML text; `file_name` only labels the errors. Keys absent from the
// text keep their defaults; unknown keys and wrong types are errors.
LoadResult LoadConfigText(std::string_view yaml_text, const std::string& file_name);

// Reads and parses a file.
LoadResult LoadConfigFile(const std::string& path);

}  // namespace config
