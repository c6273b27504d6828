# Writes OUTPUT, a C++ file holding the bytes of INPUT (config/prices.yaml):
# the price table compiled into tally (config/embedded_prices.h). Run at build
# time by config/CMakeLists.txt; the file is only rewritten when it changes.
file(READ "${INPUT}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# 16 bytes ("0xNN," each) per line.
string(REPEAT "." 80 line)
string(REGEX REPLACE "(${line})" "\\1\n    " bytes "${bytes}")
set(text "// Generated from config/prices.yaml by config/embed_prices.cmake. Do not edit.
#include \"config/embedded_prices.h\"

namespace config {
namespace {
// The file's bytes and a terminating 0 (so an empty file compiles).
constexpr unsigned char kPricesYaml[] = {
    ${bytes}0x00};
}  // namespace

std::string_view EmbeddedPricesYaml() {
  return {reinterpret_cast<const char*>(kPricesYaml), sizeof(kPricesYaml) - 1};
}

}  // namespace config
")
file(WRITE "${OUTPUT}.tmp" "${text}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
