// Internal to config/: the YAML plumbing shared by the config loader
// (config/loader.cc) and the price table loader (config/prices_loader.cc).
// It includes yaml-cpp, so only those two files may include it; nothing here
// appears in a public header.
#pragma once

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "config/loader.h"

namespace config::yaml_util {

// Beyond this many errors the rest are summarized in one line (aliases can make
// one bad node show up many times).
inline constexpr size_t kMaxErrors = 100;

// Config files are small; this only guards against reading a device forever.
inline constexpr size_t kMaxFileBytes = 16 << 20;

// yaml-cpp marks are 0-based, -1 when unknown; ConfigError wants 1-based, 0 unknown.
inline int OneBased(int zero_based) { return zero_based >= 0 ? zero_based + 1 : 0; }

// 's' in quotes, cut after 60 bytes.
inline std::string Quote(std::string_view s) {
  constexpr size_t kMaxQuoted = 60;
  std::string out = "'";
  if (s.size() > kMaxQuoted) {
    out.append(s.substr(0, kMaxQuoted));
    out += "...";
  } else {
    out.append(s);
  }
  out += "'";
  return out;
}

// A plain scalar is unquoted and untagged; only plain scalars are numbers or booleans.
inline bool IsPlain(const YAML::Node& node) { return node.Tag() == "?"; }

// "a map", "a list", "the string '10'", "10" ...: what the user wrote, for messages.
inline std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return IsPlain(node) ? Quote(node.Scalar()) : "the string " + Quote(node.Scalar());
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

inline size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

inline std::string Join(const std::vector<std::string_view>& names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out += ", ";
    out.append(n);
  }
  return out;
}

// One key/value pair of a YAML map, with the dotted path of its key.
struct Entry {
  YAML::Node key;
  YAML::Node value;
  std::string path;
};

using Handler = std::function<void(const Entry&)>;
struct Field {
  std::string_view name;
  Handler handle;
};

// Counts the documents in a YAML stream without building nodes. yaml-cpp 0.7's
// LoadAll loops forever (allocating) when a document starts with a token its
// parser cannot use, e.g. a file holding just ",": HandleNextDocument reports a
// null document without consuming the token. Two documents starting at the same
// position mean no progress; the scan stops there and reports the token.
class DocumentScan final : public YAML::EventHandler {
 public:
  struct Result {
    int documents = 0;
    YAML::Mark second_document;  // where the second document starts, if any
    bool stuck = false;
    YAML::Mark stuck_at;
  };

  // Throws YAML::Exception on malformed YAML.
  static Result Run(const std::string& text) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentScan scan;
    while (parser.HandleNextDocument(scan)) {
      if (scan.result_.stuck) break;
    }
    return scan.result_;
  }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (result_.documents > 0 && mark.pos == last_start_.pos) {
      result_.stuck = true;
      result_.stuck_at = mark;
      return;
    }
    ++result_.documents;
    if (result_.documents == 2) result_.second_document = mark;
    last_start_ = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  Result result_;
  YAML::Mark last_start_;
};

// The common part of a loader: collects every error with its position, walks
// maps (unknown keys with did-you-mean, duplicate keys) and parses the one
// document of a file. Not thread-safe; one walker per load.
class YamlWalker {
 public:
  explicit YamlWalker(std::string file) : file_(std::move(file)) {}

  void AddError(int line, int column, std::string path, std::string message) {
    if (errors_.size() >= kMaxErrors) {
      ++dropped_errors_;
      return;
    }
    errors_.push_back(ConfigError{file_, line, column, std::move(path), std::move(message)});
  }

  // Every error, in document order (plus a count of any beyond kMaxErrors).
  std::vector<ConfigError> TakeErrors() {
    if (dropped_errors_ > 0) {
      errors_.push_back(
          ConfigError{file_, 0, 0, "", std::to_string(dropped_errors_) + " more errors not shown"});
      dropped_errors_ = 0;
    }
    return std::move(errors_);
  }

  // Errors so far, including the ones beyond the cap.
  size_t ErrorCount() const { return errors_.size() + dropped_errors_; }

  // Adds the error a YAML::Exception (or another exception) stands for.
  void AddExceptionError(const YAML::Exception& e) {
    AddError(OneBased(e.mark.line), OneBased(e.mark.column), "",
             e.msg.empty() ? "invalid YAML" : "invalid YAML: " + e.msg);
  }

 protected:
  void ErrorAt(const YAML::Node& node, const std::string& path, std::string message) {
    YAML::Mark mark = node.Mark();
    AddError(OneBased(mark.line), OneBased(mark.column), path, std::move(message));
  }
  // Errors about a value point at the value, or at its key when the value is empty.
  void ErrorAt(const Entry& e, std::string message) {
    ErrorAt(e.value.IsNull() ? e.key : e.value, e.path, std::move(message));
  }

