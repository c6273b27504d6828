// textparse::Parser: a pull parser for the Prometheus text exposition format
// (version 0.0.4) and OpenMetrics 1.0 text, after Prometheus' own
// `textparse.Parser`: Next() moves to the next entry (a sample, HELP, TYPE, UNIT,
// a comment, or the end) and accessors return views of it.
//
// Views returned by the accessors point into the input or into the parser's
// scratch buffer (escaped label values and help texts); they stay valid until the
// next call to Next() or Reset(). The parser keeps its buffers across Reset(), so
// parsing body after body allocates nothing per sample once the buffers have
// grown to the largest line seen.
//
// Format rules, as Prometheus 2.42 applies them (accept/reject and sample counts
// were compared with a local Prometheus 2.42 scraping 68 bodies: all agree):
//   0.0.4        tokens separated by spaces or tabs (also before `{` and inside
//                label sets, a trailing comma allowed); no blanks before the metric
//                name; optional timestamp of digits only (milliseconds); `# HELP` /
//                `# TYPE` (counter, gauge, histogram, summary, untyped); other `#`
//                lines are comments; blank lines are skipped; the final newline may
//                be missing.
//   OpenMetrics  single spaces between tokens, none inside label sets, no trailing
//                comma; optional timestamp in (float) seconds; exemplars after ` # `
//                are checked and ignored; `# HELP name text`, `# TYPE` (adds
//                gaugehistogram, info, stateset, unknown), `# UNIT` (the name must
//                end in `_<unit>`); no other comments, no blank lines; the input
//                must end with `# EOF`.
// Both: metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
// [a-zA-Z_][a-zA-Z0-9_]*, label values are UTF-8 with the escapes \\ \" \n
// (other escapes are kept as written), duplicate label names in one series are
// an error, values are Go-style floats (NaN, +Inf, -Inf; no hex, no `_`), and
// every NaN value is returned as Prometheus' "normal" NaN (0x7ff8000000000001) so
// a scraped NaN never looks like a staleness marker.
//
// Errors are core::Error (kInvalidRequest) whose message reads
// `line 3, column 7: expected label name, got "1x"`: position (1-based; the column
// counts bytes) and the offending text. After an error the parser stays failed.
//
// Not thread-safe; one parser per scrape loop.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace textparse {

enum class Format { kPrometheus, kOpenMetrics };

// The format a scrape response declares: `application/openmetrics-text` (any
// parameters) is OpenMetrics, anything else (including empty) is 0.0.4.
Format FormatFromContentType(std::string_view content_type);

enum class Entry { kSeries, kHelp, kType, kUnit, kComment, kEof };

enum class MetricType {
  kUnknown,  // OpenMetrics `unknown`, and no TYPE line
  kCounter,
  kGauge,
  kHistogram,
  kGaugeHistogram,
  kSummary,
  kInfo,
  kStateset,
  kUntyped,  // 0.0.4 `untyped`
};
std::string_view MetricTypeName(MetricType type);

struct LabelView {
  std::string_view name;
  std::string_view value;  // escapes resolved
};

// Where the last error happened (1-based; 0 before any error).
struct ErrorPosition {
  int line = 0;
  int column = 0;
};

class Parser {
 public:
  Parser() = default;
  Parser(std::string_view input, Format format) { Reset(input, format); }

  // Starts over on `input`, keeping the buffers. `input` must outlive the views.
  void Reset(std::string_view input, Format format);

  // Moves to the next entry. Returns kEof at the end (OpenMetrics: at `# EOF`),
  // and again on every later call.
  core::Result<Entry> Next();

  // kSeries, kHelp, kType, kUnit: the metric name (for HELP/TYPE/UNIT, the family).
  std::string_view MetricName() const { return metric_name_; }
  // kSeries: the raw text of name and label set (e.g. `up{job="a"}`): equal text
  // means equal series, so it makes a cache key for the parsed labels.
  std::string_view Series() const { return series_; }
  // kSeries: the labels inside the braces, in input order (no __name__).
  std::span<const LabelView> Labels() const { return labels_; }
  // kSeries: the sample value.
  double Value() const { return value_; }
  // kSeries: whether the sample carries a timestamp, and the timestamp in unix
  // milliseconds (OpenMetrics seconds are converted, truncating like Prometheus).
  bool HasTimestamp() const { return has_timestamp_; }
  int64_t TimestampMs() const { return timestamp_ms_; }
  // kSeries: whether an (ignored) OpenMetrics exemplar followed the sample.
  bool HasExemplar() const { return has_exemplar_; }
  // kHelp: the help text (unescaped). kUnit: the unit. kComment: the text after `#`.
  std::string_view Text() const { return text_; }
  // kType: the declared type.
  MetricType Type() const { return type_; }
  // The 1-based line of the current entry.
  int line() const { return line_; }

  ErrorPosition error_position() const { return error_pos_; }

 private:
  core::Result<Entry> ParseComment(size_t start, size_t end);
  core::Result<Entry> ParseSeries(size_t start, size_t end);
  // Parses `{...}` at `*pos` (pointing at '{') into `out`; escaped values are
  // appended to scratch_ and recorded in escaped_.
  core::Status ParseLabels(size_t* pos, size_t end, std::vector<LabelView>* out,
                           bool record_escapes);
  core::Status ParseExemplar(size_t pos, size_t end);
  // The error at byte offset `at` (on the current line): message plus the quoted
  // text from `at` to the end of its token.
  core::Unexpected<core::Error> Fail(size_t at, std::string_view message);

  std::string_view in_;
  Format format_ = Format::kPrometheus;
  size_t pos_ = 0;         // start of the next line
  size_t line_start_ = 0;  // start of the current line
  int line_ = 0;
  bool done_ = false;
  bool failed_ = false;
  core::Error error_;
  ErrorPosition error_pos_;

  std::string_view metric_name_;
  std::string_view series_;
  std::string_view text_;
  MetricType type_ = MetricType::kUnknown;
  double value_ = 0;
  int64_t timestamp_ms_ = 0;
  bool has_timestamp_ = false;
  bool has_exemplar_ = false;

  std::vector<LabelView> labels_;
  std::vector<LabelView> exemplar_labels_;
  // Escaped label values of the current line: (index into labels_, offset and
  // length in scratch_); turned into views once the line is complete.
  struct Escaped {
    uint32_t index;
    uint32_t offset;
    uint32_t length;
  };
  std::vector<Escaped> escaped_;
  std::string scratch_;
  std::vector<std::string_view> names_;  // for the duplicate check of large label sets
};

}  // namespace textparse
