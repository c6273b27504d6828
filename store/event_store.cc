#include "store/event_store.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "store/event_id_index.h"

namespace store {
namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr size_t kFirstBlockRows = 64;
constexpr size_t kFirstTagCapacity = 64;
// Approximate cost of one dictionary index entry (node, cached hash, bucket).
constexpr int64_t kIdIndexEntryBytes = 64;

// Id index refs (EventIdIndex): a committed row is (block slot << kRowBits) |
// row; a claim (Reserve before Commit) is kPendingBit | its index in
// Project::pending.
constexpr int kRowBits = 13;
static_assert(EventStore::kMaxBlockRows == size_t{1} << kRowBits);
constexpr uint32_t kRowMask = (1u << kRowBits) - 1;
constexpr uint32_t kPendingBit = 0x80000000u;
constexpr size_t kMaxBlockSlots = size_t{1} << (31 - kRowBits);  // per project
constexpr uint32_t RowRef(uint32_t slot, size_t row) {
  return (slot << kRowBits) | static_cast<uint32_t>(row);
}

// Column numbers inside a block.
enum Col : size_t {
  kColTs = 0,
  kColCost = 1,
  kColCode0 = 2,  // kColCode0 + EventField
  kColInput = kColCode0 + kEventFieldCount,
  kColOutput,
  kColCacheRead,
  kColCacheWrite5m,
  kColCacheWrite1h,
  kColLatency,
  kColFlags,
  kNumCols,
};
static_assert(kNumCols <= 24);

size_t ColElemSize(size_t col) {
  switch (col) {
    case kColTs:
    case kColCost:
      return 8;
    case kColFlags:
      return 1;
    default:
      return 4;
  }
}

// Views of columns not allocated yet read these (const, so not mutable state).
const uint32_t kZeroU32[EventStore::kMaxBlockRows] = {};
const float kZeroF32[EventStore::kMaxBlockRows] = {};

int64_t DayOf(int64_t ts_ms) {
  int64_t d = ts_ms / kDayMs;
  if (ts_ms % kDayMs < 0) --d;
  return d;
}

}  // namespace

std::string_view CostSourceName(CostSource source) {
  switch (source) {
    case CostSource::kReported:
      return "reported";
    case CostSource::kPriceTable:
      return "price_table";
    case CostSource::kUnknownModel:
      return "unknown_model";
  }
  return "reported";
}

std::string_view EventFieldName(EventField field) {
  static constexpr std::string_view kNames[kEventFieldCount] = {
      "model",     "provider",  "entity_type", "entity_id", "session_id", "trace_id",
      "parent_id", "op_name",   "thread_id",   "turn_id",   "user_id"};
  return kNames[static_cast<size_t>(field)];
}

EventView Event::View(
    std::vector<std::pair<std::string_view, std::string_view>>& tag_storage) const {
  EventView v;
  v.id = id;
  v.ts_ms = ts_ms;
  for (size_t f = 0; f < kEventFieldCount; ++f) v.strings[f] = strings[f];
  v.input_tokens = input_tokens;
  v.output_tokens = output_tokens;
  v.cache_read_tokens = cache_read_tokens;
  v.cache_write_5m_tokens = cache_write_5m_tokens;
  v.cache_write_1h_tokens = cache_write_1h_tokens;
  v.cost_nano_usd = cost_nano_usd;
  v.cost_source = cost_source;
  v.latency_ms = latency_ms;
  v.success = success;
  tag_storage.clear();
  for (const auto& [k, val] : tags) tag_storage.emplace_back(k, val);
  v.tags = tag_storage;
  return v;
}

// ---------------------------------------------------------------- Dictionary

struct Dictionary::Impl {
  mutable std::shared_mutex mu;
  std::deque<std::string> strings;                       // guarded by mu
  std::unordered_map<std::string_view, uint32_t> index;  // guarded by mu
  int64_t bytes = 0;                                     // guarded by mu
};

Dictionary::Dictionary() : impl_(std::make_unique<Impl>()) {
  impl_->strings.emplace_back();
  impl_->index.emplace(std::string_view(impl_->strings.back()), kEmpty);
}
Dictionary::~Dictionary() = default;

std::optional<uint32_t> Dictionary::Find(std::string_view s) const {
  std::shared_lock lock(impl_->mu);
  auto it = impl_->index.find(s);
  if (it == impl_->index.end()) return std::nullopt;
  return it->second;
}

std::string_view Dictionary::Str(uint32_t code) const {
  std::shared_lock lock(impl_->mu);
  return impl_->strings[code];
}

