// Rule files and rule unit-test files: YAML -> plain structs. yaml-cpp stays in
// this file; every YAML::Exception stops here.
#include "aggregator/rule_file.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

#include "aggregator/promql_parser.h"
#include "aggregator/promql_text.h"
#include "aggregator/template.h"
#include "core/text.h"

namespace rules {

namespace {

constexpr size_t kMaxFileBytes = 64 << 20;

int OneBased(int zero_based) { return zero_based >= 0 ? zero_based + 1 : 0; }

// The node's position, or `fallback` for a node that was never set (a
// default-constructed YAML::Node has no position).
YAML::Mark MarkOr(const YAML::Node& node, const YAML::Mark& fallback) {
  YAML::Mark m = node.Mark();
  return m.line >= 0 ? m : fallback;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool ReadFile(const std::string& path, std::string* text, std::string* error) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    *error = "open " + path + ": " + std::system_category().message(errno);
    return false;
  }
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    text->append(buf, n);
    if (text->size() > kMaxFileBytes) {
      std::fclose(f);
      *error = path + ": larger than " + std::to_string(kMaxFileBytes >> 20) + "MiB";
      return false;
    }
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) {
    *error = "read " + path + ": " + std::system_category().message(errno);
    return false;
  }
  return true;
}

// Walks a rule file, collecting every error with its position.
class RuleFileWalker {
 public:
  explicit RuleFileWalker(std::string_view file) : file_(file) {}

