// libFuzzer target: arbitrary bytes as JSON text (ContentJSON, embeds, formats, awareness states,
// the ydoc value transport).
#include "crdt_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vaultd::crdt::fuzz::FuzzJson(std::span<const uint8_t>(data, size));
  return 0;
}