size_t Dictionary::size() const {
  std::shared_lock lock(impl_->mu);
  return impl_->strings.size();
}

int64_t Dictionary::bytes() const {
  std::shared_lock lock(impl_->mu);
  return impl_->bytes;
}

uint32_t Dictionary::Intern(std::string_view s) {
  // Writers are serialised by the project lock, so reading the index without
  // mu is safe here: only this thread modifies it, and only under mu.
  auto it = impl_->index.find(s);
  if (it != impl_->index.end()) return it->second;
  std::unique_lock lock(impl_->mu);
  const auto code = static_cast<uint32_t>(impl_->strings.size());
  impl_->strings.emplace_back(s);
  const std::string& stored = impl_->strings.back();
  impl_->index.emplace(std::string_view(stored), code);
  impl_->bytes += static_cast<int64_t>(sizeof(std::string)) + kIdIndexEntryBytes +
                  (stored.size() > 15 ? static_cast<int64_t>(stored.capacity()) + 1 : 0);
  return code;
}

// ---------------------------------------------------------------- blocks

struct EventBlock {
  explicit EventBlock(size_t cap) : capacity(cap) {}

  const size_t capacity;
  // Guarded by the project's mutex: committed rows and their time range.
  size_t size = 0;
  int64_t min_ts = std::numeric_limits<int64_t>::max();
  int64_t max_ts = std::numeric_limits<int64_t>::min();
  // Column arrays of `capacity` elements; null = zero in every row so far.
  // Allocated (and rows >= size written) under the project's exclusive lock.
  std::unique_ptr<uint8_t[]> cols[kNumCols];
  // Event ids: row r's id is [u8 length][bytes] at offset id_off[r] of the id
  // arena: chunks of 1 << id_chunk_shift bytes, allocated as needed and never
  // moved (an id never straddles two chunks).
  std::unique_ptr<uint32_t[]> id_off;
  std::unique_ptr<std::unique_ptr<char[]>[]> id_chunks;  // id_chunk_max entries
  size_t id_chunk_max = 0;
  int id_chunk_shift = 0;
  uint32_t id_used = 0;   // arena offset of the next id
  int64_t id_bytes = 0;   // id_off, id_chunks and the chunks
  uint32_t slot = 0;      // in Project::slots (the block part of id index refs)
  std::unique_ptr<uint32_t[]> tag_begin;  // capacity + 1 entries
  std::unique_ptr<TagCode[]> tags;
  size_t tag_capacity = 0;
  size_t tag_count = 0;
  int64_t bytes = 0;  // every array allocated for this block
  // Old tag arrays, kept while views may still read them.
  std::vector<std::unique_ptr<TagCode[]>> retired_tags;
  // Cost and flags columns replaced by UpdateCosts, kept while views may still read them.
  std::vector<std::unique_ptr<uint8_t[]>> retired_cols;

  template <typename T>
  T* col(size_t c) {
    return reinterpret_cast<T*>(cols[c].get());
  }

  // Sets up the id arena; returns the bytes allocated.
  int64_t InitIds() {
    const size_t chunk_bytes = std::max<size_t>(1024, std::bit_ceil(capacity * 4));
    id_chunk_shift = std::countr_zero(chunk_bytes);
    // Every id fits with room to spare: capacity x (1 + kMaxIdBytes) bytes,
    // and less than 1 + kMaxIdBytes bytes are left unused at a chunk's end.
    id_chunk_max = capacity * (1 + EventStore::kMaxIdBytes) /
                       (chunk_bytes - 1 - EventStore::kMaxIdBytes) + 2;
    id_off = std::make_unique_for_overwrite<uint32_t[]>(capacity);
    id_chunks = std::make_unique<std::unique_ptr<char[]>[]>(id_chunk_max);
    id_bytes = static_cast<int64_t>(capacity * sizeof(uint32_t) +
                                    id_chunk_max * sizeof(std::unique_ptr<char[]>));
    return id_bytes;
  }
  // Stores the id of `row`; returns the bytes allocated.
  // REQUIRES: 0 < id.size() <= kMaxIdBytes.
  int64_t PutId(size_t row, std::string_view id) {
    const uint32_t chunk_bytes = 1u << id_chunk_shift;
    size_t chunk = id_used >> id_chunk_shift;
    if ((id_used & (chunk_bytes - 1)) + 1 + id.size() > chunk_bytes) {
      ++chunk;
      id_used = static_cast<uint32_t>(chunk << id_chunk_shift);
    }
    int64_t allocated = 0;
    if (!id_chunks[chunk]) {
      id_chunks[chunk] = std::make_unique_for_overwrite<char[]>(chunk_bytes);
      allocated = chunk_bytes;
      id_bytes += chunk_bytes;
    }
    char* p = id_chunks[chunk].get() + (id_used & (chunk_bytes - 1));
    p[0] = static_cast<char>(static_cast<uint8_t>(id.size()));
    std::memcpy(p + 1, id.data(), id.size());
    id_off[row] = id_used;
    id_used += static_cast<uint32_t>(1 + id.size());
    return allocated;
  }
  // REQUIRES: row < size (or row being written by the caller, after PutId).
  std::string_view IdAt(size_t row) const {
    const uint32_t off = id_off[row];
    const char* p = id_chunks[off >> id_chunk_shift].get() + (off & ((1u << id_chunk_shift) - 1));
    return {p + 1, static_cast<uint8_t>(p[0])};
  }
};

