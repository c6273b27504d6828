// EventStore: LLM call events per project in columnar, time-partitioned
// blocks (DESIGN.md section 3), with a read API for analytics.
//
// Layout. Per project: a Dictionary of strings and one partition per UTC day.
// A partition holds blocks of rows in arrival order (rows inside a block are
// NOT sorted by time). A block has one array per column, allocated at the
// block's capacity (blocks of a partition start small and double up to
// kMaxBlockRows), so committed rows never move. Columns that are zero/empty in
// every row of a block so far (rare strings like trace_id, cache tokens,
// latency, tags) are not allocated; views show them as zeros. Strings are
// dictionary codes (uint32, 0 = empty/absent); the dictionary is append-only,
// so a code means the same string for the store's lifetime and analytics can
// group and filter by code without touching strings. Money is int64 nano-USD.
// Event ids are stored once, in an arena per block ([length][bytes], 1 +
// length bytes, plus a 4-byte offset per row), and indexed per project by an
// EventIdIndex (store/event_id_index.h: 8-byte entries of hash tag and
// (block, row)) for dedup and GetEvent.
//
// Thread-safety: every method is thread-safe. Each project has a
// std::shared_mutex over its partitions, blocks' row counts and id index;
// writers hold it exclusively once per batch. ScanBlocks holds it shared only
// while it copies the list of blocks (and their row counts) in range, then
// calls `fn` without any lock: rows below a view's size are immutable, so
// ingest continues while a long scan runs. UpdateCosts (re-pricing) keeps that
// promise by swapping in changed copies of the cost and flags columns. The
// Dictionary has its own shared_mutex (taken briefly by Find/Str).
//
// Lifetime of views: an EventBlockView keeps its block alive (shared
// ownership), so spans from it stay valid as long as the view, even if
// DropBefore removed the block meanwhile. A Dictionary lives as long as the
// EventStore; string_views from Dictionary::Str stay valid that long.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace store {

enum class CostSource : uint8_t { kReported = 0, kPriceTable = 1, kUnknownModel = 2 };
// "reported" | "price_table" | "unknown_model".
std::string_view CostSourceName(CostSource source);

// The dictionary-encoded string fields of an event, in column order.
enum class EventField : uint8_t {
  kModel,
  kProvider,
  kEntityType,
  kEntityId,
  kSessionId,
  kTraceId,
  kParentId,
  kOpName,
  kThreadId,
  kTurnId,
  kUserId,
};
inline constexpr size_t kEventFieldCount = 11;
// "model", "provider", "entity_type", ... (the API field names).
std::string_view EventFieldName(EventField field);

// A validated, normalised event as borrowed views (the write path). The
// tokens are disjoint kinds (exporter/pricing.h TokenCounts).
// REQUIRES (for writes): tags sorted by key, keys unique; id non-empty.
struct EventView {
  std::string_view id;
  int64_t ts_ms = 0;
  std::string_view strings[kEventFieldCount];  // indexed by EventField
  uint32_t input_tokens = 0;
  uint32_t output_tokens = 0;
  uint32_t cache_read_tokens = 0;
  uint32_t cache_write_5m_tokens = 0;  // cache writes with the 5 min TTL (the default)
  uint32_t cache_write_1h_tokens = 0;  // cache writes with the 1 h TTL
  int64_t cost_nano_usd = 0;
  CostSource cost_source = CostSource::kReported;
  std::optional<float> latency_ms;  // stored as float: ~7 significant digits
  bool success = true;
  std::span<const std::pair<std::string_view, std::string_view>> tags;

  std::string_view str(EventField f) const { return strings[static_cast<size_t>(f)]; }
};

// An owned event (reads: GetEvent, EventBlockView::Row; tests).
struct Event {
  std::string id;
  int64_t ts_ms = 0;
  std::string strings[kEventFieldCount];  // indexed by EventField
  uint32_t input_tokens = 0;
  uint32_t output_tokens = 0;
  uint32_t cache_read_tokens = 0;
  uint32_t cache_write_5m_tokens = 0;
  uint32_t cache_write_1h_tokens = 0;
  int64_t cost_nano_usd = 0;
  CostSource cost_source = CostSource::kReported;
  std::optional<float> latency_ms;
  bool success = true;
  std::vector<std::pair<std::string, std::string>> tags;  // sorted by key

