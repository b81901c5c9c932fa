// libFuzzer target: arbitrary bytes as a Yjs v1 update (see crdt_fuzz.h).
#include "crdt_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vaultd::crdt::fuzz::FuzzUpdate(std::span<const uint8_t>(data, size));
  return 0;
}
