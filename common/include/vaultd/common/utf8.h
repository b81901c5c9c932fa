// UTF-8 validation (RFC 3629): shortest form only, no surrogates, nothing above U+10FFFF.
#pragma once

#include <string_view>

namespace vaultd {

bool IsValidUtf8(std::string_view text);

}  // namespace vaultd
