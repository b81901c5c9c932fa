// Test-only seam of libvaultd_move (defined in shim/src/crash_seam.cc): a
// function the move and recovery call at every fault-injection step, after
// the VAULTD_MOVE_CRASH_AT check, so an in-process test can act at a chosen
// step (change the source at "copied", ...). Step names: docs/move-journal.md.
// Never set by vaultd or in the preloaded library.
#pragma once

namespace vaultd::move::internal {
using StepHook = void (*)(const char* name, void* ctx);
void SetStepHookForTesting(StepHook hook, void* ctx);
}  // namespace vaultd::move::internal
