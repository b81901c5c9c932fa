// libFuzzer target: mountinfo parsing, compare and discovery; mount set validation.
#include "client_fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vaultd::orchestrator_client::FuzzClientOne(data, size);
  return 0;
}
