// libFuzzer target: arbitrary bytes as y-protocols sync/awareness messages and y-websocket frames.
#include "crdt_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vaultd::crdt::fuzz::FuzzSync(std::span<const uint8_t>(data, size));
  return 0;
}
