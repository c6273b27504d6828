#include "rest/json_body.h"

#include <charconv>
#include <cmath>

#include "core/text.h"

namespace rest {
namespace {

using nlohmann::json;

core::Unexpected<core::Error> Invalid(std::string message, const std::string& param) {
  return core::Fail(core::ErrorCode::kInvalidRequest, std::move(message), param);
}

std::string TypeName(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

}  // namespace

core::Result<JsonBody> JsonBody::Parse(std::string_view body,
                                       const std::vector<std::string>& allowed) {
  JsonBody out;
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    out.doc_ = json::object();
    return out;
  }
  if (!core::IsValidUtf8(body)) {
    return Invalid("request body is not valid UTF-8", "body");
  }
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return Invalid("request body is not valid JSON", "body");
  }
  if (!doc.is_object()) {
    return Invalid("request body must be a JSON object, got " + TypeName(doc), "body");
  }
  for (const auto& [key, value] : doc.items()) {
    if (key == "idempotency_key") continue;
    bool known = false;
    for (const std::string& a : allowed) known = known || a == key;
    if (!known) {
      std::string list;
      for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return Invalid("unknown field '" + key + "' (allowed: " + list + ")", key);
    }
  }
  if (doc.contains("idempotency_key") && !doc["idempotency_key"].is_null()) {
    const json& k = doc["idempotency_key"];
    if (!k.is_string() || k.get_ref<const std::string&>().empty() ||
        k.get_ref<const std::string&>().size() > 255) {
      return Invalid("idempotency_key must be a string of 1..255 characters", "idempotency_key");
    }
    out.idempotency_key_ = k.get<std::string>();
  }
  out.doc_ = std::move(doc);
  return out;
}

core::Result<std::optional<std::string>> JsonBody::String(const std::string& name,
                                                          size_t min_len, size_t max_len) const {
  if (!Has(name) || doc_[name].is_null()) return std::optional<std::string>();
  const json& v = doc_[name];
  if (!v.is_string()) return Invalid(name + " must be a string, got " + TypeName(v), name);
  const std::string& s = v.get_ref<const std::string&>();
  if (s.size() < min_len || s.size() > max_len) {
    return Invalid(name + " must be " + std::to_string(min_len) + ".." + std::to_string(max_len) +
                       " bytes long (got " + std::to_string(s.size()) + ")",
                   name);
  }
  if (s.find('\0') != std::string::npos) return Invalid(name + " must not contain NUL", name);
  return std::optional<std::string>(s);
}

core::Result<std::optional<int64_t>> JsonBody::Int(const std::string& name, int64_t min,
                                                   int64_t max) const {
  if (!Has(name) || doc_[name].is_null()) return std::optional<int64_t>();
  const json& v = doc_[name];
  std::optional<int64_t> value;
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      value = INT64_MAX;
    } else {
      value = v.get<int64_t>();
    }
  } else if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e18) value = static_cast<int64_t>(d);
  }
  if (!value) return Invalid(name + " must be an integer, got " + TypeName(v), name);
  if (*value < min || *value > max) {
    return Invalid(name + " must be between " + std::to_string(min) + " and " +
                       std::to_string(max) + " (got " + v.dump() + ")",
                   name);
  }
  return value;
}

core::Result<std::optional<double>> JsonBody::Number(const std::string& name, double min,
                                                     double max) const {
  if (!Has(name) || doc_[name].is_null()) return std::optional<double>();
  const json& v = doc_[name];
  if (!v.is_number()) return Invalid(name + " must be a number, got " + TypeName(v), name);
  double d = v.get<double>();
  if (!std::isfinite(d) || d < min || d > max) {
    return Invalid(name + " must be between " + json(min).dump() + " and " + json(max).dump() +
                       " (got " + v.dump() + ")",
                   name);
  }
  return std::optional<double>(d);
}

core::Result<std::optional<bool>> JsonBody::Bool(const std::string& name) const {
  if (!Has(name) || doc_[name].is_null()) return std::optional<bool>();
  const json& v = doc_[name];
  if (!v.is_boolean()) return Invalid(name + " must be true or false, got " + TypeName(v), name);
  return std::optional<bool>(v.get<bool>());
}

core::Result<std::optional<std::vector<std::string>>> JsonBody::StringList(
    const std::string& name, size_t max_items) const {
  if (!Has(name) || doc_[name].is_null()) return std::optional<std::vector<std::string>>();
  const json& v = doc_[name];
  if (!v.is_array()) return Invalid(name + " must be an array of strings, got " + TypeName(v), name);
  if (v.size() > max_items) {
    return Invalid(name + " has more than " + std::to_string(max_items) + " items", name);
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string()) {
      const std::string path = name + "[" + std::to_string(i) + "]";
      return Invalid(path + " must be a string, got " + TypeName(v[i]), path);
    }
    out.push_back(v[i].get<std::string>());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

core::Result<std::optional<json>> JsonBody::Object(const std::string& name) const {
  if (!Has(name) || doc_[name].is_null()) return std::optional<json>();
  const json& v = doc_[name];
  if (!v.is_object()) return Invalid(name + " must be a JSON object, got " + TypeName(v), name);
  return std::optional<json>(v);
}

core::Result<int> QueryLimit(const core::HttpRequest& req, int default_limit, int max_limit) {
  std::optional<std::string> text = req.QueryParam("limit");
  if (!text) return default_limit;
  int value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value < 1 || value > max_limit) {
    return core::Fail(core::ErrorCode::kInvalidRequest,
                      "limit must be an integer between 1 and " + std::to_string(max_limit) +
                          " (got '" + *text + "')",
                      "limit");
  }
  return value;
}

std::string DumpJson(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace rest
