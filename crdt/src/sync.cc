#include "vaultd/crdt/sync.h"

#include <algorithm>

#include "vaultd/crdt/encoding.h"
#include "vaultd/crdt/update.h"

namespace vaultd::crdt {

Bytes EncodeSyncMessage(const SyncMessage& m) {
  Encoder enc;
  enc.WriteVarUint(static_cast<uint8_t>(m.type));
  enc.WriteVarBytes(m.payload);
  return enc.Take();
}

namespace {
Result<SyncMessage> ReadSyncMessage(Decoder& dec) {
  VAULTD_ASSIGN_OR_RETURN(uint64_t type, dec.ReadVarUint());
  if (type > 2) return Status::Corruption("unknown sync message type " + std::to_string(type));
  VAULTD_ASSIGN_OR_RETURN(auto payload, dec.ReadVarBytes());
  return SyncMessage{static_cast<SyncMessageType>(type), Bytes(payload.begin(), payload.end())};
}
}  // namespace

Result<SyncMessage> DecodeSyncMessage(std::span<const uint8_t> data) {
  Decoder dec(data);
  return ReadSyncMessage(dec);
}

Bytes EncodeSyncFrame(const SyncMessage& m) {
  Encoder enc;
  enc.WriteVarUint(static_cast<uint8_t>(FrameKind::kSync));
  Bytes body = EncodeSyncMessage(m);
  enc.WriteBytes(body);
  return enc.Take();
}

Bytes EncodeAwarenessFrame(std::span<const uint8_t> awareness_update) {
  Encoder enc;
  enc.WriteVarUint(static_cast<uint8_t>(FrameKind::kAwareness));
  enc.WriteVarBytes(awareness_update);
  return enc.Take();
}

Bytes EncodeQueryAwarenessFrame() { return {static_cast<uint8_t>(FrameKind::kQueryAwareness)}; }

Bytes EncodeAwarenessUpdate(const AwarenessUpdate& u) {
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
      return Status::Corruption("awareness state of client " + std::to_string(client) + " is not JSON");
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

Bytes Awareness::EncodeUpdate(const std::vector<uint64_t>& clients) const {
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

std::vector<Bytes> SyncSession::Start() {
  std::vector<Bytes> out;
  out.push_back(EncodeSyncFrame({SyncMessageType::kStep1, doc_.EncodeStateVector()}));
  if (awareness_ && awareness_->states().count(awareness_->client_id()))
    out.push_back(EncodeAwarenessFrame(awareness_->EncodeLocal()));
  return out;
}

Bytes SyncSession::UpdateFrame(std::span<const uint8_t> update) {
  return EncodeSyncFrame({SyncMessageType::kUpdate, Bytes(update.begin(), update.end())});
}

Result<std::vector<Bytes>> SyncSession::Receive(std::span<const uint8_t> frame, int64_t now_ms) {
  Decoder dec(frame);
  std::vector<Bytes> out;
  auto kind = dec.ReadVarUint();
  if (!kind.ok()) return Status::Corruption("empty frame");
  switch (*kind) {
    case 0: {
      VAULTD_ASSIGN_OR_RETURN(SyncMessage m, ReadSyncMessage(dec));
      switch (m.type) {
        case SyncMessageType::kStep1: {
          VAULTD_ASSIGN_OR_RETURN(auto update, doc_.EncodeStateAsUpdate(m.payload));
          out.push_back(EncodeSyncFrame({SyncMessageType::kStep2, std::move(update)}));
          break;
        }
        case SyncMessageType::kStep2:
          VAULTD_RETURN_IF_ERROR(doc_.ApplyUpdate(m.payload, "sync"));
          synced_ = true;
          ++updates_received_;
          break;
        case SyncMessageType::kUpdate:
          VAULTD_RETURN_IF_ERROR(doc_.ApplyUpdate(m.payload, "sync"));
          ++updates_received_;
          break;
      }
      return out;
    }
    case 1: {
      VAULTD_ASSIGN_OR_RETURN(auto payload, dec.ReadVarBytes());
      if (awareness_) {
        VAULTD_ASSIGN_OR_RETURN(auto changed, awareness_->Apply(payload, now_ms));
        (void)changed;
      } else {
        VAULTD_ASSIGN_OR_RETURN(auto u, DecodeAwarenessUpdate(payload));
        (void)u;
      }
      return out;
    }
    case 2: {
      // y-protocols/auth: 0 = permission denied + reason.
      VAULTD_ASSIGN_OR_RETURN(uint64_t type, dec.ReadVarUint());
      if (type == 0) {
        VAULTD_ASSIGN_OR_RETURN(std::string reason, dec.ReadVarString());
        denied_ = reason;
      }
      return out;
    }
    case 3:
      if (awareness_) out.push_back(EncodeAwarenessFrame(awareness_->EncodeUpdate(awareness_->Clients())));
      return out;
    default:
      return Status::Corruption("unknown frame kind " + std::to_string(*kind));
  }
}

}  // namespace vaultd::crdt
