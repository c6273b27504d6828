// Label sets: the identity of a series next to its project and metric name.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace core {

struct Label {
  std::string name;
  std::string value;
  friend bool operator==(const Label&, const Label&) = default;
  friend auto operator<=>(const Label&, const Label&) = default;
};

// A label set sorted by name with unique names. Value type, not thread-safe.
class Labels {
 public:
  Labels() = default;
  // Sorts `labels` by name. REQUIRES: names are unique.
  explicit Labels(std::vector<Label> labels);

  const std::vector<Label>& items() const { return items_; }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  // The value of `name`, or nullptr.
  const std::string* Get(std::string_view name) const;
  // 64-bit hash of the names and values (equal label sets hash equal).
  uint64_t Hash() const;
  // Approximate heap bytes held, for memory accounting.
  size_t ByteSize() const;

  friend bool operator==(const Labels&, const Labels&) = default;

 private:
  std::vector<Label> items_;
};

// A fast 64-bit hash of bytes, continuing from `seed`; for shard selection and
// series keys (not stable across versions: never persist it).
uint64_t HashBytes(std::string_view bytes, uint64_t seed = 14695981039346656037ull);

// Folds one label into a label-set hash; Labels::Hash() is HashLabel over its
// labels in order, starting from kLabelsHashSeed. (Lengths are mixed in, so
// ("ab","c") and ("a","bc") differ.)
inline constexpr uint64_t kLabelsHashSeed = 14695981039346656037ull;
inline uint64_t HashLabel(std::string_view name, std::string_view value, uint64_t h) {
  return HashBytes(value, HashBytes(name, h));
}

}  // namespace core
