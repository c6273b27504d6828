#include "app/rules_commands.h"

#include <map>
#include <ostream>
#include <utility>

#include "aggregator/rule_file.h"
#include "aggregator/rule_unit_test.h"

namespace app {

int RunCheckRules(const std::vector<std::string>& files, std::ostream& out, std::ostream& err) {
  bool failed = false;
  for (const std::string& file : files) {
    out << "Checking " << file << "\n";
    rules::RuleFileLoad load = rules::LoadRuleFile(file);
    if (!load.ok()) {
      err << "  FAILED:\n";
      for (const rules::RuleFileError& e : load.errors) err << e.ToString() << "\n";
      err.flush();
      out << "\n";
      failed = true;
      continue;
    }
    out << "  SUCCESS: " << load.NumRules() << " rules found\n";
    // promtool's duplicate check: recording rules with the same name and labels.
    std::map<std::pair<std::string, std::string>, int> seen;
    std::vector<const rules::RuleSpec*> duplicates;
    for (const rules::RuleGroupSpec& g : load.groups) {
      for (const rules::RuleSpec& r : g.rules) {
        if (r.kind != rules::RuleSpec::Kind::kRecord) continue;
        std::string key;
        for (const auto& l : r.labels.items()) key += l.name + "\xff" + l.value + "\xff";
        if (++seen[{r.name, key}] == 2) duplicates.push_back(&r);
      }
    }
    if (!duplicates.empty()) {
      out << duplicates.size() << " duplicate rule(s) found.\n";
      for (const rules::RuleSpec* r : duplicates) {
        out << "Metric: " << r->name << "\nLabel(s):\n";
        for (const auto& l : r->labels.items()) out << "\t" << l.name << ": " << l.value << "\n";
      }
      out << "Might cause inconsistency while recording expressions.\n";
    }
    out << "\n";
  }
  out.flush();
  return failed ? 1 : 0;
}

int RunTestRules(const std::vector<std::string>& files, std::ostream& out, std::ostream& err) {
  bool failed = false;
  for (const std::string& file : files) {
    out << "Unit Testing:  " << file << "\n";
    out.flush();
    rules::RuleUnitTestResult result = rules::RunRuleUnitTestFile(file);
    for (const std::string& w : result.warnings) err << w << "\n";
    if (!result.errors.empty()) {
      err << "  FAILED:\n";
      for (const std::string& e : result.errors) {
        err << e << "\n";
        err.flush();
        out << "\n";
      }
      failed = true;
    } else {
      out << "  SUCCESS\n";
    }
    out << "\n";
    out.flush();
  }
  return failed ? 1 : 0;
}

}  // namespace app
