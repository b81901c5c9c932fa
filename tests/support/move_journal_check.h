// Test-only seam of libvaultd_move's journal format (defined in
// tests/support/move_journal_check.cc, the one place outside shim/ that reads
// shim/src/journal.h): the invariants of what recovery trusts, checked on any
// bytes, for the fuzz target fuzz_move_journal and its corpus replay test.
// Format: docs/move-journal.md.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vaultd::move::internal {
// First byte 'E': the rest is an entries file (ParseEntries); 'F': the same with its checksum
// made right first; 'S': a record file (ParseRecord) with its checksums made right first;
// anything else: the rest is a record file. Whatever parses must describe a move recovery may
// act on (absolute paths, the temp name beside the destination, safe relative entry paths) and
// must survive a format-then-parse round trip unchanged; whatever is salvaged from a damaged
// record must be as safe. nullptr when that holds, else the invariant that broke.
const char* CheckJournalInvariants(const uint8_t* data, size_t size);
}  // namespace vaultd::move::internal
