#include "vaultd/crdt/sync_protocol.h"

namespace vaultd::crdt {

void WriteSyncMessage(Encoder& enc, const SyncMessage& m) {
  enc.WriteVarUint(static_cast<uint8_t>(m.type));
  enc.WriteVarBytes(m.payload);
}

Bytes EncodeSyncMessage(const SyncMessage& m) {
  Encoder enc;
  WriteSyncMessage(enc, m);
  return enc.Take();
}

Result<SyncMessage> ReadSyncMessage(Decoder& dec) {
  VAULTD_ASSIGN_OR_RETURN(uint64_t type, dec.ReadVarUint());
  if (type > static_cast<uint8_t>(SyncMessageType::kUpdate))
    return Status::Corruption("unknown sync message type " + std::to_string(type));
  VAULTD_ASSIGN_OR_RETURN(auto payload, dec.ReadVarBytes());
  return SyncMessage{static_cast<SyncMessageType>(type), Bytes(payload.begin(), payload.end())};
}

Result<SyncMessage> DecodeSyncMessage(std::span<const uint8_t> data) {
  Decoder dec(data);
  return ReadSyncMessage(dec);
}

SyncMessage SyncProtocol::Start() const {
  return {SyncMessageType::kStep1, doc_.EncodeStateVector()};
}

Result<std::vector<SyncMessage>> SyncProtocol::Handle(const SyncMessage& m) {
  std::vector<SyncMessage> out;
  switch (m.type) {
    case SyncMessageType::kStep1: {
      // Checked even when read-only, so a bad state vector is reported alike.
      VAULTD_ASSIGN_OR_RETURN(auto update, doc_.EncodeStateAsUpdate(m.payload));
      if (!options_.read_only) out.push_back({SyncMessageType::kStep2, std::move(update)});
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

std::optional<SyncMessage> SyncProtocol::LocalUpdate(std::span<const uint8_t> update) const {
  if (options_.read_only) return std::nullopt;
  return SyncMessage{SyncMessageType::kUpdate, Bytes(update.begin(), update.end())};
}

std::optional<Bytes> SyncProtocol::StartAwareness() const {
  if (!awareness_ || !awareness_->has_local_state()) return std::nullopt;
  return awareness_->EncodeLocal();
}

Status SyncProtocol::HandleAwareness(std::span<const uint8_t> update, int64_t now_ms) {
  if (awareness_) return awareness_->Apply(update, now_ms).status();
  return DecodeAwarenessUpdate(update).status();
}

std::optional<Bytes> SyncProtocol::AnswerAwarenessQuery() const {
  if (!awareness_) return std::nullopt;
  return awareness_->EncodeUpdate(awareness_->Clients());
}

}  // namespace vaultd::crdt
