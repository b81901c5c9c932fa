#include "vaultd/crdt/sync.h"

#include "vaultd/crdt/encoding.h"

namespace vaultd::crdt {

namespace {
void WriteFrameKind(Encoder& enc, FrameKind kind) { enc.WriteVarUint(static_cast<uint8_t>(kind)); }

std::optional<FrameKind> ToFrameKind(uint64_t v) {
  switch (v) {
    case static_cast<uint8_t>(FrameKind::kSync):
      return FrameKind::kSync;
    case static_cast<uint8_t>(FrameKind::kAwareness):
      return FrameKind::kAwareness;
    case static_cast<uint8_t>(FrameKind::kAuth):
      return FrameKind::kAuth;
    case static_cast<uint8_t>(FrameKind::kQueryAwareness):
      return FrameKind::kQueryAwareness;
    default:
      return std::nullopt;
  }
}
}  // namespace

Bytes EncodeSyncFrame(const SyncMessage& m) {
  Encoder enc;
  WriteFrameKind(enc, FrameKind::kSync);
  WriteSyncMessage(enc, m);
  return enc.Take();
}

Bytes EncodeAwarenessFrame(std::span<const uint8_t> awareness_update) {
  Encoder enc;
  WriteFrameKind(enc, FrameKind::kAwareness);
  enc.WriteVarBytes(awareness_update);
  return enc.Take();
}

Bytes EncodeQueryAwarenessFrame() {
  Encoder enc;
  WriteFrameKind(enc, FrameKind::kQueryAwareness);
  return enc.Take();
}

Bytes EncodePermissionDeniedFrame(std::string_view reason) {
  Encoder enc;
  WriteFrameKind(enc, FrameKind::kAuth);
  enc.WriteVarUint(static_cast<uint8_t>(AuthMessageType::kPermissionDenied));
  enc.WriteVarString(reason);
  return enc.Take();
}

std::vector<Bytes> SyncSession::Start() {
  std::vector<Bytes> out;
  out.push_back(EncodeSyncFrame(protocol_.Start()));
  if (auto local = protocol_.StartAwareness()) out.push_back(EncodeAwarenessFrame(*local));
  return out;
}

Bytes SyncSession::UpdateFrame(std::span<const uint8_t> update) {
  return EncodeSyncFrame({SyncMessageType::kUpdate, Bytes(update.begin(), update.end())});
}

std::vector<Bytes> SyncSession::LocalUpdateFrames(std::span<const uint8_t> update) const {
  std::vector<Bytes> out;
  if (auto m = protocol_.LocalUpdate(update)) out.push_back(EncodeSyncFrame(*m));
  return out;
}

Result<std::vector<Bytes>> SyncSession::Receive(std::span<const uint8_t> frame, int64_t now_ms) {
  Decoder dec(frame);
  std::vector<Bytes> out;
  auto value = dec.ReadVarUint();
  if (!value.ok()) return Status::Corruption("empty frame");
  auto kind = ToFrameKind(*value);
  if (!kind) return Status::Corruption("unknown frame kind " + std::to_string(*value));
  switch (*kind) {
    case FrameKind::kSync: {
      VAULTD_ASSIGN_OR_RETURN(SyncMessage m, ReadSyncMessage(dec));
      VAULTD_ASSIGN_OR_RETURN(auto replies, protocol_.Handle(m));
      for (const SyncMessage& r : replies) out.push_back(EncodeSyncFrame(r));
      break;
    }
    case FrameKind::kAwareness: {
      VAULTD_ASSIGN_OR_RETURN(auto payload, dec.ReadVarBytes());
      VAULTD_RETURN_IF_ERROR(protocol_.HandleAwareness(payload, now_ms));
      break;
    }
    case FrameKind::kAuth: {
      VAULTD_ASSIGN_OR_RETURN(uint64_t type, dec.ReadVarUint());
      if (type == static_cast<uint8_t>(AuthMessageType::kPermissionDenied)) {
        VAULTD_ASSIGN_OR_RETURN(std::string reason, dec.ReadVarString());
        denied_ = std::move(reason);
      }
      break;
    }
    case FrameKind::kQueryAwareness:
      if (auto all = protocol_.AnswerAwarenessQuery()) out.push_back(EncodeAwarenessFrame(*all));
      break;
  }
  return out;
}

}  // namespace vaultd::crdt
