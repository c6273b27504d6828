#include "rest/analytics_table.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "rest/csv_writer.h"

namespace rest {

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  bool plain = true;
  for (char c : s) plain = plain && c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20;
  if (plain) {
    out.append(s);
    out += '"';
    return;
  }
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void RowTable::Int(int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  Add(kNumber, std::string_view(buf, static_cast<size_t>(end - buf)));
}

void RowTable::Uint(uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  Add(kNumber, std::string_view(buf, static_cast<size_t>(end - buf)));
}

void RowTable::Double(double v) {
  if (!std::isfinite(v)) {
    Null();
    return;
  }
  char buf[40];
  auto [end, ec] = std::to_chars(buf, buf + 32, v);
  // Like nlohmann::json: a whole number still reads as a double ("3.0").
  if (std::string_view(buf, static_cast<size_t>(end - buf)).find_first_of(".e") ==
      std::string_view::npos) {
    *end++ = '.';
    *end++ = '0';
  }
  Add(kNumber, std::string_view(buf, static_cast<size_t>(end - buf)));
}

std::string RowTable::Json() const {
  const size_t n = columns_.size();
  std::vector<std::string> keys(n);  // `"name":`, escaped once
  size_t key_bytes = 0;
  for (size_t c = 0; c < n; ++c) {
    AppendJsonString(keys[c], columns_[c]);
    keys[c] += ':';
    key_bytes += keys[c].size() + 1;
  }
  std::string out;
  out.reserve(arena_.size() + rows() * (key_bytes + 4) + cells_.size() * 2 + 2);
  out += '[';
  for (size_t i = 0; i < cells_.size(); ++i) {
    const size_t c = i % n;
    if (c == 0) out += i == 0 ? "{" : "},{";
    if (c > 0) out += ',';
    out += keys[c];
    const Cell& cell = cells_[i];
    if (cell.kind == kNull) {
      out += "null";
    } else if (cell.kind == kString) {
      AppendJsonString(out, Text(cell));
    } else {
      out += Text(cell);
    }
  }
  if (!cells_.empty()) out += '}';
  out += ']';
  return out;
}

std::string RowTable::Csv() const {
  CsvWriter csv(columns_);
  const size_t n = columns_.size();
  std::vector<std::string> fields(n);
  for (size_t i = 0; i < cells_.size(); ++i) {
    fields[i % n] = std::string(Text(cells_[i]));
    if (i % n == n - 1) csv.AddFields(fields);
  }
  return csv.Take();
}

}  // namespace rest
