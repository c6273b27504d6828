// Small text utilities shared by parsers and validators.
#pragma once

#include <string_view>

namespace core {

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or values > U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Length of the longest prefix of `s` made of whole, valid UTF-8 sequences.
size_t Utf8ValidPrefixLength(std::string_view s);

// Shell-style glob: `*` matches any run of characters, `?` one character.
bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace core
