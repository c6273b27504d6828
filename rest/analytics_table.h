// RowTable: rows with fixed columns rendered straight to a JSON array of
// objects or to CSV (RFC 4180, like rest/csv_writer.h) without building a JSON
// document first. Used where a result can have tens of thousands of rows
// (/v1/analytics/costs?group_by=entity). Not thread-safe (one per response).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rest {

class RowTable {
 public:
  explicit RowTable(std::vector<std::string> columns) : columns_(std::move(columns)) {}

  // Cells in column order; a row is complete after columns().size() cells.
  void Str(std::string_view s) { Add(kString, s); }
  void Null() { Add(kNull, {}); }
  void Int(int64_t v);
  void Uint(uint64_t v);
  void Double(double v);
  // Room for `rows` more rows.
  void Reserve(size_t rows) {
    cells_.reserve(cells_.size() + rows * columns_.size());
    arena_.reserve(arena_.size() + rows * columns_.size() * 10);
  }

  const std::vector<std::string>& columns() const { return columns_; }
  size_t rows() const { return columns_.empty() ? 0 : cells_.size() / columns_.size(); }

  // [{"col":value,...},...] (strings escaped as JSON requires).
  std::string Json() const;
  // Header row then one line per row; null is an empty field.
  std::string Csv() const;

 private:
  enum Kind : uint8_t { kNull, kString, kNumber };
  // Cell texts live in one arena (no allocation per cell).
  struct Cell {
    Kind kind;
    uint32_t len;
    size_t begin;
  };
  void Add(Kind kind, std::string_view text) {
    cells_.push_back({kind, static_cast<uint32_t>(text.size()), arena_.size()});
    arena_.append(text);
  }
  std::string_view Text(const Cell& c) const { return std::string_view(arena_).substr(c.begin, c.len); }

  std::vector<std::string> columns_;
  std::vector<Cell> cells_;
  std::string arena_;
};

// Appends `s` as a JSON string literal (quotes, backslashes and control
// characters escaped).
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace rest
