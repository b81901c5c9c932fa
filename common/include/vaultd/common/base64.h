// Base64 (RFC 4648 §4, padded) and base64url (§5, unpadded), both strict: a
// decoder accepts exactly what the encoder writes, so two different strings
// never decode to the same bytes (no stray or whitespace characters, no
// missing or extra padding, no non-zero trailing bits).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vaultd {

std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);

// As JWS and JWK use it: '-' and '_' instead of '+' and '/', never '='.
std::string Base64UrlEncode(std::string_view bytes);
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace vaultd
