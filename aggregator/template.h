// Template: the subset of Go's text/template (with Prometheus' template
// functions) that alerting-rule labels and annotations use, e.g.
//
//   "{{ $labels.job }} is at {{ $value | humanizePercentage }}"
//   "{{ if gt $value 100.0 }}high{{ else }}ok{{ end }}: {{ printf \"%.2f\" $value }}"
//
// Supported (see docs/rules.md for the full list): text, `{{ }}` actions with
// `{{-`/`-}}` trimming and `{{/* comments */}}`; pipelines (`a | f b`), nested
// `( )`; the variables $labels, $externalLabels, $externalURL, $value, `$` and
// `.` (with .Labels, .ExternalLabels, .ExternalURL, .Value), `$x := ...`;
// `.field` / `$labels.name` map lookups (a missing key gives "", Prometheus'
// missingkey=zero); string, number and bool literals; if / else if / else / end,
// with / end, range over label maps; Go's builtins and, or, not, eq, ne, lt, le,
// gt, ge, len, index, print, printf, println, html, js, urlquery; Prometheus'
// humanize, humanize1024, humanizeDuration, humanizePercentage,
// humanizeTimestamp, toUpper, toLower, title, reReplaceAll, match, stripPort,
// safeHtml, parseDuration. Prometheus' query functions (query, first, label,
// value, sortByLabel, strvalue, args, tmpl, graphLink, tableLink, pathPrefix,
// externalURL, toTime) parse, but executing them is an error (tally renders
// templates without querying).
//
// Template is an immutable value after Parse; Execute is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/labels.h"
#include "core/status.h"

namespace rules {

// What a template sees: Prometheus' AlertTemplateData.
struct TemplateData {
  core::Labels labels;           // $labels / .Labels
  core::Labels external_labels;  // $externalLabels / .ExternalLabels
  std::string external_url;      // $externalURL / .ExternalURL
  double value = 0;              // $value / .Value
};

namespace template_internal {
struct ListNode;
}

class Template {
 public:
  // Parses `text`. `name` appears in messages like Go's:
  // "template: __alert_X:1: unclosed action",
  // "template: __alert_X:1: function \"nosuch\" not defined".
  static core::Result<Template> Parse(std::string_view name, std::string_view text);

  // Renders the template. Errors read like Go's ("template: NAME:LINE: executing
  // ... error calling humanize: ...").
  core::Result<std::string> Execute(const TemplateData& data) const;

  // Parse + Execute; on error returns Prometheus' rendering of a failed
  // expansion: "<error expanding template: MESSAGE>".
  static std::string Expand(std::string_view name, std::string_view text, const TemplateData& data);

 private:
  std::string name_;
  std::shared_ptr<const template_internal::ListNode> root_;
};

// Prometheus' humanize helpers (template functions of the same names), exposed
// for tests. Go's %.4g formatting, "+Inf"/"NaN" spelled Go's way.
std::string Humanize(double v);
std::string Humanize1024(double v);
std::string HumanizeDuration(double seconds);
std::string HumanizePercentage(double ratio);

}  // namespace rules