  // Parses `text`, which must hold at most one document. Returns the root node,
  // or nullopt when there is nothing to walk (an empty document, or errors
  // already reported). Throws YAML::Exception on malformed YAML.
  std::optional<YAML::Node> LoadDocument(std::string_view text) {
    const std::string yaml(text);
    // Throws on malformed YAML, before any node is built.
    DocumentScan::Result scan = DocumentScan::Run(yaml);
    if (scan.stuck) {
      const YAML::Mark& m = scan.stuck_at;
      std::string token = m.pos >= 0 && static_cast<size_t>(m.pos) < yaml.size()
                              ? " " + Quote(std::string_view(yaml).substr(m.pos, 1))
                              : "";
      AddError(OneBased(m.line), OneBased(m.column), "",
               "invalid YAML: unexpected" + token + " at the start of a document");
      return std::nullopt;
    }
    if (scan.documents == 0) return std::nullopt;  // empty, or only comments
    if (scan.documents > 1) {
      AddError(OneBased(scan.second_document.line), OneBased(scan.second_document.column), "",
               "found " + std::to_string(scan.documents) +
                   " YAML documents; a config file holds exactly one (remove the extra '---')");
    }
    YAML::Node root = YAML::Load(yaml);
    if (root.IsNull()) return std::nullopt;
    return root;
  }

  // Calls each field's handler for the keys present in `map`; unknown and
  // duplicate keys are errors. `map` must be a map.
  void WalkMap(const YAML::Node& map, const std::string& path, const std::vector<Field>& fields) {
    std::map<std::string, YAML::Mark> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first;
      if (!key.IsScalar()) {
        ErrorAt(key, path, "keys must be plain strings, not " + Describe(key));
        continue;
      }
      const std::string& name = key.Scalar();
      std::string key_path = path.empty() ? name : path + "." + name;
      auto [prev, inserted] = seen.emplace(name, key.Mark());
      if (!inserted) {
        std::string where =
            prev->second.line >= 0
                ? " (first set on line " + std::to_string(prev->second.line + 1) + ")"
                : "";
        ErrorAt(key, key_path, "duplicate key" + where);
        continue;
      }
      auto field = std::find_if(fields.begin(), fields.end(),
                                [&](const Field& f) { return f.name == name; });
      if (field == fields.end()) {
        std::vector<std::string_view> known;
        std::string_view best;
        size_t best_distance = std::max<size_t>(2, name.size() / 3) + 1;
        for (const Field& f : fields) {
          known.push_back(f.name);
          size_t d = EditDistance(name, f.name);
          if (d < best_distance) {
            best_distance = d;
            best = f.name;
          }
        }
        std::string hint = best.empty() ? "" : "did you mean '" + std::string(best) + "'? ";
        ErrorAt(key, key_path, "unknown key (" + hint + "known keys: " + Join(known) + ")");
        continue;
      }
      field->handle(Entry{key, it->second, key_path});
    }
  }

  // The value as text, or an error ("missing value" / "expected ...").
  std::optional<std::string> Scalar(const Entry& e, std::string_view expected) {
    if (e.value.IsScalar()) return e.value.Scalar();
    if (e.value.IsNull()) {
      ErrorAt(e, "missing value (expected " + std::string(expected) + ")");
    } else {
      ErrorAt(e, "expected " + std::string(expected) + ", got " + Describe(e.value));
    }
    return std::nullopt;
  }

  std::string file_;
  std::vector<ConfigError> errors_;
  size_t dropped_errors_ = 0;
};

// Reads a whole file of at most kMaxFileBytes into `text`. On failure returns
// false and sets `error` to a message naming `what` ("config file").
inline bool ReadSmallFile(const std::string& path, std::string_view what, std::string* text,
                          std::string* error) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    *error = "cannot open " + std::string(what) + ": " + std::system_category().message(errno);
    return false;
  }
  text->clear();
  // On the heap: callers may run on threads with small stacks.
  std::vector<char> buf(65536);
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
    text->append(buf.data(), n);
    if (text->size() > kMaxFileBytes) {
      std::fclose(f);
      *error = std::string(what) + " is larger than " + std::to_string(kMaxFileBytes >> 20) + "MiB";
      return false;
    }
  }
  bool read_error = std::ferror(f) != 0;
  int saved_errno = errno;
  std::fclose(f);
  if (read_error) {
    *error = "cannot read " + std::string(what) + ": " + std::system_category().message(saved_errno);
    return false;
  }
  return true;
}

}  // namespace config::yaml_util