namespace {

// Allocates column `c` (zeroed) if needed; returns the bytes allocated.
int64_t EnsureCol(EventBlock& b, size_t c) {
  if (b.cols[c]) return 0;
  const size_t bytes = b.capacity * ColElemSize(c);
  b.cols[c] = std::make_unique<uint8_t[]>(bytes);  // value-initialised: zeros
  b.bytes += static_cast<int64_t>(bytes);
  return static_cast<int64_t>(bytes);
}

template <typename T>
void SetCol(EventBlock& b, size_t c, size_t row, T value, int64_t& bytes) {
  if (!b.cols[c]) {
    if (value == T{}) return;
    bytes += EnsureCol(b, c);
  }
  b.col<T>(c)[row] = value;
}

}  // namespace

// ---------------------------------------------------------------- views

std::span<const int64_t> EventBlockView::ts_ms() const {
  return {static_cast<const int64_t*>(cols_[kColTs]), size_};
}
std::span<const int64_t> EventBlockView::cost_nano_usd() const {
  return {static_cast<const int64_t*>(cols_[kColCost]), size_};
}
std::span<const uint8_t> EventBlockView::flags() const {
  return {static_cast<const uint8_t*>(cols_[kColFlags]), size_};
}

namespace {
std::span<const uint32_t> U32Col(const void* p, size_t n) {
  return {p ? static_cast<const uint32_t*>(p) : kZeroU32, n};
}
}  // namespace

std::span<const uint32_t> EventBlockView::codes(EventField field) const {
  return U32Col(cols_[kColCode0 + static_cast<size_t>(field)], size_);
}
std::span<const uint32_t> EventBlockView::input_tokens() const {
  return U32Col(cols_[kColInput], size_);
}
std::span<const uint32_t> EventBlockView::output_tokens() const {
  return U32Col(cols_[kColOutput], size_);
}
std::span<const uint32_t> EventBlockView::cache_read_tokens() const {
  return U32Col(cols_[kColCacheRead], size_);
}
std::span<const uint32_t> EventBlockView::cache_write_5m_tokens() const {
  return U32Col(cols_[kColCacheWrite5m], size_);
}
std::span<const uint32_t> EventBlockView::cache_write_1h_tokens() const {
  return U32Col(cols_[kColCacheWrite1h], size_);
}
std::span<const float> EventBlockView::latency_ms() const {
  const void* p = cols_[kColLatency];
  return {p ? static_cast<const float*>(p) : kZeroF32, size_};
}

std::string_view EventBlockView::id(size_t i) const { return block_->IdAt(i); }

std::span<const TagCode> EventBlockView::tags(size_t i) const {
  if (tag_begin_ == nullptr) return {};
  return {tags_ + tag_begin_[i], tags_ + tag_begin_[i + 1]};
}

uint32_t EventBlockView::tag_value(size_t i, uint32_t key_code) const {
  for (const TagCode& t : tags(i)) {
    if (t.key == key_code) return t.value;
  }
  return Dictionary::kEmpty;
}

