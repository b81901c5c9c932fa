// libFuzzer target: the vault-permissions.yaml loader, validator and evaluator.
#include "policy_loader_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vaultd::orchestrator::FuzzPolicyLoaderOne(data, size);
  return 0;
}
