// libFuzzer target: JWT parsing and verification, JWKS/PEM key loading, AUTH.yaml.
#include "jwt_fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vaultd::orchestrator::FuzzJwtOne(data, size);
  return 0;
}
