// y-protocols awareness: per client a clock and a JSON state (null = the
// client left), the update that carries them, and the table one peer keeps.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "vaultd/common/status.h"

namespace vaultd::crdt {

struct AwarenessEntry {
  uint64_t clock = 0;
  std::string state_json = "null";
};
using AwarenessUpdate = std::map<uint64_t, AwarenessEntry>;
std::vector<uint8_t> EncodeAwarenessUpdate(const AwarenessUpdate& u);
Result<AwarenessUpdate> DecodeAwarenessUpdate(std::span<const uint8_t> data);

class Awareness {
 public:
  explicit Awareness(uint64_t client_id) : client_id_(client_id) {}
  uint64_t client_id() const { return client_id_; }
  // Sets our own state (JSON text; "null" to leave); `now_ms` is kept for timeouts.
  void SetLocalState(std::string state_json, int64_t now_ms);
  bool has_local_state() const { return states_.count(client_id_) > 0; }
  // The update to send for the given clients (default: just us).
  std::vector<uint8_t> EncodeUpdate(const std::vector<uint64_t>& clients) const;
  std::vector<uint8_t> EncodeLocal() const { return EncodeUpdate({client_id_}); }
  // Applies a received update; returns the clients whose state changed.
  Result<std::vector<uint64_t>> Apply(std::span<const uint8_t> update, int64_t now_ms);
  // Removes remote clients not heard of for `timeout_ms` (y-protocols: 30 s).
  std::vector<uint64_t> Expire(int64_t now_ms, int64_t timeout_ms = 30000);
  const std::map<uint64_t, AwarenessEntry>& states() const { return states_; }
  std::vector<uint64_t> Clients() const;

 private:
  uint64_t client_id_;
  std::map<uint64_t, AwarenessEntry> states_;  // includes null states until expired
  std::map<uint64_t, int64_t> last_updated_;
};

}  // namespace vaultd::crdt
