// The body of fuzz_http_request, shared with the corpus replay test of the normal build.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vaultd::orchestrator::service {
// Input: byte 0 picks the head limit (16 + 32 * n bytes; 255: the server's default),
// byte 1: k = byte % 8 split lengths follow (n + 1 bytes each; k = 0: one byte per read).
// The rest is what a client sends. It is parsed whole and as the server receives it, in
// those reads (re-parsing the growing buffer); aborts when an invariant does not hold.
void FuzzHttpRequestOne(const uint8_t* data, size_t size);
}  // namespace vaultd::orchestrator::service
