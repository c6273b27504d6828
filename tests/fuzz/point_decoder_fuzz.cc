// Fuzzes the metric ingest decoder: any byte string must yield either a clean
// error or points that satisfy the documented invariants; never a crash.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/http.h"
#include "core/text.h"
#include "exporter/point_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static exporter::PointDecoder* decoder = new exporter::PointDecoder();
  std::string body(reinterpret_cast<const char*>(data), size);
  body.reserve(size + core::kBodyPadding);
  exporter::DecodeContext ctx;
  ctx.now_ms = 1'700'000'000'000;
  ctx.retention_ms = 15LL * 86'400'000;
  for (int mode = 0; mode < 2; ++mode) {
    auto result = mode == 0 ? decoder->DecodeReport(body, ctx) : decoder->DecodeBatch(body, ctx);
    if (!result) {
      if (result.error().message.empty()) std::abort();
      continue;
    }
    if (result->points.size() + result->errors.size() != result->total) std::abort();
    for (const auto& p : result->points) {
      if (!std::isfinite(p.value) || p.name.empty()) std::abort();
      if (p.type == store::MetricType::kCounter && p.value < 0) std::abort();
      if (p.tags.size() > static_cast<size_t>(ctx.limits.max_tags_per_point)) std::abort();
      for (const auto& t : p.tags) {
        if (!core::IsValidUtf8(t.value) || t.name.starts_with("__")) std::abort();
      }
    }
  }
  return 0;
}
