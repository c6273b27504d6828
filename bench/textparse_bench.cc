// bench_textparse: Google Benchmark of the scrape-body parser (aggregator/textparse.h)
// on a generated ~200 KB node_exporter-like body (HELP/TYPE per family, CPU,
// disk, network, filesystem, systemd unit states, Go runtime summary, an
// HTTP histogram; 0-4 labels per series, integer and float values).
//   BM_ParsePrometheus     0.0.4 text: Next() over the body, reading name,
//                          labels, value and timestamp of every sample
//   BM_ParseOpenMetrics    the same series as OpenMetrics (with # EOF)
//   BM_ParseWithTimestamps 0.0.4 with a millisecond timestamp on every sample
//   BM_ScrapeOnce          scrape::ScrapeTarget::ScrapeOnce on the 0.0.4 body from an
//                          in-memory fetcher (body copy included) into a sink that
//                          drops samples: parse + label cache + staleness bookkeeping
// bytes_per_second is MB/s of body; items_per_second samples/s; the ns_per_sample
// counter is the mean time per sample (including HELP/TYPE lines).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>

#include "aggregator/scrape.h"
#include "aggregator/textparse.h"
#include "core/clock.h"

namespace {

void Family(std::string& out, const std::string& name, const char* type, const char* help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

std::string Value(int i) {
  char buf[32];
  switch (i % 4) {
    case 0: std::snprintf(buf, sizeof buf, "%d", i * 7); break;
    case 1: std::snprintf(buf, sizeof buf, "%.6g", i * 1234.5678); break;
    case 2: std::snprintf(buf, sizeof buf, "%.10e", i * 98765.4321); break;
    default: std::snprintf(buf, sizeof buf, "%.3f", i / 7.0); break;
  }
  return buf;
}

// A node_exporter-like page of about `target_bytes`.
std::string NodeExporterBody(size_t target_bytes, bool timestamps) {
  std::string out;
  int v = 0;
  auto sample = [&](const std::string& series) {
    out += series;
    out += ' ';
    out += Value(v++);
    if (timestamps) out += " 1700000000123";
    out += '\n';
  };
  const char* quantiles[] = {"0", "0.25", "0.5", "0.75", "1"};
  Family(out, "go_gc_duration_seconds", "summary", "A summary of the pause duration of garbage collection cycles.");
  for (const char* q : quantiles) sample(std::string("go_gc_duration_seconds{quantile=\"") + q + "\"}");
  sample("go_gc_duration_seconds_sum");
  sample("go_gc_duration_seconds_count");
  for (const char* g : {"go_goroutines", "go_threads", "go_memstats_alloc_bytes", "go_memstats_heap_inuse_bytes",
                        "process_resident_memory_bytes", "process_open_fds", "node_load1", "node_load5", "node_load15"}) {
    Family(out, g, "gauge", "A gauge of the Go runtime or the process.");
    sample(g);
  }
  const char* modes[] = {"idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"};
  Family(out, "node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.");
  for (int cpu = 0; cpu < 16; ++cpu) {
    for (const char* m : modes) {
      sample("node_cpu_seconds_total{cpu=\"" + std::to_string(cpu) + "\",mode=\"" + m + "\"}");
    }
  }
  const char* disk_metrics[] = {"reads_completed_total", "reads_merged_total", "read_bytes_total",
                                "read_time_seconds_total", "writes_completed_total", "writes_merged_total",
                                "written_bytes_total", "write_time_seconds_total", "io_now",
                                "io_time_seconds_total", "io_time_weighted_seconds_total",
                                "discards_completed_total", "discarded_sectors_total", "flush_requests_total"};
  const char* devices[] = {"nvme0n1", "nvme1n1", "sda", "sdb", "dm-0", "dm-1", "loop0", "loop1"};
  for (const char* m : disk_metrics) {
    const std::string name = std::string("node_disk_") + m;
    Family(out, name, "counter", "Disk statistic from /proc/diskstats.");
    for (const char* d : devices) sample(name + "{device=\"" + d + "\"}");
  }
  const char* net_metrics[] = {"receive_bytes_total", "receive_packets_total", "receive_errs_total",
                               "receive_drop_total", "receive_fifo_total", "receive_frame_total",
                               "receive_compressed_total", "receive_multicast_total", "transmit_bytes_total",
                               "transmit_packets_total", "transmit_errs_total", "transmit_drop_total",
                               "transmit_fifo_total", "transmit_colls_total", "transmit_carrier_total",
                               "transmit_compressed_total", "mtu_bytes", "up", "speed_bytes", "carrier"};
  const char* ifaces[] = {"lo", "eth0", "eth1", "docker0", "veth1a2b3c4", "wlp2s0"};
  for (const char* m : net_metrics) {
    const std::string name = std::string("node_network_") + m;
    Family(out, name, "counter", "Network device statistic.");
    for (const char* d : ifaces) sample(name + "{device=\"" + d + "\"}");
  }
  const char* fs_metrics[] = {"avail_bytes", "size_bytes", "free_bytes", "files", "files_free", "readonly",
                              "device_error"};
  const char* mounts[][3] = {{"/dev/nvme0n1p2", "ext4", "/"},
                             {"/dev/nvme0n1p1", "vfat", "/boot/efi"},
                             {"/dev/mapper/vg-home", "ext4", "/home"},
                             {"tmpfs", "tmpfs", "/run"},
                             {"tmpfs", "tmpfs", "/run/lock"},
                             {"tmpfs", "tmpfs", "/run/user/1000"},
                             {"/dev/sda1", "xfs", "/srv/data"},
                             {"overlay", "overlay", "/var/lib/docker/overlay2/3f2a1b/merged"}};
  for (const char* m : fs_metrics) {
    const std::string name = std::string("node_filesystem_") + m;
    Family(out, name, "gauge", "Filesystem statistic.");
    for (const auto& mt : mounts) {
      sample(name + "{device=\"" + mt[0] + "\",fstype=\"" + mt[1] + "\",mountpoint=\"" + mt[2] + "\"}");
    }
  }
  Family(out, "prometheus_http_request_duration_seconds", "histogram", "Histogram of latencies for HTTP requests.");
  const char* les[] = {"0.1", "0.2", "0.4", "1", "3", "8", "20", "60", "120", "+Inf"};
  for (const char* h : {"/metrics", "/api/v1/query", "/api/v1/query_range", "/-/ready"}) {
    for (const char* le : les) {
      sample(std::string("prometheus_http_request_duration_seconds_bucket{handler=\"") + h + "\",le=\"" + le + "\"}");
    }
    sample(std::string("prometheus_http_request_duration_seconds_sum{handler=\"") + h + "\"}");
    sample(std::string("prometheus_http_request_duration_seconds_count{handler=\"") + h + "\"}");
  }
  const char* states[] = {"activating", "active", "deactivating", "failed", "inactive"};
  Family(out, "node_systemd_unit_state", "gauge", "Systemd unit");
  for (int unit = 0; out.size() + 600 < target_bytes; ++unit) {
    for (const char* s : states) {
      sample("node_systemd_unit_state{name=\"service-" + std::to_string(unit) + ".service\",state=\"" + s +
             "\",type=\"simple\"}");
    }
  }
  return out;
}

std::string ToOpenMetrics(const std::string& prom) {
  // Same series; no timestamps in the input, so only the terminator differs.
  return prom + "# EOF\n";
}

void Run(benchmark::State& state, const std::string& body, textparse::Format format) {
  textparse::Parser p;
  int64_t samples = 0;
  double checksum = 0;
  for (auto _ : state) {
    p.Reset(body, format);
    samples = 0;
    while (true) {
      auto e = p.Next();
      if (!e) {
        state.SkipWithError(e.error().message.c_str());
        return;
      }
      if (*e == textparse::Entry::kEof) break;
      if (*e == textparse::Entry::kSeries) {
        ++samples;
        checksum += p.Value() + static_cast<double>(p.MetricName().size());
        for (const auto& l : p.Labels()) checksum += static_cast<double>(l.value.size());
        if (p.HasTimestamp()) checksum += static_cast<double>(p.TimestampMs() & 1);
      }
    }
    benchmark::DoNotOptimize(checksum);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(body.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * samples);
  state.counters["body_bytes"] = static_cast<double>(body.size());
  state.counters["samples"] = static_cast<double>(samples);
  state.counters["ns_per_sample"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * static_cast<double>(samples),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

constexpr size_t kBodyBytes = 200 * 1000;

void BM_ParsePrometheus(benchmark::State& state) {
  static const std::string body = NodeExporterBody(kBodyBytes, false);
  Run(state, body, textparse::Format::kPrometheus);
}
BENCHMARK(BM_ParsePrometheus);

void BM_ParseOpenMetrics(benchmark::State& state) {
  static const std::string body = ToOpenMetrics(NodeExporterBody(kBodyBytes, false));
  Run(state, body, textparse::Format::kOpenMetrics);
}
BENCHMARK(BM_ParseOpenMetrics);

void BM_ParseWithTimestamps(benchmark::State& state) {
  static const std::string body = NodeExporterBody(kBodyBytes, true);
  Run(state, body, textparse::Format::kPrometheus);
}
BENCHMARK(BM_ParseWithTimestamps);

class MemoryFetcher final : public scrape::HttpFetcher {
 public:
  explicit MemoryFetcher(const std::string& body) : body_(body) {}
  core::Status Fetch(const scrape::FetchRequest&, scrape::FetchResponse& response,
                     scrape::FetchError* error) override {
    *error = scrape::FetchError::kNone;
    response.status = 200;
    response.content_type = "text/plain; version=0.0.4";
    response.body.assign(body_);
    return {};
  }

 private:
  const std::string& body_;
};

class NullSink final : public scrape::ScrapeSink {
 public:
  void Append(const core::Labels& labels, int64_t t_ms, double v) override {
    n_ += static_cast<int64_t>(labels.size()) + (t_ms & 1) + (v > 0);
  }
  void Commit() override { benchmark::DoNotOptimize(n_); }

 private:
  int64_t n_ = 0;
};

void BM_ScrapeOnce(benchmark::State& state) {
  static const std::string body = NodeExporterBody(kBodyBytes, false);
  MemoryFetcher fetcher(body);
  NullSink sink;
  core::FakeClock clock(1'700'000'000'000);
  scrape::ScrapeConfig config;
  config.job_name = "node";
  config.scrape_interval_ms = 15'000;
  config.scrape_timeout_ms = 10'000;
  config.static_configs.push_back({{"host-a:9100"}, {{"env", "prod"}}});
  scrape::ScrapeTarget target(config, scrape::TargetsOf(config).at(0), fetcher, sink, clock);
  int64_t now = 1'700'000'000'000;
  uint64_t samples = 0;
  for (auto _ : state) {
    const scrape::ScrapeResult r = target.ScrapeOnce(now += 15'000);
    if (!r.up) {
      state.SkipWithError(r.error.c_str());
      return;
    }
    samples = r.samples_scraped;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(body.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * samples));
  state.counters["ns_per_sample"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * static_cast<double>(samples),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ScrapeOnce);

}  // namespace

BENCHMARK_MAIN();
