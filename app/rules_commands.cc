#include "app/rules_commands.h"

#include <curl/curl.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <ostream>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

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

namespace app {
namespace {

size_t AppendBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

std::string ReadWholeFile(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  *ok = static_cast<bool>(in) || in.eof();
  return buf.str();
}

}  // namespace

int RunBackfillRules(const BackfillRulesFlags& flags, std::ostream& out, std::ostream& err) {
  nlohmann::json sources = nlohmann::json::array();
  bool invalid = false;
  for (const std::string& file : flags.files) {
    rules::RuleFileLoad load = rules::LoadRuleFile(file);
    if (!load.ok()) {
      err << "Checking " << file << "\n  FAILED:\n";
      for (const rules::RuleFileError& e : load.errors) err << e.ToString() << "\n";
      invalid = true;
      continue;
    }
    bool ok = false;
    std::string yaml = ReadWholeFile(file, &ok);
    if (!ok) {
      err << file << ": cannot read the file\n";
      invalid = true;
      continue;
    }
    sources.push_back({{"name", file}, {"yaml", std::move(yaml)}});
  }
  if (invalid) return 1;
  nlohmann::json body{{"start", flags.start}, {"rules", std::move(sources)}};
  if (!flags.end.empty()) body["end"] = flags.end;
  if (!flags.groups.empty()) body["groups"] = flags.groups;
  const std::string payload = body.dump();

  std::string key = flags.key;
  if (key.empty()) {
    if (const char* env = std::getenv("TALLY_API_KEY")) key = env;
  }
  std::string url = flags.url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/api/v1/admin/backfill";

  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    err << "backfill-rules: cannot initialise libcurl\n";
    return 2;
  }
  std::string response;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  const std::string auth = "Authorization: Bearer " + key;
  if (!key.empty()) headers = curl_slist_append(headers, auth.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (flags.timeout_seconds > 0) {
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(flags.timeout_seconds * 1000));
  }
  const CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    err << "backfill-rules: " << url << ": " << curl_easy_strerror(rc) << "\n";
    return 2;
  }
  const nlohmann::json reply = nlohmann::json::parse(response, nullptr, false);
  if (status != 200 || reply.is_discarded() || !reply.contains("data")) {
    err << "backfill-rules: HTTP " << status;
    if (!reply.is_discarded() && reply.contains("error") && reply["error"].is_object()) {
      const nlohmann::json& e = reply["error"];
      if (e.contains("param")) err << " (" << e["param"].get<std::string>() << ")";
      err << ": " << e.value("message", std::string()) << "\n";
    } else {
      err << ": " << response << "\n";
    }
    return 1;
  }
  const nlohmann::json& d = reply["data"];
  out << "Backfilled " << d["start"].get<std::string>() << " .. " << d["end"].get<std::string>()
      << ": " << d["steps"] << " steps, " << d["evaluations"] << " rule evaluations, "
      << d["samplesWritten"] << " samples written";
  if (d["samplesRejected"].get<int64_t>() > 0) out << ", " << d["samplesRejected"] << " rejected";
  out << " in " << d["durationSeconds"].get<double>() << " s\n";
  bool problems = false;
  for (const nlohmann::json& g : d["groups"]) {
    out << "  " << g["file"].get<std::string>() << " group " << g["name"].get<std::string>()
        << ": " << g["steps"] << " steps, " << g["samplesWritten"] << " samples";
    if (g["ruleFailures"].get<int64_t>() > 0) out << ", " << g["ruleFailures"] << " rule failures";
    if (g.contains("firstError")) {
      out << " (first: " << g["firstError"].get<std::string>() << ")";
      problems = true;
    }
    out << "\n";
  }
  if (problems) err << "backfill-rules: some rule evaluations failed or samples were rejected\n";
  return 0;
}

}  // namespace app
