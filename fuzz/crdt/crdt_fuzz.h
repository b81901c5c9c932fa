// Entry points of the CRDT fuzz targets, shared by the libFuzzer binaries (fuzz/crdt/*_main.cc) and
// by the corpus regression test (tests/conformance/crdt/fuzz_corpus_test.cc), so `scripts/test`
// replays every committed corpus file through exactly what the fuzzer ran.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

// A broken invariant is a bug even when nothing crashed: stop so libFuzzer keeps the input.
#define FUZZ_CHECK(cond, what)                                                           \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "crdt fuzz invariant failed: %s (%s:%d)\n", (what), __FILE__, \
                   __LINE__);                                                            \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace vaultd::crdt::fuzz {

// Arbitrary bytes as a v1 update: decode, apply (whole, and split in two parts applied in reverse
// order), re-encode, merge, diff, state vectors. Malformed input must give an error; a violated
// invariant (a re-encoded state that reads back as a different document) aborts.
void FuzzUpdate(std::span<const uint8_t> data);

// Arbitrary bytes as a y-protocols sync message, an awareness update, and a stream of y-websocket
// frames (each prefixed by one length byte) fed to a SyncSession.
void FuzzSync(std::span<const uint8_t> data);

// Arbitrary bytes as JSON text: ValidateJsonText agrees with ParseJsonText, the ydoc transport
// accepts nothing plain JSON refuses, and ToJsonText of a parsed value parses back to it.
void FuzzJson(std::span<const uint8_t> data);

}  // namespace vaultd::crdt::fuzz
