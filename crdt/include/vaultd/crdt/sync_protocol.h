// The y-protocols sync state machine for one document, apart from any
// framing: it speaks SyncMessages (SyncStep1, SyncStep2, Update) and awareness
// updates, and a framing (y-websocket in sync.h; one that names the document
// on every message would wrap it the same way) puts them on the wire.
//
//   SyncProtocol p(doc, &awareness);
//   send(p.Start());                          // SyncStep1
//   on sync message m: for (auto& r : *p.Handle(m)) send(r)
//   on local update u: if (auto m = p.LocalUpdate(u)) send(*m)
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "vaultd/common/status.h"
#include "vaultd/crdt/awareness.h"
#include "vaultd/crdt/doc.h"
#include "vaultd/crdt/encoding.h"

namespace vaultd::crdt {

using Bytes = std::vector<uint8_t>;

enum class SyncMessageType : uint8_t { kStep1 = 0, kStep2 = 1, kUpdate = 2 };

struct SyncMessage {
  SyncMessageType type;
  Bytes payload;  // state vector (Step1) or update (Step2, Update)
};

// One sync message: varUint(type) + varUint8Array(payload).
Bytes EncodeSyncMessage(const SyncMessage& m);
void WriteSyncMessage(Encoder& enc, const SyncMessage& m);
Result<SyncMessage> DecodeSyncMessage(std::span<const uint8_t> data);
Result<SyncMessage> ReadSyncMessage(Decoder& dec);

struct SyncOptions {
  // Sends no document content: answers a peer's SyncStep1 with nothing and
  // gives no message for local updates; SyncStep1 is all it sends. What the
  // peer sends is still applied. Awareness is not affected.
  bool read_only = false;
};

class SyncProtocol {
 public:
  explicit SyncProtocol(Doc& doc, Awareness* awareness = nullptr, SyncOptions options = {})
      : doc_(doc), awareness_(awareness), options_(options) {}

  // The message that opens the exchange: SyncStep1 with our state vector.
  SyncMessage Start() const;
  // Handles one received sync message; returns the replies. A malformed
  // update is an error and changes nothing.
  Result<std::vector<SyncMessage>> Handle(const SyncMessage& m);
  // The message that carries a local update; none when read-only.
  std::optional<SyncMessage> LocalUpdate(std::span<const uint8_t> update) const;

  // Our awareness state to announce when the connection opens, if we set one.
  std::optional<Bytes> StartAwareness() const;
  // Applies a received awareness update (only checked without an Awareness).
  Status HandleAwareness(std::span<const uint8_t> update, int64_t now_ms);
  // The answer to a peer's query for every known state; none without an Awareness.
  std::optional<Bytes> AnswerAwarenessQuery() const;

  // True once the peer's SyncStep2 arrived: we have everything it had.
  bool synced() const { return synced_; }
  bool read_only() const { return options_.read_only; }
  uint64_t updates_received() const { return updates_received_; }

 private:
  Doc& doc_;
  Awareness* awareness_;
  SyncOptions options_;
  bool synced_ = false;
  uint64_t updates_received_ = 0;
};

}  // namespace vaultd::crdt