  const std::string& str(EventField f) const { return strings[static_cast<size_t>(f)]; }
  std::string& str(EventField f) { return strings[static_cast<size_t>(f)]; }
  uint64_t cache_write_tokens() const {
    return uint64_t{cache_write_5m_tokens} + cache_write_1h_tokens;
  }
  // Views into this event; `tag_storage` receives the tag views.
  EventView View(std::vector<std::pair<std::string_view, std::string_view>>& tag_storage) const;
  friend bool operator==(const Event&, const Event&) = default;
};

// Per-project string dictionary: code 0 is the empty string; other codes are
// assigned in first-seen order and never change or go away. Thread-safe.
class Dictionary {
 public:
  static constexpr uint32_t kEmpty = 0;
  Dictionary();
  ~Dictionary();
  Dictionary(const Dictionary&) = delete;
  Dictionary& operator=(const Dictionary&) = delete;

  // The code of `s`, or nullopt when it was never stored (a filter on it
  // matches nothing). Find("") == kEmpty.
  std::optional<uint32_t> Find(std::string_view s) const;
  // REQUIRES: code < size(). The view is valid for the dictionary's lifetime.
  std::string_view Str(uint32_t code) const;
  size_t size() const;
  // Approximate heap bytes.
  int64_t bytes() const;

  // The code of `s`, adding it when new. Used by the store's writers.
  uint32_t Intern(std::string_view s);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A tag of one row as dictionary codes.
struct TagCode {
  uint32_t key;
  uint32_t value;
};

// Bits of EventBlockView::flags().
inline constexpr uint8_t kEventFlagSuccess = 1;
inline constexpr uint8_t kEventFlagHasLatency = 2;
inline constexpr int kEventFlagCostSourceShift = 2;  // 2 bits: CostSource
inline constexpr uint8_t kEventFlagCostSourceMask = 3 << kEventFlagCostSourceShift;

struct EventBlock;  // internal

// A read-only view of the committed rows [0, size()) of one block, taken by
// ScanBlocks. Rows are in arrival order, not time order: callers check
// ts_ms()[i] against their range (the block's [min_ts_ms, max_ts_ms]
// overlaps the scanned range). All spans have size() elements.
class EventBlockView {
 public:
  EventBlockView() = default;
  size_t size() const { return size_; }
  int64_t min_ts_ms() const { return min_ts_; }
  int64_t max_ts_ms() const { return max_ts_; }

  std::span<const int64_t> ts_ms() const;
  std::span<const uint32_t> codes(EventField field) const;
  std::span<const uint32_t> input_tokens() const;
  std::span<const uint32_t> output_tokens() const;
  std::span<const uint32_t> cache_read_tokens() const;
  std::span<const uint32_t> cache_write_5m_tokens() const;
  std::span<const uint32_t> cache_write_1h_tokens() const;
  std::span<const int64_t> cost_nano_usd() const;
  std::span<const float> latency_ms() const;  // meaningful where has_latency(i)
  std::span<const uint8_t> flags() const;

  bool success(size_t i) const { return (flags()[i] & kEventFlagSuccess) != 0; }
  bool has_latency(size_t i) const { return (flags()[i] & kEventFlagHasLatency) != 0; }
  CostSource cost_source(size_t i) const {
    return static_cast<CostSource>((flags()[i] & kEventFlagCostSourceMask) >>
                                   kEventFlagCostSourceShift);
  }
  std::string_view id(size_t i) const;
  // The tags of row i, in key-string order.
  std::span<const TagCode> tags(size_t i) const;
  // The code of tag `key_code` on row i, or Dictionary::kEmpty.
  uint32_t tag_value(size_t i, uint32_t key_code) const;

  const Dictionary& dict() const { return *dict_; }
  // Materialises row i.
  Event Row(size_t i) const;

