// CsvWriter: builds a text/csv body (RFC 4180: CRLF line ends, fields quoted
// when they hold a comma, quote, CR or LF, quotes doubled) with a header row.
// Used by every route that answers format=csv; the columns are those of the
// route's JSON objects. Not thread-safe (one per response).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace rest {

class CsvWriter {
 public:
  explicit CsvWriter(std::vector<std::string> columns);

  // One row of JSON objects: each column's value (strings as is, numbers in
  // JSON's shortest round-trip form, true/false, null and missing as empty,
  // arrays/objects as compact JSON).
  void AddRow(const nlohmann::json& object);
  // One row of raw field texts (quoted as needed). REQUIRES: one per column.
  void AddFields(const std::vector<std::string>& fields);

  const std::string& body() const { return out_; }
  std::string Take() { return std::move(out_); }

  // The field as RFC 4180 writes it.
  static std::string Quote(std::string_view field);

 private:
  std::vector<std::string> columns_;
  std::string out_;
};

// The media type of CSV responses.
inline constexpr const char* kCsvContentType = "text/csv; charset=utf-8";

}  // namespace rest
