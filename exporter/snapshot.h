// Snapshots of the store (DESIGN.md section 4): the whole in-memory state at
// one point of the WAL, so start-up loads it and replays only the WAL after it,
// and older WAL segments can be deleted.
//
// File `<dir>/<first_wal_segment:08>.snap`: the magic "TLYSNAP1\n", then records
// framed like WAL records ([length][crc32c][type][payload]): one per series
// (type 1), one per completed idempotency entry (type 2), LLM call events as
// event WAL payloads (type 4, exporter/event_record.h, several thousand events
// each), and an end record (type 3) with the counts of series, idempotency
// entries and (when there are any) event records; a file without a valid end
// record is incomplete. Files written before events existed (two counts) load.
// Written to `.tmp`, fsynced, renamed, and the directory fsynced, so a crash
// while writing leaves the previous snapshot in place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/env.h"
#include "core/status.h"
#include "exporter/idempotency.h"
#include "store/series_store.h"

namespace exporter {

struct Checkpoint {
  // Every WAL record in segments below this is in the snapshot; replay starts here.
  uint64_t first_wal_segment = 0;
  std::vector<store::SeriesState> series;
  std::vector<IdempotencyCache::Completed> idempotency;
  // The event store, as kWalRecordEvents payloads (EventService::Replay them).
  std::vector<std::string> event_records;
};

struct SnapshotFileStats {
  std::string path;
  uint64_t bytes = 0;
  uint64_t series = 0;
  uint64_t samples = 0;
};

// Writes `checkpoint` durably to `dir` and removes older snapshot files.
core::Result<SnapshotFileStats> WriteSnapshot(core::Env& env, const std::string& dir,
                                              const Checkpoint& checkpoint);

// Loads the newest snapshot in `dir` (nullopt when there is none). A damaged
// newest snapshot is an error: older WAL segments may be gone, so an older
// snapshot would silently lose data.
core::Result<std::optional<Checkpoint>> LoadNewestSnapshot(core::Env& env, const std::string& dir,
                                                           SnapshotFileStats* stats = nullptr);

}  // namespace exporter
