// Building blocks of the analytics scans: filters resolved to dictionary
// codes, a row loop over EventStore blocks that applies them, and a small
// open-addressing map from 64-bit group keys (pairs of codes) to dense group
// indices. Internal to rest/analytics*.cc and rest/calls_stats.cc.
//
// Values are not thread-safe; use one per scan.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "store/event_store.h"

namespace rest::scan {

inline constexpr uint32_t kAnyCode = UINT32_MAX;

// One equality condition on a string column, as a code.
struct CodeCondition {
  store::EventField field;
  uint32_t code;
};

// A filter whose strings were looked up in the project's dictionary. A string
// the dictionary never saw matches no event (`matches_nothing`).
struct ResolvedFilter {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  bool matches_nothing = false;
  std::vector<CodeCondition> equals;       // all must hold
  std::vector<store::TagCode> tags;        // all must be present with that value
};

// Adds field == text to `f` (marking it empty when `text` is unknown).
inline void AddEquals(ResolvedFilter& f, const store::Dictionary* dict, store::EventField field,
                      std::string_view text) {
  std::optional<uint32_t> code = dict != nullptr ? dict->Find(text) : std::nullopt;
  if (!code) {
    f.matches_nothing = true;
    return;
  }
  f.equals.push_back({field, *code});
}

inline void AddTag(ResolvedFilter& f, const store::Dictionary* dict, std::string_view key,
                   std::string_view value) {
  std::optional<uint32_t> k = dict != nullptr ? dict->Find(key) : std::nullopt;
  std::optional<uint32_t> v = dict != nullptr ? dict->Find(value) : std::nullopt;
  if (!k || !v || *k == store::Dictionary::kEmpty) {
    f.matches_nothing = true;
    return;
  }
  f.tags.push_back({*k, *v});
}

// The columns of one block, read once per block (the view's accessors are not
// inline). Spans of absent columns are zeros.
struct BlockColumns {
  explicit BlockColumns(const store::EventBlockView& v)
      : view(v),
        ts(v.ts_ms()),
        model(v.codes(store::EventField::kModel)),
        provider(v.codes(store::EventField::kProvider)),
        entity_type(v.codes(store::EventField::kEntityType)),
        entity_id(v.codes(store::EventField::kEntityId)),
        session(v.codes(store::EventField::kSessionId)),
        turn(v.codes(store::EventField::kTurnId)),
        parent(v.codes(store::EventField::kParentId)),
        input(v.input_tokens()),
        output(v.output_tokens()),
        cache_read(v.cache_read_tokens()),
        cache_write_5m(v.cache_write_5m_tokens()),
        cache_write_1h(v.cache_write_1h_tokens()),
        cost(v.cost_nano_usd()),
        latency(v.latency_ms()),
        flags(v.flags()) {}

  bool success(size_t i) const { return (flags[i] & store::kEventFlagSuccess) != 0; }
  bool has_latency(size_t i) const { return (flags[i] & store::kEventFlagHasLatency) != 0; }
  store::CostSource cost_source(size_t i) const {
    return static_cast<store::CostSource>((flags[i] & store::kEventFlagCostSourceMask) >>
                                          store::kEventFlagCostSourceShift);
  }
  uint64_t cache_tokens(size_t i) const {
    return uint64_t{cache_read[i]} + cache_write_5m[i] + cache_write_1h[i];
  }

  const store::EventBlockView& view;
  std::span<const int64_t> ts;
  std::span<const uint32_t> model, provider, entity_type, entity_id, session, turn, parent;
  std::span<const uint32_t> input, output, cache_read, cache_write_5m, cache_write_1h;
  std::span<const int64_t> cost;
  std::span<const float> latency;
  std::span<const uint8_t> flags;
};

// Calls fn(columns, row) for every row of `project` in [start, end) that passes
// `f`. Conditions are checked column by column on the block's arrays.
template <typename Fn>
void ForEachRow(const store::EventStore& store, std::string_view project, const ResolvedFilter& f,
                Fn&& fn) {
  if (f.matches_nothing || f.start_ms >= f.end_ms) return;
  store.ScanBlocks(project, f.start_ms, f.end_ms, [&](const store::EventBlockView& v) {
    const size_t n = v.size();
    const std::span<const int64_t> ts = v.ts_ms();
    const bool all_in_range = v.min_ts_ms() >= f.start_ms && v.max_ts_ms() < f.end_ms;
    const BlockColumns bc(v);
    std::span<const uint32_t> cols[4];
    const size_t nconds = f.equals.size();
    if (nconds > 4) {
      // Unusual: fall back to per-row lookups for every condition.
      for (size_t i = 0; i < n; ++i) {
        if (ts[i] < f.start_ms || ts[i] >= f.end_ms) continue;
        bool ok = true;
        for (const CodeCondition& c : f.equals) ok = ok && v.codes(c.field)[i] == c.code;
        for (const store::TagCode& t : f.tags) ok = ok && v.tag_value(i, t.key) == t.value;
        if (ok) fn(bc, i);
      }
      return;
    }
    for (size_t c = 0; c < nconds; ++c) cols[c] = v.codes(f.equals[c].field);
    for (size_t i = 0; i < n; ++i) {
      if (!all_in_range && (ts[i] < f.start_ms || ts[i] >= f.end_ms)) continue;
      bool ok = true;
      for (size_t c = 0; c < nconds && ok; ++c) ok = cols[c][i] == f.equals[c].code;
      if (!ok) continue;
      for (const store::TagCode& t : f.tags) {
        if (v.tag_value(i, t.key) != t.value) {
          ok = false;
          break;
        }
      }
      if (ok) fn(bc, i);
    }
  });
}

// Dense group numbering for 64-bit keys (linear probing, power-of-two table).
class GroupIndex {
 public:
  GroupIndex() : slots_(1024, kFree) {}

  // The group of `key`, creating it (with the next index) when new.
  uint32_t Get(uint64_t key) {
    if (key == last_key_ && last_index_ != kFree) return last_index_;
    size_t mask = slots_.size() - 1;
    size_t h = Hash(key) & mask;
    while (true) {
      uint32_t s = slots_[h];
      if (s == kFree) break;
      if (keys_[s] == key) {
        last_key_ = key;
        last_index_ = s;
        return s;
      }
      h = (h + 1) & mask;
    }
    uint32_t index = static_cast<uint32_t>(keys_.size());
    keys_.push_back(key);
    slots_[h] = index;
    if (keys_.size() * 2 > slots_.size()) Grow();
    last_key_ = key;
    last_index_ = index;
    return index;
  }

  size_t size() const { return keys_.size(); }
  uint64_t key(uint32_t index) const { return keys_[index]; }

 private:
  static constexpr uint32_t kFree = UINT32_MAX;
  static size_t Hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return static_cast<size_t>(k);
  }
  void Grow() {
    std::vector<uint32_t> bigger(slots_.size() * 2, kFree);
    size_t mask = bigger.size() - 1;
    for (uint32_t i = 0; i < keys_.size(); ++i) {
      size_t h = Hash(keys_[i]) & mask;
      while (bigger[h] != kFree) h = (h + 1) & mask;
      bigger[h] = i;
    }
    slots_.swap(bigger);
  }

  std::vector<uint32_t> slots_;
  std::vector<uint64_t> keys_;
  uint64_t last_key_ = 0;
  uint32_t last_index_ = kFree;
};

inline uint64_t PairKey(uint32_t a, uint32_t b) { return (uint64_t{a} << 32) | b; }

}  // namespace rest::scan
