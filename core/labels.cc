#include "core/labels.h"

#include <algorithm>

namespace core {

Labels::Labels(std::vector<Label> labels) : items_(std::move(labels)) {
  std::sort(items_.begin(), items_.end(),
            [](const Label& a, const Label& b) { return a.name < b.name; });
}

const std::string* Labels::Get(std::string_view name) const {
  for (const Label& l : items_) {
    if (l.name == name) return &l.value;
  }
  return nullptr;
}

uint64_t HashBytes(std::string_view bytes, uint64_t seed) {
  uint64_t h = seed;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t Labels::Hash() const {
  uint64_t h = 14695981039346656037ull;
  for (const Label& l : items_) {
    h = HashBytes(l.name, h);
    h = HashBytes(std::string_view("\xff", 1), h);
    h = HashBytes(l.value, h);
    h = HashBytes(std::string_view("\xfe", 1), h);
  }
  return h;
}

size_t Labels::ByteSize() const {
  size_t n = items_.capacity() * sizeof(Label);
  for (const Label& l : items_) {
    if (l.name.size() > 15) n += l.name.capacity();
    if (l.value.size() > 15) n += l.value.capacity();
  }
  return n;
}

}  // namespace core
