#include "rest/csv_writer.h"

#include <nlohmann/json.hpp>

namespace rest {

CsvWriter::CsvWriter(std::vector<std::string> columns) : columns_(std::move(columns)) {
  AddFields(columns_);
}

std::string CsvWriter::Quote(std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(field);
  std::string q = "\"";
  for (char c : field) {
    if (c == '"') q += '"';
    q += c;
  }
  q += '"';
  return q;
}

void CsvWriter::AddFields(const std::vector<std::string>& fields) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out_ += ',';
    out_ += Quote(fields[i]);
  }
  out_ += "\r\n";
}

void CsvWriter::AddRow(const nlohmann::json& object) {
  std::vector<std::string> fields;
  fields.reserve(columns_.size());
  for (const std::string& c : columns_) {
    auto it = object.find(c);
    if (it == object.end() || it->is_null()) {
      fields.emplace_back();
    } else if (it->is_string()) {
      fields.push_back(it->get<std::string>());
    } else {
      fields.push_back(it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
  }
  AddFields(fields);
}

}  // namespace rest
