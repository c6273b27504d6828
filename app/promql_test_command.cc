#include "app/promql_test_command.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>

#include "aggregator/promql_test_runner.h"

namespace app {

namespace {

std::optional<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int RunPromqlTest(const std::vector<std::string>& files, bool verbose, std::ostream& out) {
  namespace fs = std::filesystem;
  bool any_failed = false;
  // One SKIPS file per directory, read once.
  std::map<fs::path, promql::SkipList> skips_by_dir;
  promql::TestRunOptions options;
  for (const std::string& file : files) {
    const fs::path path(file);
    const fs::path dir = path.parent_path();
    if (!skips_by_dir.contains(dir)) {
      promql::SkipList skips;
      const fs::path skips_path = dir / "SKIPS";
      if (fs::exists(skips_path)) {
        std::optional<std::string> content = ReadFile(skips_path);
        if (!content) {
          out << skips_path.string() << ": cannot read the file\n";
          any_failed = true;
        } else if (auto parsed = promql::ParseSkipList(*content); !parsed) {
          out << skips_path.string() << ": " << parsed.error().message << "\n";
          any_failed = true;
        } else {
          skips = std::move(*parsed);
        }
      }
      skips_by_dir.emplace(dir, std::move(skips));
    }
    std::optional<std::string> content = ReadFile(path);
    if (!content) {
      out << file << ": cannot read the file\n";
      any_failed = true;
      continue;
    }
    const promql::TestFileResult r =
        promql::RunTestFile(path.filename().string(), *content, skips_by_dir[dir], options);
    out << file << ": " << r.passed << " passed, " << r.failed << " failed, " << r.skipped
        << " skipped\n";
    if (r.failed > 0) any_failed = true;
    if (verbose) {
      for (const promql::TestCaseReport& c : r.reports) {
        out << "  line " << c.line << ": " << (c.skipped ? "skipped: " : "FAILED: ") << c.message
            << "\n";
      }
    }
  }
  return any_failed ? 1 : 0;
}

}  // namespace app
