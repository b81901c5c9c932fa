// libFuzzer target: the orchestrator client's HTTP/1.1 response parsing (status line, headers,
// Content-Length, chunked decoding, size caps, EOF-terminated bodies) with fuzzed read splits.
#include "http_response_fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vaultd::orchestrator_client::FuzzHttpResponseOne(data, size);
  return 0;
}