  RuleFileLoad Run(std::string_view content) {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(content));
    } catch (const YAML::Exception& e) {
      AddError(e.mark, "yaml: " + (e.msg.empty() ? std::string("invalid YAML") : e.msg));
      return std::move(out_);
    }
    try {
      WalkRoot(root);
    } catch (const YAML::Exception& e) {
      AddError(e.mark, "yaml: " + e.msg);
    }
    return std::move(out_);
  }

 private:
  void AddError(const YAML::Mark& mark, std::string message) {
    out_.errors.push_back(
        RuleFileError{file_, OneBased(mark.line), OneBased(mark.column), std::move(message)});
  }

  // Calls handlers for known keys; reports unknown and repeated keys like
  // yaml.v2's strict mode ("field x not found in type T").
  void WalkMap(const YAML::Node& map, std::string_view go_type, const std::string& prefix,
               const std::map<std::string,
                              std::function<void(const YAML::Node&, const YAML::Node&)>>& fields) {
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first;
      const std::string name = key.IsScalar() ? key.Scalar() : "?";
      if (!seen.insert(name).second) {
        AddError(key.Mark(),
                 prefix + "field " + name + " already set in type " + std::string(go_type));
        continue;
      }
      auto f = fields.find(name);
      if (f == fields.end()) {
        AddError(key.Mark(),
                 prefix + "field " + name + " not found in type " + std::string(go_type));
        continue;
      }
      f->second(key, it->second);
    }
  }

  std::optional<std::string> Str(const YAML::Node& v, const std::string& prefix) {
    if (v.IsNull()) return std::string();
    if (!v.IsScalar()) {
      AddError(v.Mark(),
               prefix + "cannot unmarshal " + (v.IsMap() ? "!!map" : "!!seq") + " into string");
      return std::nullopt;
    }
    return v.Scalar();
  }

  std::optional<int64_t> Duration(const YAML::Node& v, const std::string& prefix) {
    auto s = Str(v, prefix);
    if (!s) return std::nullopt;
    if (s->empty()) return 0;
    auto d = promql::ParseDuration(*s);
    if (!d) {
      AddError(v.Mark(), prefix + d.error().message);
      return std::nullopt;
    }
    return *d;
  }

  void WalkRoot(const YAML::Node& root) {
    if (!root.IsDefined() || root.IsNull()) return;
    if (!root.IsMap()) {
      AddError(root.Mark(), "yaml: cannot unmarshal " +
                                std::string(root.IsSequence() ? "!!seq" : "!!str") +
                                " into rulefmt.RuleGroups");
      return;
    }
    std::map<std::string, int> names;
    WalkMap(root, "rulefmt.RuleGroups", "",
            {{"groups", [&](const YAML::Node&, const YAML::Node& groups) {
                if (groups.IsNull()) return;
                if (!groups.IsSequence()) {
                  AddError(groups.Mark(), "cannot unmarshal !!map into []rulefmt.RuleGroup");
                  return;
                }
                for (const YAML::Node& g : groups) WalkGroup(g, &names);
              }}});
  }

  void WalkGroup(const YAML::Node& g, std::map<std::string, int>* names) {
    RuleGroupSpec group;
    group.file = file_;
    group.line = OneBased(g.Mark().line);
    if (!g.IsMap()) {
      AddError(g.Mark(), "cannot unmarshal into rulefmt.RuleGroup: a group is a map");
      return;
    }
    YAML::Node name_node;
    const size_t errors_before = out_.errors.size();
    WalkMap(g, "rulefmt.RuleGroup", "",
            {{"name",
              [&](const YAML::Node&, const YAML::Node& v) {
                name_node = v;
                if (auto s = Str(v, "")) group.name = *s;
              }},
             {"interval",
              [&](const YAML::Node&, const YAML::Node& v) {
                if (auto d = Duration(v, "")) group.interval_ms = *d;
              }},
             {"limit",
              [&](const YAML::Node&, const YAML::Node& v) {
                auto s = Str(v, "");
                if (!s) return;
                char* end = nullptr;
                errno = 0;
                long long n = std::strtoll(s->c_str(), &end, 10);
                if (s->empty() || *end != '\0' || errno != 0 || n < 0 || n > 1'000'000'000) {
                  AddError(v.Mark(), "cannot unmarshal !!str `" + *s + "` into int");
                  return;
                }
                group.limit = static_cast<int>(n);
              }},
             {"rules", [&](const YAML::Node&, const YAML::Node& v) {
                if (v.IsNull()) return;
                if (!v.IsSequence()) {
                  AddError(v.Mark(), "cannot unmarshal into []rulefmt.RuleNode: rules is a list");
                  return;
                }
                int index = 0;
                for (const YAML::Node& r : v) WalkRule(r, ++index, &group);
              }}});
    if (group.name.empty()) {
      AddError(MarkOr(name_node, g.Mark()), "Groupname must not be empty");
    } else if (auto [it, inserted] = names->emplace(group.name, group.line); !inserted) {
      AddError(MarkOr(name_node, g.Mark()),
               "groupname: \"" + group.name + "\" is repeated in the same file");
    }
    if (out_.errors.size() == errors_before) out_.groups.push_back(std::move(group));
  }

  void WalkRule(const YAML::Node& r, int index, RuleGroupSpec* group) {
    if (!r.IsMap()) {
      AddError(r.Mark(), "group \"" + group->name + "\", rule " + std::to_string(index) +
                             ": a rule is a map");
      return;
    }
    RuleSpec rule;
    rule.line = OneBased(r.Mark().line);
    rule.column = OneBased(r.Mark().column);
    // Name first, for the message prefix.
    std::string record, alert;
    YAML::Node record_node, alert_node, expr_node, for_node, keep_node, labels_node,
        annotations_node;
    for (auto it = r.begin(); it != r.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      const std::string& k = it->first.Scalar();
      if (k == "record" && it->second.IsScalar()) record = it->second.Scalar();
      if (k == "alert" && it->second.IsScalar()) alert = it->second.Scalar();
    }
    const std::string name = alert.empty() ? record : alert;
    const std::string prefix =
        "group \"" + group->name + "\", rule " + std::to_string(index) + ", \"" + name + "\": ";
    const size_t errors_before = out_.errors.size();
    struct Entry {
      std::string key, value;
      YAML::Mark mark;  // of the key
    };
    std::vector<Entry> labels, annotations;
    auto string_map = [&](const YAML::Node& v, std::vector<Entry>* out) {
      if (v.IsNull()) return;
      if (!v.IsMap()) {
        AddError(v.Mark(), prefix + "cannot unmarshal into map[string]string");
        return;
      }
      std::set<std::string> seen;
      for (auto it = v.begin(); it != v.end(); ++it) {
        auto k = Str(it->first, prefix);
        auto val = Str(it->second, prefix);
        if (!k || !val) continue;
        if (!seen.insert(*k).second) {
          AddError(it->first.Mark(), prefix + "key " + *k + " already set in map");
          continue;
        }
        out->push_back(Entry{*k, *val, it->first.Mark()});
      }
    };
    WalkMap(r, "rulefmt.RuleNode", prefix,
            {{"record",
              [&](const YAML::Node&, const YAML::Node& v) {
                record_node = v;
                Str(v, prefix);
              }},
             {"alert",
              [&](const YAML::Node&, const YAML::Node& v) {
                alert_node = v;
                Str(v, prefix);
              }},
             {"expr",
              [&](const YAML::Node&, const YAML::Node& v) {
                expr_node = v;
                if (auto s = Str(v, prefix)) rule.expr_text = *s;
              }},
             {"for",
              [&](const YAML::Node&, const YAML::Node& v) {
                for_node = v;
                if (auto d = Duration(v, prefix)) rule.for_ms = *d;
              }},
             {"keep_firing_for",
              [&](const YAML::Node&, const YAML::Node& v) {
                keep_node = v;
                if (auto d = Duration(v, prefix)) rule.keep_firing_for_ms = *d;
              }},
             {"labels",
              [&](const YAML::Node&, const YAML::Node& v) {
                labels_node = v;
                string_map(v, &labels);
              }},
             {"annotations", [&](const YAML::Node&, const YAML::Node& v) {
                annotations_node = v;
                string_map(v, &annotations);
              }}});
    // rulefmt's RuleNode.Validate, in its order.
    const YAML::Mark rule_mark = r.Mark();
    if (!record.empty() && !alert.empty()) {
      AddError(MarkOr(record_node, rule_mark),
               prefix + "only one of 'record' and 'alert' must be set");
    }
    if (record.empty() && alert.empty()) {
      AddError(rule_mark, prefix + "one of 'record' or 'alert' must be set");
    }
    if (rule.expr_text.empty()) {
      AddError(MarkOr(expr_node, rule_mark), prefix + "field 'expr' must be set in rule");
    } else {
      auto parsed = promql::Parse(rule.expr_text);
      if (!parsed) {
        AddError(MarkOr(expr_node, rule_mark),
                 prefix + "could not parse expression: " + parsed.error().ToString());
      } else {
        rule.expr = std::shared_ptr<const promql::Expr>(std::move(*parsed));
      }
    }
    if (!record.empty()) {
      if (!annotations.empty())
        AddError(MarkOr(annotations_node, rule_mark),
                 prefix + "invalid field 'annotations' in recording rule");
      if (rule.for_ms != 0)
        AddError(MarkOr(for_node, rule_mark), prefix + "invalid field 'for' in recording rule");
      if (rule.keep_firing_for_ms != 0) {
        AddError(MarkOr(keep_node, rule_mark),
                 prefix + "invalid field 'keep_firing_for' in recording rule");
      }
      if (!IsValidMetricName(record)) {
        AddError(MarkOr(record_node, rule_mark), prefix + "invalid recording rule name: " + record);
      }
    }
    for (const Entry& e : labels) {
      if (!IsValidLabelName(e.key) || e.key == "__name__")
        AddError(e.mark, prefix + "invalid label name: " + e.key);
      if (!core::IsValidUtf8(e.value)) AddError(e.mark, prefix + "invalid label value: " + e.value);
    }
    for (const Entry& e : annotations) {
      if (!IsValidLabelName(e.key)) AddError(e.mark, prefix + "invalid annotation name: " + e.key);
    }
    if (!alert.empty()) {
      // Templates must parse (rulefmt's testTemplateParsing).
      for (const Entry& e : labels) {
        if (auto t = Template::Parse("__alert_" + alert, e.value); !t) {
          AddError(e.mark, prefix + "label \"" + e.key + "\": " + t.error().message);
        }
      }
      for (const Entry& e : annotations) {
        if (auto t = Template::Parse("__alert_" + alert, e.value); !t) {
          AddError(e.mark, prefix + "annotation \"" + e.key + "\": " + t.error().message);
        }
      }
    }
    if (out_.errors.size() != errors_before) return;
    rule.kind = alert.empty() ? RuleSpec::Kind::kRecord : RuleSpec::Kind::kAlert;
    rule.name = name;
    std::vector<core::Label> ls, as;
    for (Entry& e : labels) ls.push_back({std::move(e.key), std::move(e.value)});
    for (Entry& e : annotations) as.push_back({std::move(e.key), std::move(e.value)});
    rule.labels = core::Labels(std::move(ls));
    rule.annotations = core::Labels(std::move(as));
    group->rules.push_back(std::move(rule));
  }

  std::string file_;
  RuleFileLoad out_;
};

