#include "vaultd/crdt/awareness.h"

#include "vaultd/crdt/any.h"
#include "vaultd/crdt/encoding.h"

namespace vaultd::crdt {

std::vector<uint8_t> EncodeAwarenessUpdate(const AwarenessUpdate& u) {
  Encoder enc;
  enc.WriteVarUint(u.size());
  for (const auto& [client, e] : u) {
    enc.WriteVarUint(client);
    enc.WriteVarUint(e.clock);
    enc.WriteVarString(e.state_json);
  }
  return enc.Take();
}

Result<AwarenessUpdate> DecodeAwarenessUpdate(std::span<const uint8_t> data) {
  Decoder dec(data);
  AwarenessUpdate u;
  VAULTD_ASSIGN_OR_RETURN(uint64_t n, dec.ReadLength());
  for (uint64_t i = 0; i < n; ++i) {
    VAULTD_ASSIGN_OR_RETURN(uint64_t client, dec.ReadVarUint());
    VAULTD_ASSIGN_OR_RETURN(uint64_t clock, dec.ReadVarUint());
    VAULTD_ASSIGN_OR_RETURN(std::string state, dec.ReadVarString());
    // Only checked, kept as text: validation builds no value.
    if (state == "undefined" || !ValidateJsonText(state).ok())
      return Status::Corruption("awareness state of client " + std::to_string(client) +
                                " is not JSON");
    u[client] = {clock, std::move(state)};
  }
  return u;
}

void Awareness::SetLocalState(std::string state_json, int64_t now_ms) {
  auto& e = states_[client_id_];
  e.clock += 1;
  e.state_json = std::move(state_json);
  last_updated_[client_id_] = now_ms;
}

std::vector<uint8_t> Awareness::EncodeUpdate(const std::vector<uint64_t>& clients) const {
  AwarenessUpdate u;
  for (uint64_t c : clients) {
    auto it = states_.find(c);
    if (it != states_.end()) u[c] = it->second;
  }
  return EncodeAwarenessUpdate(u);
}

Result<std::vector<uint64_t>> Awareness::Apply(std::span<const uint8_t> update, int64_t now_ms) {
  VAULTD_ASSIGN_OR_RETURN(AwarenessUpdate u, DecodeAwarenessUpdate(update));
  std::vector<uint64_t> changed;
  for (auto& [client, e] : u) {
    auto it = states_.find(client);
    uint64_t cur = it == states_.end() ? 0 : it->second.clock;
    bool have_state = it != states_.end() && it->second.state_json != "null";
    // As y-protocols: a newer clock wins; an equal clock may only remove a state.
    if (cur < e.clock || (cur == e.clock && e.state_json == "null" && have_state)) {
      if (client == client_id_ && e.state_json == "null") {
        // Someone says we left; we are still here: bump our clock (y-protocols does the same).
        states_[client_id_].clock = e.clock + 1;
        continue;
      }
      bool differs = it == states_.end() || it->second.state_json != e.state_json;
      states_[client] = e;
      last_updated_[client] = now_ms;
      if (differs) changed.push_back(client);
    }
  }
  return changed;
}

std::vector<uint64_t> Awareness::Expire(int64_t now_ms, int64_t timeout_ms) {
  std::vector<uint64_t> removed;
  for (auto& [client, e] : states_) {
    if (client == client_id_ || e.state_json == "null") continue;
    if (now_ms - last_updated_[client] >= timeout_ms) {
      e.state_json = "null";
      removed.push_back(client);
    }
  }
  return removed;
}

std::vector<uint64_t> Awareness::Clients() const {
  std::vector<uint64_t> out;
  for (const auto& [c, e] : states_)
    if (e.state_json != "null") out.push_back(c);
  return out;
}

}  // namespace vaultd::crdt
