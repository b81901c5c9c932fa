// The body of fuzz_http_response, shared with the corpus replay test of the normal build.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vaultd::orchestrator_client {
// Input: byte 0 picks the body cap (255: HttpFetch's default of 8 MiB, else 0..254 bytes);
// byte 1: bit 7 set = the request was HEAD, low 7 bits pick the header cap (127: HttpFetch's
// cap for that body cap, else 4 + 8 * n bytes); byte 2: k = byte % 8 split bytes follow,
// used in turn as the lengths of the reads (n + 1 bytes; 255: all the rest; k = 0: one byte
// per read). The rest is the response as the server sends it, then EOF.
// The response is parsed whole and in those reads; aborts when an invariant does not hold.
void FuzzHttpResponseOne(const uint8_t* data, size_t size);
}  // namespace vaultd::orchestrator_client