Event EventBlockView::Row(size_t i) const {
  Event e;
  e.id = std::string(id(i));
  e.ts_ms = ts_ms()[i];
  for (size_t f = 0; f < kEventFieldCount; ++f) {
    e.strings[f] = std::string(dict_->Str(codes(static_cast<EventField>(f))[i]));
  }
  e.input_tokens = input_tokens()[i];
  e.output_tokens = output_tokens()[i];
  e.cache_read_tokens = cache_read_tokens()[i];
  e.cache_write_5m_tokens = cache_write_5m_tokens()[i];
  e.cache_write_1h_tokens = cache_write_1h_tokens()[i];
  e.cost_nano_usd = cost_nano_usd()[i];
  e.cost_source = cost_source(i);
  if (has_latency(i)) e.latency_ms = latency_ms()[i];
  e.success = success(i);
  for (const TagCode& t : tags(i)) {
    e.tags.emplace_back(std::string(dict_->Str(t.key)), std::string(dict_->Str(t.value)));
  }
  return e;
}

// ---------------------------------------------------------------- projects

namespace {

struct Partition {
  std::vector<std::shared_ptr<EventBlock>> blocks;
};

// A committed row found by id.
struct RowAt {
  EventBlock* block = nullptr;
  size_t row = 0;
};

}  // namespace

struct EventStore::Project {
  mutable std::shared_mutex mu;
  Dictionary dict;
  std::map<int64_t, Partition> partitions;           // by UTC day; guarded by mu
  // Everything below is guarded by mu.
  EventIdIndex ids;  // refs: RowRef(slot, row) or kPendingBit | claim
  std::vector<std::shared_ptr<EventBlock>> slots;    // blocks by slot (null: free)
  std::vector<uint32_t> free_slots;
  std::vector<std::string_view> pending;             // claimed ids (the callers' views)
  std::vector<uint32_t> free_pending;
  uint64_t events = 0;                               // guarded by mu
  uint64_t blocks = 0;                               // guarded by mu
  int64_t column_bytes = 0;                          // guarded by mu
  int64_t id_bytes = 0;                              // guarded by mu

  std::string_view IdOf(uint32_t ref) const {
    if (ref & kPendingBit) return pending[ref & ~kPendingBit];
    return slots[ref >> kRowBits]->IdAt(ref & kRowMask);
  }
  uint32_t FindRef(std::string_view id) const {
    return ids.Find(id, [this](uint32_t r) { return IdOf(r); });
  }
  RowAt Locate(std::string_view id) const {
    const uint32_t ref = FindRef(id);
    if (ref == EventIdIndex::kNoRef || (ref & kPendingBit)) return {};
    EventBlock* b = slots[ref >> kRowBits].get();
    const size_t row = ref & kRowMask;
    if (row >= b->size) return {};
    return {b, row};
  }
  // Claims `id` for a batch between Reserve and Commit/Abort; returns the
  // claim's ref, or kNoRef when `id` is stored or claimed already.
  uint32_t Claim(std::string_view id) {
    uint32_t i;
    if (!free_pending.empty()) {
      i = free_pending.back();
      free_pending.pop_back();
      pending[i] = id;
    } else {
      i = static_cast<uint32_t>(pending.size());
      pending.push_back(id);
    }
    const uint32_t ref = kPendingBit | i;
    if (ids.Insert(id, ref, [this](uint32_t r) { return IdOf(r); }) == EventIdIndex::kNoRef) {
      return ref;
    }
    ReleaseClaim(ref);
    return EventIdIndex::kNoRef;
  }
  void ReleaseClaim(uint32_t ref) {
    const uint32_t i = ref & ~kPendingBit;
    pending[i] = {};
    free_pending.push_back(i);
  }
  uint32_t AddSlot(std::shared_ptr<EventBlock> b) {
    uint32_t slot;
    if (!free_slots.empty()) {
      slot = free_slots.back();
      free_slots.pop_back();
    } else {
      if (slots.size() >= kMaxBlockSlots) {
        std::fprintf(stderr, "event store: a project holds more than %zu blocks\n",
                     kMaxBlockSlots);
        std::abort();
      }
      slot = static_cast<uint32_t>(slots.size());
      slots.emplace_back();
    }
    b->slot = slot;
    slots[slot] = std::move(b);
    return slot;
  }
};

struct EventStore::ProjectMap {
  mutable std::shared_mutex mu;
  std::unordered_map<std::string, std::unique_ptr<Project>> by_name;  // guarded by mu
  std::atomic<int64_t> total_bytes{0};
};

EventStore::EventStore(EventStoreOptions options)
    : options_(options), projects_(std::make_unique<ProjectMap>()) {}
EventStore::~EventStore() = default;

EventStore::Project* EventStore::FindProject(std::string_view project) const {
  std::shared_lock lock(projects_->mu);
  auto it = projects_->by_name.find(std::string(project));
  return it == projects_->by_name.end() ? nullptr : it->second.get();
}