 private:
  friend class EventStore;
  std::shared_ptr<const EventBlock> block_;
  const Dictionary* dict_ = nullptr;
  size_t size_ = 0;
  int64_t min_ts_ = 0;
  int64_t max_ts_ = 0;
  // Column pointers as of the scan (null = all zero so far).
  const void* cols_[24] = {};
  const TagCode* tags_ = nullptr;
  const uint32_t* tag_begin_ = nullptr;
};

struct EventStoreOptions {
  // Reserve fails with kUnavailable beyond this many bytes (all projects).
  int64_t max_memory_bytes = 2LL << 30;
};

struct EventStoreStats {
  uint64_t projects = 0;
  uint64_t events = 0;
  uint64_t blocks = 0;
  uint64_t partitions = 0;
  int64_t column_bytes = 0;      // allocated column arrays (incl. unused capacity)
  int64_t id_bytes = 0;          // event id strings and the id index
  int64_t dictionary_bytes = 0;  // dictionaries of the other strings
  int64_t bytes() const { return column_bytes + id_bytes + dictionary_bytes; }
};

// A new cost for one stored event (POST /v1/events/reprice).
struct EventCostUpdate {
  std::string_view id;
  int64_t cost_nano_usd = 0;
  CostSource cost_source = CostSource::kPriceTable;
};

// What UpdateCosts changed for one update.
struct EventCostChange {
  size_t update = 0;  // index into the updates
  int64_t old_cost_nano_usd = 0;
  CostSource old_cost_source = CostSource::kReported;
  // The event with its new cost, without tags; `id` is the update's, the
  // strings view the project's Dictionary (valid for the store's lifetime).
  EventView event;
};

// The first phase of a write: which events are new. Ids are claimed (a
// concurrent batch with the same id sees a duplicate) until Commit or Abort.
struct EventReservation {
  std::vector<bool> duplicate;  // per event: id already stored, claimed, or repeated in the batch
  size_t fresh = 0;             // events not duplicate
  std::vector<uint32_t> claims;  // internal: per event, the claim's id index ref
};

class EventStore {
 public:
  static constexpr size_t kMaxBlockRows = 8192;
  // Longer ids are never stored (Reserve and Append report them as
  // duplicates); the decoder allows 128 bytes.
  static constexpr size_t kMaxIdBytes = 255;

  explicit EventStore(EventStoreOptions options = {});
  ~EventStore();
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  // Claims the ids of `events` in `project`. Fails as a whole (nothing
  // claimed) with kUnavailable when the memory ceiling is reached.
  core::Result<EventReservation> Reserve(std::string_view project,
                                         std::span<const EventView> events);
  // Stores the non-duplicate events. REQUIRES: `reservation` came from
  // Reserve(project, events) and was neither committed nor aborted.
  void Commit(std::string_view project, std::span<const EventView> events,
              const EventReservation& reservation);
  // Releases the claimed ids (the durable write failed).
  void Abort(std::string_view project, std::span<const EventView> events,
             const EventReservation& reservation);

  // Reserve + Commit without the memory ceiling (WAL replay, snapshots,
  // tests). Returns how many were stored (duplicates are skipped); when
  // `duplicate` is set it receives the per-event duplicate flags.
  size_t Append(std::string_view project, std::span<const EventView> events,
                std::vector<bool>* duplicate = nullptr);

  // Calls `fn` for every block of `project` that may hold events with
  // from_ms <= ts < to_ms (see EventBlockView: the callee checks ts), in
  // partition (day) order. No lock is held during `fn`.
  void ScanBlocks(std::string_view project, int64_t from_ms, int64_t to_ms,
                  const std::function<void(const EventBlockView&)>& fn) const;

  // Sets the cost and cost source of the stored events named by `updates`
  // (ids not stored, or already at that cost and source, are skipped) and
  // returns what changed, in update order. Copy-on-write: the cost and flags
  // columns of every affected block are copied, changed and swapped in under
  // the project's exclusive lock, so views taken before keep reading the old
  // values (the old arrays live until the block is dropped: 9 bytes x block
  // capacity per reprice of a block, counted in Stats().column_bytes) and
  // views taken after see the new ones.
  std::vector<EventCostChange> UpdateCosts(std::string_view project,
                                           std::span<const EventCostUpdate> updates);

  // The event with `id` in `project`, if stored.
  std::optional<Event> GetEvent(std::string_view project, std::string_view id) const;

  // The dictionary of `project` (nullptr when the project has no events).
  // Valid for the store's lifetime.
  const Dictionary* dict(std::string_view project) const;

  // Projects that have (or had) events.
  std::vector<std::string> Projects() const;

  // Drops every partition (UTC day) that ends at or before `cutoff_ms`, in
  // all projects; returns the number of events dropped. Their ids are
  // forgotten (a later event with the same id is stored).
  uint64_t DropBefore(int64_t cutoff_ms);

  EventStoreStats Stats() const;

 private:
  struct Project;
  Project* FindProject(std::string_view project) const;
  Project& GetOrCreateProject(std::string_view project);
  // Commit (`reserved` set) or Append (dedup here; flags to
  // `appended_duplicate`). REQUIRES: p.mu held exclusively.
  void CommitLocked(Project& p, std::span<const EventView> events,
                    const EventReservation* reserved, std::vector<bool>* appended_duplicate);

  const EventStoreOptions options_;
  struct ProjectMap;
  std::unique_ptr<ProjectMap> projects_;
};

}  // namespace store
