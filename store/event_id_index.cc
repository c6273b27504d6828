#include "store/event_id_index.h"

#include <bit>
#include <functional>

namespace store {
namespace {

constexpr size_t kMinCapacity = 16;

}  // namespace

uint64_t EventIdIndex::DefaultHash(std::string_view id) {
  return std::hash<std::string_view>{}(id);
}

EventIdIndex::EventIdIndex(HashFn hash) : hash_(hash) { Rehash(kMinCapacity); }

EventIdIndex::~EventIdIndex() = default;

void EventIdIndex::Rehash(size_t capacity) {
  auto old = std::move(entries_);
  const size_t old_capacity = old ? mask_ + 1 : 0;
  entries_ = std::make_unique<Entry[]>(capacity);
  for (size_t i = 0; i < capacity; ++i) entries_[i] = Entry{0, kNoRef};
  mask_ = capacity - 1;
  shift_ = 32 - std::countr_zero(capacity);
  for (size_t j = 0; j < old_capacity; ++j) {
    const Entry e = old[j];
    if (e.ref == kNoRef) continue;
    size_t i = Home(e.tag);
    while (entries_[i].ref != kNoRef) i = (i + 1) & mask_;
    entries_[i] = e;
  }
}

void EventIdIndex::Reserve(size_t n) {
  size_t cap = capacity();
  while (n * 4 > cap * 3) cap *= 2;
  if (cap != capacity()) Rehash(cap);
}

void EventIdIndex::InsertNew(std::string_view id, uint32_t ref) {
  MaybeGrow();
  const uint32_t tag = Tag(id);
  size_t i = Home(tag);
  while (entries_[i].ref != kNoRef) i = (i + 1) & mask_;
  entries_[i] = Entry{tag, ref};
  ++size_;
}

size_t EventIdIndex::Slot(uint32_t tag, uint32_t ref) const {
  for (size_t i = Home(tag);; i = (i + 1) & mask_) {
    const Entry& e = entries_[i];
    if (e.ref == kNoRef) return capacity();
    if (e.ref == ref && e.tag == tag) return i;
  }
}

bool EventIdIndex::Repoint(std::string_view id, uint32_t old_ref, uint32_t new_ref) {
  const size_t i = Slot(Tag(id), old_ref);
  if (i == capacity()) return false;
  entries_[i].ref = new_ref;
  return true;
}

bool EventIdIndex::Erase(std::string_view id, uint32_t ref) {
  size_t hole = Slot(Tag(id), ref);
  if (hole == capacity()) return false;
  // Backward-shift deletion: move later entries of the cluster into the hole
  // when their home is not after it (no tombstones).
  for (size_t j = (hole + 1) & mask_;; j = (j + 1) & mask_) {
    const Entry e = entries_[j];
    if (e.ref == kNoRef) break;
    const size_t home = Home(e.tag);
    // e may move to `hole` iff hole lies cyclically in [home, j).
    const size_t dist_hole = (hole - home) & mask_;
    const size_t dist_j = (j - home) & mask_;
    if (dist_hole < dist_j) {
      entries_[hole] = e;
      hole = j;
    }
  }
  entries_[hole] = Entry{0, kNoRef};
  --size_;
  return true;
}

}  // namespace store
