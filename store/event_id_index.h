// EventIdIndex: the per-project index of event ids of the EventStore (dedup
// and GetEvent). A flat open-addressing hash table (linear probing, power-of-
// two capacity, at most 3/4 full) of 8-byte entries {tag, ref}: `tag` is the
// high 32 bits of the id's 64-bit hash and `ref` a 32-bit reference chosen by
// the owner (the store encodes (block, row) or a pending claim). The table
// holds no id bytes: the owner keeps each id once and the lookups take an
// `id_of(ref)` callback that returns them, so equal tags (hash collisions)
// always compare the full ids and dedup stays exact. An entry's home slot is
// derived from its tag alone, so growing and erasing never read the ids.
//
// Memory: 8 bytes per slot, 10.7-21.3 bytes per id (load 3/8..3/4).
//
// Thread-safety: none; the owner serialises access (EventStore holds the
// project's mutex, shared for Find, exclusive for the others).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace store {

class EventIdIndex {
 public:
  using HashFn = uint64_t (*)(std::string_view);
  // Not a valid ref: marks empty slots and "absent" results.
  static constexpr uint32_t kNoRef = 0xFFFFFFFFu;

  // std::hash of the bytes (64 bits).
  static uint64_t DefaultHash(std::string_view id);

  // `hash` is injectable so tests can force collisions.
  explicit EventIdIndex(HashFn hash = &DefaultHash);
  ~EventIdIndex();
  EventIdIndex(const EventIdIndex&) = delete;
  EventIdIndex& operator=(const EventIdIndex&) = delete;

  // The ref stored for `id`, or kNoRef. `id_of(ref)` returns a stored ref's id.
  template <typename IdOf>
  uint32_t Find(std::string_view id, const IdOf& id_of) const {
    if (size_ == 0) return kNoRef;
    const uint32_t tag = Tag(id);
    for (size_t i = Home(tag);; i = (i + 1) & mask_) {
      const Entry& e = entries_[i];
      if (e.ref == kNoRef) return kNoRef;
      if (e.tag == tag && id_of(e.ref) == id) return e.ref;
    }
  }

  // Adds id -> ref unless `id` is present; returns kNoRef when added, else
  // the ref already stored for `id` (nothing changes).
  // REQUIRES: ref != kNoRef.
  template <typename IdOf>
  uint32_t Insert(std::string_view id, uint32_t ref, const IdOf& id_of) {
    MaybeGrow();
    const uint32_t tag = Tag(id);
    for (size_t i = Home(tag);; i = (i + 1) & mask_) {
      Entry& e = entries_[i];
      if (e.ref == kNoRef) {
        e = Entry{tag, ref};
        ++size_;
        return kNoRef;
      }
      if (e.tag == tag && id_of(e.ref) == id) return e.ref;
    }
  }

  // Adds id -> ref without looking for `id` first.
  // REQUIRES: `id` is not in the index; ref != kNoRef.
  void InsertNew(std::string_view id, uint32_t ref);

  // Changes the entry of `id` whose ref is `old_ref` to `new_ref` (refs are
  // unique, so no id comparison). Returns false when there is none.
  bool Repoint(std::string_view id, uint32_t old_ref, uint32_t new_ref);

  // Removes the entry of `id` whose ref is `ref`; false when there is none.
  bool Erase(std::string_view id, uint32_t ref);

  // Makes room for `n` ids in total without growing again.
  void Reserve(size_t n);

  size_t size() const { return size_; }
  size_t capacity() const { return mask_ + 1; }
  // Heap bytes of the table.
  int64_t bytes() const { return static_cast<int64_t>(capacity() * sizeof(Entry)); }

 private:
  struct Entry {
    uint32_t tag;
    uint32_t ref;
  };

  uint32_t Tag(std::string_view id) const { return static_cast<uint32_t>(hash_(id) >> 32); }
  // The top bits of the tag: entries of one tag share a home slot.
  size_t Home(uint32_t tag) const { return static_cast<size_t>(tag >> shift_) & mask_; }
  void MaybeGrow() {
    if ((size_ + 1) * 4 > capacity() * 3) Rehash(capacity() * 2);
  }
  void Rehash(size_t capacity);
  // The slot holding (tag, ref), or capacity() when absent.
  size_t Slot(uint32_t tag, uint32_t ref) const;

  HashFn hash_;
  std::unique_ptr<Entry[]> entries_;
  size_t mask_ = 0;  // capacity - 1
  int shift_ = 32;   // 32 - log2(capacity)
  size_t size_ = 0;
};

}  // namespace store
