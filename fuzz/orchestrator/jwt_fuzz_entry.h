// The body of fuzz_jwt, shared with the corpus replay test of the normal build.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vaultd::orchestrator {
// The first byte picks what the rest is fed to:
//   'T' (and anything unknown): a token, verified against fixed RSA/EC/HMAC keys at a fixed time
//   'S': "header\npayload" JSON, signed here with the HMAC key, so claim checks are reachable
//   'J': a JWKS document      'P': a PEM file      'A': an AUTH.yaml
// Aborts when an invariant does not hold (e.g. base64url decoding not being canonical).
void FuzzJwtOne(const uint8_t* data, size_t size);
}  // namespace vaultd::orchestrator