EventStore::Project& EventStore::GetOrCreateProject(std::string_view project) {
  if (Project* p = FindProject(project)) return *p;
  std::unique_lock lock(projects_->mu);
  auto& slot = projects_->by_name[std::string(project)];
  if (!slot) slot = std::make_unique<Project>();
  return *slot;
}

const Dictionary* EventStore::dict(std::string_view project) const {
  Project* p = FindProject(project);
  return p ? &p->dict : nullptr;
}

std::vector<std::string> EventStore::Projects() const {
  std::shared_lock lock(projects_->mu);
  std::vector<std::string> out;
  for (const auto& [name, p] : projects_->by_name) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

core::Result<EventReservation> EventStore::Reserve(std::string_view project,
                                                   std::span<const EventView> events) {
  if (projects_->total_bytes.load(std::memory_order_relaxed) >= options_.max_memory_bytes) {
    return core::Fail(core::ErrorCode::kUnavailable,
                      "the event store is at its memory ceiling (storage.max_memory); "
                      "events are not accepted until retention frees space");
  }
  Project& p = GetOrCreateProject(project);
  EventReservation r;
  r.duplicate.assign(events.size(), false);
  r.claims.assign(events.size(), EventIdIndex::kNoRef);
  std::unique_lock lock(p.mu);
  if (p.slots.size() - p.free_slots.size() + events.size() / 64 + 64 > kMaxBlockSlots) {
    return core::Fail(core::ErrorCode::kUnavailable,
                      "the project holds too many event blocks; events are not accepted "
                      "until retention frees space");
  }
  const int64_t index_bytes = p.ids.bytes();
  for (size_t i = 0; i < events.size(); ++i) {
    const std::string_view id = events[i].id;
    const uint32_t claim = id.size() > kMaxIdBytes ? EventIdIndex::kNoRef : p.Claim(id);
    if (claim == EventIdIndex::kNoRef) {
      r.duplicate[i] = true;
    } else {
      r.claims[i] = claim;
      ++r.fresh;
    }
  }
  const int64_t grown = p.ids.bytes() - index_bytes;
  p.id_bytes += grown;
  projects_->total_bytes.fetch_add(grown, std::memory_order_relaxed);
  return r;
}

void EventStore::Abort(std::string_view project, std::span<const EventView> events,
                       const EventReservation& reservation) {
  Project* p = FindProject(project);
  if (p == nullptr) return;
  std::unique_lock lock(p->mu);
  for (size_t i = 0; i < events.size(); ++i) {
    if (reservation.duplicate[i]) continue;
    const uint32_t claim = reservation.claims[i];
    if (p->ids.Erase(events[i].id, claim)) p->ReleaseClaim(claim);
  }
}

void EventStore::Commit(std::string_view project, std::span<const EventView> events,
                        const EventReservation& reservation) {
  Project& p = GetOrCreateProject(project);
  std::unique_lock lock(p.mu);
  CommitLocked(p, events, &reservation, nullptr);
}

void EventStore::CommitLocked(Project& p, std::span<const EventView> events,
                              const EventReservation* reserved,
                              std::vector<bool>* appended_duplicate) {
  // Last interned string per field: batches often repeat model, provider etc.
  std::string_view last_str[kEventFieldCount];
  uint32_t last_code[kEventFieldCount] = {};
  int64_t col_bytes = 0;
  int64_t id_bytes = 0;
  const int64_t index_bytes = p.ids.bytes();
  if (reserved == nullptr) p.ids.Reserve(p.ids.size() + events.size());

  Partition* part = nullptr;
  int64_t part_day = std::numeric_limits<int64_t>::min();
  for (size_t i = 0; i < events.size(); ++i) {
    const EventView& e = events[i];
    if (reserved != nullptr) {
      if (reserved->duplicate[i]) continue;
    } else {
      // Append: dedup against the stored ids and the earlier events of the batch.
      if (e.id.empty() || e.id.size() > kMaxIdBytes || p.FindRef(e.id) != EventIdIndex::kNoRef) {
        (*appended_duplicate)[i] = true;
        continue;
      }
    }
    const int64_t day = DayOf(e.ts_ms);
    if (part == nullptr || day != part_day) {
      part = &p.partitions[day];
      part_day = day;
    }
    // The open block, or a new one (capacities double up to kMaxBlockRows).
    EventBlock* b = part->blocks.empty() ? nullptr : part->blocks.back().get();
    const size_t ntags = e.tags.size();
    if (b == nullptr || b->size == b->capacity) {
      const size_t cap =
          b == nullptr ? kFirstBlockRows : std::min(kMaxBlockRows, b->capacity * 2);
      auto nb = std::make_shared<EventBlock>(cap);
      col_bytes += EnsureCol(*nb, kColTs) + EnsureCol(*nb, kColCost) + EnsureCol(*nb, kColFlags);
      id_bytes += nb->InitIds();
      part->blocks.push_back(nb);
      p.AddSlot(std::move(nb));
      b = part->blocks.back().get();
      ++p.blocks;
    }
    const size_t row = b->size;
    if (ntags > 0) {
      if (!b->tag_begin) {
        b->tag_begin = std::make_unique<uint32_t[]>(b->capacity + 1);
        const auto n = static_cast<int64_t>((b->capacity + 1) * sizeof(uint32_t));
        col_bytes += n;
        b->bytes += n;
      }
      if (b->tag_count + ntags > b->tag_capacity) {
        const size_t cap =
            std::max({kFirstTagCapacity, b->tag_capacity * 2, b->tag_count + ntags});
        auto grown = std::make_unique<TagCode[]>(cap);
        if (b->tag_count > 0) std::memcpy(grown.get(), b->tags.get(), b->tag_count * sizeof(TagCode));
        if (b->tags) b->retired_tags.push_back(std::move(b->tags));
        b->tags = std::move(grown);
        b->tag_capacity = cap;
        col_bytes += static_cast<int64_t>(cap * sizeof(TagCode));
        b->bytes += static_cast<int64_t>(cap * sizeof(TagCode));
      }
      for (const auto& [k, v] : e.tags) {
        b->tags[b->tag_count++] = TagCode{p.dict.Intern(k), p.dict.Intern(v)};
      }
    }
    if (b->tag_begin) b->tag_begin[row + 1] = static_cast<uint32_t>(b->tag_count);

    b->col<int64_t>(kColTs)[row] = e.ts_ms;
    b->col<int64_t>(kColCost)[row] = e.cost_nano_usd;
    for (size_t f = 0; f < kEventFieldCount; ++f) {
      const std::string_view s = e.strings[f];
      if (s.empty()) continue;  // columns start zeroed
      uint32_t code;
      if (last_code[f] != 0 && s == last_str[f]) {
        code = last_code[f];
      } else {
        code = p.dict.Intern(s);
        last_str[f] = s;
        last_code[f] = code;
      }
      SetCol<uint32_t>(*b, kColCode0 + f, row, code, col_bytes);
    }
    SetCol<uint32_t>(*b, kColInput, row, e.input_tokens, col_bytes);
    SetCol<uint32_t>(*b, kColOutput, row, e.output_tokens, col_bytes);
    SetCol<uint32_t>(*b, kColCacheRead, row, e.cache_read_tokens, col_bytes);
    SetCol<uint32_t>(*b, kColCacheWrite5m, row, e.cache_write_5m_tokens, col_bytes);
    SetCol<uint32_t>(*b, kColCacheWrite1h, row, e.cache_write_1h_tokens, col_bytes);
    uint8_t flags = static_cast<uint8_t>(static_cast<uint8_t>(e.cost_source)
                                         << kEventFlagCostSourceShift);
    if (e.success) flags |= kEventFlagSuccess;
    if (e.latency_ms) {
      flags |= kEventFlagHasLatency;
      SetCol<float>(*b, kColLatency, row, *e.latency_ms, col_bytes);
    }
    b->col<uint8_t>(kColFlags)[row] = flags;

    id_bytes += b->PutId(row, e.id);
    const uint32_t ref = RowRef(b->slot, row);
    if (reserved != nullptr) {
      // Point the claim at the row (the caller's view of the id dies).
      const uint32_t claim = reserved->claims[i];
      p.ids.Repoint(e.id, claim, ref);
      p.ReleaseClaim(claim);
    } else {
      p.ids.InsertNew(e.id, ref);
    }
    b->min_ts = std::min(b->min_ts, e.ts_ms);
    b->max_ts = std::max(b->max_ts, e.ts_ms);
    b->size = row + 1;
    ++p.events;
  }
  id_bytes += p.ids.bytes() - index_bytes;
  p.column_bytes += col_bytes;
  p.id_bytes += id_bytes;
  projects_->total_bytes.fetch_add(col_bytes + id_bytes, std::memory_order_relaxed);
}

size_t EventStore::Append(std::string_view project, std::span<const EventView> events,
                          std::vector<bool>* duplicate) {
  Project& p = GetOrCreateProject(project);
  std::vector<bool> dup(events.size(), false);
  {
    std::unique_lock lock(p.mu);
    CommitLocked(p, events, nullptr, &dup);
  }
  const auto fresh = static_cast<size_t>(std::count(dup.begin(), dup.end(), false));
  if (duplicate != nullptr) *duplicate = std::move(dup);
  return fresh;
}

void EventStore::ScanBlocks(std::string_view project, int64_t from_ms, int64_t to_ms,
                            const std::function<void(const EventBlockView&)>& fn) const {
  if (from_ms >= to_ms) return;
  Project* p = FindProject(project);
  if (p == nullptr) return;
  std::vector<EventBlockView> views;
  {
    std::shared_lock lock(p->mu);
    for (auto it = p->partitions.lower_bound(DayOf(from_ms)); it != p->partitions.end(); ++it) {
      if (it->first > DayOf(to_ms - 1)) break;
      for (const auto& block : it->second.blocks) {
        if (block->size == 0 || block->max_ts < from_ms || block->min_ts >= to_ms) continue;
        EventBlockView& v = views.emplace_back();
        v.block_ = block;
        v.dict_ = &p->dict;
        v.size_ = block->size;
        v.min_ts_ = block->min_ts;
        v.max_ts_ = block->max_ts;
        for (size_t c = 0; c < kNumCols; ++c) v.cols_[c] = block->cols[c].get();
        v.tags_ = block->tags.get();
        v.tag_begin_ = block->tag_begin.get();
      }
    }
  }
  for (const EventBlockView& v : views) fn(v);
}

std::optional<Event> EventStore::GetEvent(std::string_view project, std::string_view id) const {
  Project* p = FindProject(project);
  if (p == nullptr) return std::nullopt;
  std::shared_lock lock(p->mu);
  const RowAt at = p->Locate(id);
  if (at.block == nullptr) return std::nullopt;
  const std::shared_ptr<EventBlock>& block = p->slots[at.block->slot];
  EventBlockView v;
  v.block_ = block;
  v.dict_ = &p->dict;
  v.size_ = block->size;
  for (size_t c = 0; c < kNumCols; ++c) v.cols_[c] = block->cols[c].get();
  v.tags_ = block->tags.get();
  v.tag_begin_ = block->tag_begin.get();
  return v.Row(at.row);
}

std::vector<EventCostChange> EventStore::UpdateCosts(std::string_view project,
                                                     std::span<const EventCostUpdate> updates) {
  std::vector<EventCostChange> changes;
  Project* p = FindProject(project);
  if (p == nullptr || updates.empty()) return changes;
  // The copies of the cost and flags columns of each block touched so far.
  struct Copy {
    EventBlock* block;
    std::unique_ptr<uint8_t[]> cost;
    std::unique_ptr<uint8_t[]> flags;
  };
  std::vector<Copy> copies;
  std::unordered_map<const EventBlock*, size_t> copy_of;
  int64_t col_bytes = 0;

  std::unique_lock lock(p->mu);
  for (size_t u = 0; u < updates.size(); ++u) {
    const EventCostUpdate& up = updates[u];
    const RowAt at = p->Locate(up.id);
    if (at.block == nullptr) continue;
    EventBlock* b = at.block;
    const size_t row = at.row;
    // The current values: the copy's when this block was changed already.
    auto slot = copy_of.find(b);
    const uint8_t* cost_col = slot == copy_of.end() ? b->cols[kColCost].get()
                                                    : copies[slot->second].cost.get();
    const uint8_t* flags_col = slot == copy_of.end() ? b->cols[kColFlags].get()
                                                     : copies[slot->second].flags.get();
    int64_t old_cost;
    std::memcpy(&old_cost, cost_col + row * sizeof(int64_t), sizeof old_cost);
    const uint8_t old_flags = flags_col[row];
    const auto old_source = static_cast<CostSource>((old_flags & kEventFlagCostSourceMask) >>
                                                    kEventFlagCostSourceShift);
    if (old_cost == up.cost_nano_usd && old_source == up.cost_source) continue;
    if (slot == copy_of.end()) {
      slot = copy_of.emplace(b, copies.size()).first;
      Copy& c = copies.emplace_back();
      c.block = b;
      c.cost = std::make_unique<uint8_t[]>(b->capacity * ColElemSize(kColCost));
      std::memcpy(c.cost.get(), b->cols[kColCost].get(), b->capacity * ColElemSize(kColCost));
      c.flags = std::make_unique<uint8_t[]>(b->capacity * ColElemSize(kColFlags));
      std::memcpy(c.flags.get(), b->cols[kColFlags].get(), b->capacity * ColElemSize(kColFlags));
    }
    Copy& c = copies[slot->second];
    int64_t& cost = reinterpret_cast<int64_t*>(c.cost.get())[row];
    uint8_t& flags = c.flags[row];

    EventCostChange& ch = changes.emplace_back();
    ch.update = u;
    ch.old_cost_nano_usd = old_cost;
    ch.old_cost_source = old_source;
    EventView& e = ch.event;
    e.id = up.id;
    e.ts_ms = b->col<int64_t>(kColTs)[row];
    for (size_t f = 0; f < kEventFieldCount; ++f) {
      const void* col = b->cols[kColCode0 + f].get();
      e.strings[f] = p->dict.Str(col ? static_cast<const uint32_t*>(col)[row] : 0);
    }
    auto u32 = [&](size_t col) {
      const void* data = b->cols[col].get();
      return data ? static_cast<const uint32_t*>(data)[row] : 0u;
    };
    e.input_tokens = u32(kColInput);
    e.output_tokens = u32(kColOutput);
    e.cache_read_tokens = u32(kColCacheRead);
    e.cache_write_5m_tokens = u32(kColCacheWrite5m);
    e.cache_write_1h_tokens = u32(kColCacheWrite1h);
    if (flags & kEventFlagHasLatency) e.latency_ms = b->col<float>(kColLatency)[row];
    e.success = (flags & kEventFlagSuccess) != 0;
    e.cost_nano_usd = up.cost_nano_usd;
    e.cost_source = up.cost_source;

    cost = up.cost_nano_usd;
    flags = static_cast<uint8_t>((flags & ~kEventFlagCostSourceMask) |
                                 (static_cast<uint8_t>(up.cost_source)
                                  << kEventFlagCostSourceShift));
  }
  // Swap the copies in; views taken before keep the old arrays (retired, not freed).
  for (Copy& c : copies) {
    EventBlock& b = *c.block;
    b.retired_cols.push_back(std::move(b.cols[kColCost]));
    b.retired_cols.push_back(std::move(b.cols[kColFlags]));
    b.cols[kColCost] = std::move(c.cost);
    b.cols[kColFlags] = std::move(c.flags);
    const auto n = static_cast<int64_t>(b.capacity * (ColElemSize(kColCost) + ColElemSize(kColFlags)));
    b.bytes += n;
    col_bytes += n;
  }
  p->column_bytes += col_bytes;
  projects_->total_bytes.fetch_add(col_bytes, std::memory_order_relaxed);
  return changes;
}

uint64_t EventStore::DropBefore(int64_t cutoff_ms) {
  std::vector<Project*> all;
  {
    std::shared_lock lock(projects_->mu);
    for (const auto& [name, p] : projects_->by_name) all.push_back(p.get());
  }
  uint64_t dropped = 0;
  for (Project* p : all) {
    int64_t freed_cols = 0;
    int64_t freed_ids = 0;
    std::unique_lock lock(p->mu);
    for (auto it = p->partitions.begin(); it != p->partitions.end();) {
      if ((it->first + 1) * kDayMs > cutoff_ms) break;
      for (const auto& block : it->second.blocks) {
        freed_cols += block->bytes;
        freed_ids += block->id_bytes;
        for (size_t r = 0; r < block->size; ++r) {
          p->ids.Erase(block->IdAt(r), RowRef(block->slot, r));
        }
        p->slots[block->slot].reset();
        p->free_slots.push_back(block->slot);
        dropped += block->size;
        p->events -= block->size;
        --p->blocks;
      }
      it = p->partitions.erase(it);
    }
    p->column_bytes -= freed_cols;
    p->id_bytes -= freed_ids;
    projects_->total_bytes.fetch_sub(freed_cols + freed_ids, std::memory_order_relaxed);
  }
  return dropped;
}

EventStoreStats EventStore::Stats() const {
  EventStoreStats s;
  std::shared_lock lock(projects_->mu);
  s.projects = projects_->by_name.size();
  for (const auto& [name, p] : projects_->by_name) {
    std::shared_lock plock(p->mu);
    s.events += p->events;
    s.blocks += p->blocks;
    s.partitions += p->partitions.size();
    s.column_bytes += p->column_bytes;
    s.id_bytes += p->id_bytes;
    s.dictionary_bytes += p->dict.bytes();
  }
  return s;
}

}  // namespace store
