// libFuzzer target: the service's HTTP/1.1 request-head parsing (request line, header fields,
// Content-Length/Transfer-Encoding framing, limits) with fuzzed read splits.
#include "http_request_fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vaultd::orchestrator::service::FuzzHttpRequestOne(data, size);
  return 0;
}
