// Update-level operations that need no document: decode, merge, diff.
// These are what the fuzz target and the `ydoc merge/diff/sv` commands use.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "vaultd/common/status.h"

namespace vaultd::crdt {

using StateVectorMap = std::map<uint64_t, uint64_t>;

// Checks that `update` is a well-formed v1 update (every struct and content
// decodes, the delete set is complete, no trailing garbage is required).
Status ValidateUpdate(std::span<const uint8_t> update);
// A human-readable dump of the structs and delete set (debugging, `decode` op).
Result<std::string> DumpUpdateJson(std::span<const uint8_t> update);

// Y.mergeUpdates: one update holding everything in `updates`.
Result<std::vector<uint8_t>> MergeUpdates(const std::vector<std::vector<uint8_t>>& updates);
// Y.diffUpdate: the parts of `update` the state vector `sv` lacks.
Result<std::vector<uint8_t>> DiffUpdate(std::span<const uint8_t> update,
                                        std::span<const uint8_t> sv);
// Y.encodeStateVectorFromUpdate.
Result<std::vector<uint8_t>> StateVectorFromUpdate(std::span<const uint8_t> update);

Result<StateVectorMap> DecodeStateVector(std::span<const uint8_t> sv);
std::vector<uint8_t> EncodeStateVector(const StateVectorMap& sv);

}  // namespace vaultd::crdt
