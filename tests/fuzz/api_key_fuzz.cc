// libFuzzer target for API key parsing and credential extraction: any bytes, as
// a key or as an Authorization header, give a clean answer; error messages
// never depend on (so never echo) the input; credentials survive Bearer and
// Basic wrapping unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "core/http.h"
#include "rest/api_key.h"

namespace {

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  while (out.size() % 4 != 0) out.push_back('=');
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<std::string> Extract(std::string header) {
  core::HttpRequest req;
  req.headers.emplace_back("authorization", std::move(header));
  return rest::ExtractCredential(req);
}

void CheckParse(std::string_view key) {
  static std::set<std::string>* messages = new std::set<std::string>();
  auto parsed = rest::ParseApiKey(key);
  if (parsed) {
    if (key.size() != rest::kApiKeyLength || !key.starts_with("tly_")) std::abort();
    if (parsed->prefix.data() != key.data() + 4 || parsed->prefix.size() != 8) std::abort();
    return;
  }
  if (parsed.error().code != core::ErrorCode::kUnauthorized) std::abort();
  messages->insert(parsed.error().message);
  if (messages->size() > 3) std::abort();  // a message that varies with the input
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  CheckParse(input);

  // The input as a whole header.
  if (auto credential = Extract(input)) CheckParse(*credential);

  // Wrapped as Bearer and as Basic, the credential comes back unchanged.
  const std::string_view trimmed = Trim(input);
  auto bearer = Extract("Bearer " + input);
  if (!bearer || *bearer != trimmed) std::abort();
  auto basic = Extract("Basic " + Base64("user:" + input));
  if (!basic || *basic != input) std::abort();
  return 0;
}
