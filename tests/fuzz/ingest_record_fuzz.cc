// Fuzzes the WAL payload decoder: any byte string must yield either a clean
// error or a record that re-encodes to an equal record; never a crash.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "exporter/ingest_record.h"

namespace {

bool SameDouble(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

bool Equal(const exporter::DecodedIngestRecord& a, const exporter::DecodedIngestRecord& b) {
  if (a.ingest_ms != b.ingest_ms || a.project != b.project) return false;
  if (a.idempotency.has_value() != b.idempotency.has_value()) return false;
  if (a.idempotency) {
    const auto& x = *a.idempotency;
    const auto& y = *b.idempotency;
    if (x.key != y.key || x.body_hash != y.body_hash || x.status != y.status ||
        x.response != y.response) {
      return false;
    }
  }
  if (a.points.size() != b.points.size()) return false;
  for (size_t i = 0; i < a.points.size(); ++i) {
    const store::PointView& p = a.points[i];
    const store::PointView& q = b.points[i];
    if (p.name != q.name || p.type != q.type || p.ts_ms != q.ts_ms || !SameDouble(p.value, q.value) ||
        p.labels.size() != q.labels.size()) {
      return false;
    }
    for (size_t k = 0; k < p.labels.size(); ++k) {
      if (p.labels[k].name != q.labels[k].name || p.labels[k].value != q.labels[k].value) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A copy of exactly `size` bytes, so ASan catches any read past the end.
  const std::string payload(reinterpret_cast<const char*>(data), size);
  auto first = exporter::DecodeIngestRecord(payload);
  if (!first) {
    if (first.error().message.find(" at byte ") == std::string::npos) std::abort();
    return 0;
  }
  std::string encoded;
  exporter::EncodeIngestRecord(first->ingest_ms, first->project, first->idempotency,
                               first->points, encoded);
  auto second = exporter::DecodeIngestRecord(encoded);
  if (!second || !Equal(*first, *second)) std::abort();
  // The canonical encoding is a fixed point.
  std::string again;
  exporter::EncodeIngestRecord(second->ingest_ms, second->project, second->idempotency,
                               second->points, again);
  if (again != encoded) std::abort();
  return 0;
}