// ---- unit-test files ----

// Decodes like yaml.v2's UnmarshalStrict: collects "line N: ..." errors.
class TestFileWalker {
 public:
  core::Result<RuleTestFileSpec> Run(std::string_view content) {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(content));
    } catch (const YAML::Exception& e) {
      return core::Fail(core::ErrorCode::kInvalidRequest,
                        "yaml: line " + std::to_string(OneBased(e.mark.line)) + ": " + e.msg);
    }
    RuleTestFileSpec spec;
    try {
      if (root.IsDefined() && !root.IsNull()) {
        if (!root.IsMap()) {
          Error(root, "cannot unmarshal " + Tag(root) + " into main.unitTestFile");
        } else {
          WalkFile(root, &spec);
        }
      }
    } catch (const YAML::Exception& e) {
      return core::Fail(core::ErrorCode::kInvalidRequest, "yaml: " + e.msg);
    }
    if (!fatal_.empty()) return core::Fail(core::ErrorCode::kInvalidRequest, fatal_);
    if (!errors_.empty()) {
      std::string msg = "yaml: unmarshal errors:";
      for (const std::string& e : errors_) msg += "\n  " + e;
      return core::Fail(core::ErrorCode::kInvalidRequest, msg);
    }
    return spec;
  }

 private:
  static std::string Tag(const YAML::Node& n) {
    if (n.IsMap()) return "!!map";
    if (n.IsSequence()) return "!!seq";
    return "!!str `" + n.Scalar() + "`";
  }
  void Error(const YAML::Node& n, const std::string& msg) {
    errors_.push_back("line " + std::to_string(OneBased(n.Mark().line)) + ": " + msg);
  }

  using Handlers = std::map<std::string, std::function<void(const YAML::Node&)>>;
  void Map(const YAML::Node& n, const std::string& type, const Handlers& fields) {
    if (n.IsNull()) return;
    if (!n.IsMap()) {
      Error(n, "cannot unmarshal " + Tag(n) + " into " + type);
      return;
    }
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      const std::string name = it->first.IsScalar() ? it->first.Scalar() : "?";
      if (!seen.insert(name).second) {
        Error(it->first, "field " + name + " already set in type " + type);
        continue;
      }
      auto f = fields.find(name);
      if (f == fields.end()) {
        Error(it->first, "field " + name + " not found in type " + type);
        continue;
      }
      f->second(it->second);
    }
  }
  template <typename Fn>
  void List(const YAML::Node& n, const std::string& type, Fn&& each) {
    if (n.IsNull()) return;
    if (!n.IsSequence()) {
      Error(n, "cannot unmarshal " + Tag(n) + " into " + type);
      return;
    }
    for (const YAML::Node& item : n) each(item);
  }
  std::string String(const YAML::Node& n) {
    if (n.IsNull()) return "";
    if (!n.IsScalar()) {
      Error(n, "cannot unmarshal " + Tag(n) + " into string");
      return "";
    }
    return n.Scalar();
  }
  int64_t Duration(const YAML::Node& n) {
    std::string s = String(n);
    if (s.empty()) return 0;
    auto d = promql::ParseDuration(s);
    // model.Duration's UnmarshalYAML error ends the decoding, like promtool.
    if (!d) {
      if (fatal_.empty()) fatal_ = d.error().message;
      return 0;
    }
    return *d;
  }
  double Float(const YAML::Node& n) {
    if (n.IsNull()) return 0;
    if (!n.IsScalar()) {
      Error(n, "cannot unmarshal " + Tag(n) + " into float64");
      return 0;
    }
    const std::string& s = n.Scalar();
    if (s == ".nan" || s == ".NaN" || s == ".NAN") return std::nan("");
    if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf" || s == "+.Inf" || s == "+.INF")
      return HUGE_VAL;
    if (s == "-.inf" || s == "-.Inf" || s == "-.INF") return -HUGE_VAL;
    auto v = promql::ParseNumber(s);
    if (!v || s == "Inf" || s == "+Inf" || s == "-Inf" || s == "NaN" || s == "inf" || s == "nan") {
      Error(n, "cannot unmarshal " + Tag(n) + " into float64");
      return 0;
    }
    return *v;
  }
  std::map<std::string, std::string> StringMap(const YAML::Node& n) {
    std::map<std::string, std::string> out;
    if (n.IsNull()) return out;
    if (!n.IsMap()) {
      Error(n, "cannot unmarshal " + Tag(n) + " into map[string]string");
      return out;
    }
    for (auto it = n.begin(); it != n.end(); ++it) out[String(it->first)] = String(it->second);
    return out;
  }

  void WalkFile(const YAML::Node& root, RuleTestFileSpec* spec) {
    Map(root, "main.unitTestFile",
        {{"rule_files",
          [&](const YAML::Node& n) {
            List(n, "[]string",
                 [&](const YAML::Node& i) { spec->rule_files.push_back(String(i)); });
          }},
         {"evaluation_interval",
          [&](const YAML::Node& n) { spec->evaluation_interval_ms = Duration(n); }},
         {"group_eval_order",
          [&](const YAML::Node& n) {
            List(n, "[]string",
                 [&](const YAML::Node& i) { spec->group_eval_order.push_back(String(i)); });
          }},
         {"tests", [&](const YAML::Node& n) {
            List(n, "[]main.testGroup", [&](const YAML::Node& i) {
              TestGroupSpec tg;
              WalkGroup(i, &tg);
              spec->tests.push_back(std::move(tg));
            });
          }}});
  }

  void WalkGroup(const YAML::Node& n, TestGroupSpec* tg) {
    Map(n, "main.testGroup",
        {{"interval", [&](const YAML::Node& v) { tg->interval_ms = Duration(v); }},
         {"name", [&](const YAML::Node& v) { tg->name = String(v); }},
         {"external_url", [&](const YAML::Node& v) { tg->external_url = String(v); }},
         {"external_labels",
          [&](const YAML::Node& v) {
            std::vector<core::Label> ls;
            for (auto& [k, val] : StringMap(v)) ls.push_back({k, val});
            tg->external_labels = core::Labels(std::move(ls));
          }},
         {"input_series",
          [&](const YAML::Node& v) {
            List(v, "[]main.series", [&](const YAML::Node& i) {
              InputSeriesSpec s;
              Map(i, "main.series",
                  {{"series", [&](const YAML::Node& x) { s.series = String(x); }},
                   {"values", [&](const YAML::Node& x) { s.values = String(x); }}});
              tg->input_series.push_back(std::move(s));
            });
          }},
         {"promql_expr_test",
          [&](const YAML::Node& v) {
            List(v, "[]main.promqlTestCase", [&](const YAML::Node& i) {
              PromqlExprTestSpec t;
              Map(i, "main.promqlTestCase",
                  {{"expr", [&](const YAML::Node& x) { t.expr = String(x); }},
                   {"eval_time", [&](const YAML::Node& x) { t.eval_time_ms = Duration(x); }},
                   {"exp_samples", [&](const YAML::Node& x) {
                      List(x, "[]main.sample", [&](const YAML::Node& s) {
                        ExpSampleSpec e;
                        Map(s, "main.sample",
                            {{"labels", [&](const YAML::Node& y) { e.labels = String(y); }},
                             {"value", [&](const YAML::Node& y) { e.value = Float(y); }}});
                        t.exp_samples.push_back(std::move(e));
                      });
                    }}});
              tg->promql_expr_tests.push_back(std::move(t));
            });
          }},
         {"alert_rule_test", [&](const YAML::Node& v) {
            List(v, "[]main.alertTestCase", [&](const YAML::Node& i) {
              AlertTestSpec t;
              Map(i, "main.alertTestCase",
                  {{"eval_time", [&](const YAML::Node& x) { t.eval_time_ms = Duration(x); }},
                   {"alertname", [&](const YAML::Node& x) { t.alertname = String(x); }},
                   {"exp_alerts", [&](const YAML::Node& x) {
                      List(x, "[]main.alert", [&](const YAML::Node& a) {
                        ExpAlertSpec e;
                        Map(a, "main.alert",
                            {{"exp_labels",
                              [&](const YAML::Node& y) { e.exp_labels = StringMap(y); }},
                             {"exp_annotations",
                              [&](const YAML::Node& y) { e.exp_annotations = StringMap(y); }}});
                        t.exp_alerts.push_back(std::move(e));
                      });
                    }}});
              tg->alert_rule_tests.push_back(std::move(t));
            });
          }}});
  }

  std::vector<std::string> errors_;
  std::string fatal_;
};

}  // namespace

std::string RuleFileError::ToString() const {
  std::string out = file + ": ";
  if (line > 0) out += std::to_string(line) + ":" + std::to_string(column) + ": ";
  return out + message;
}

size_t RuleFileLoad::NumRules() const {
  size_t n = 0;
  for (const RuleGroupSpec& g : groups) n += g.rules.size();
  return n;
}

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

RuleFileLoad ParseRuleFile(std::string_view file_name, std::string_view content) {
  return RuleFileWalker(file_name).Run(content);
}

RuleFileLoad LoadRuleFile(const std::string& path) {
  std::string text, error;
  if (!ReadFile(path, &text, &error)) {
    RuleFileLoad out;
    out.errors.push_back(RuleFileError{path, 0, 0, error});
    return out;
  }
  return ParseRuleFile(path, text);
}

core::Result<RuleTestFileSpec> ParseRuleTestFile(std::string_view content) {
  return TestFileWalker().Run(content);
}

}  // namespace rules
