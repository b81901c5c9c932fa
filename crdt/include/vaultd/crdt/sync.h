// y-protocols: the sync messages (SyncStep1, SyncStep2, Update), awareness
// updates, and the y-websocket framing, plus a transport-free SyncSession.
//
// A y-websocket frame is varUint(kind) + payload; kind 0 carries a sync
// message, 1 an awareness update (varUint8Array), 2 auth, 3 a request for
// everyone's awareness. A sync message is varUint(type) + varUint8Array.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vaultd/common/status.h"
#include "vaultd/crdt/doc.h"

namespace vaultd::crdt {

using Bytes = std::vector<uint8_t>;

enum class SyncMessageType : uint8_t { kStep1 = 0, kStep2 = 1, kUpdate = 2 };
enum class FrameKind : uint8_t { kSync = 0, kAwareness = 1, kAuth = 2, kQueryAwareness = 3 };

struct SyncMessage {
  SyncMessageType type;
  Bytes payload;  // state vector (Step1) or update (Step2, Update)
};

// One sync message (without the frame kind).
Bytes EncodeSyncMessage(const SyncMessage& m);
Result<SyncMessage> DecodeSyncMessage(std::span<const uint8_t> data);

// Frames as y-websocket sends them.
Bytes EncodeSyncFrame(const SyncMessage& m);
Bytes EncodeAwarenessFrame(std::span<const uint8_t> awareness_update);
Bytes EncodeQueryAwarenessFrame();

// Awareness (y-protocols/awareness): per client a clock and a JSON state
// (null = the client left).
struct AwarenessEntry {
  uint64_t clock = 0;
  std::string state_json = "null";
};
using AwarenessUpdate = std::map<uint64_t, AwarenessEntry>;
Bytes EncodeAwarenessUpdate(const AwarenessUpdate& u);
Result<AwarenessUpdate> DecodeAwarenessUpdate(std::span<const uint8_t> data);

class Awareness {
 public:
  explicit Awareness(uint64_t client_id) : client_id_(client_id) {}
  uint64_t client_id() const { return client_id_; }
  // Sets our own state (JSON text; "null" to leave); `now_ms` is kept for timeouts.
  void SetLocalState(std::string state_json, int64_t now_ms);
  // The update to send for the given clients (default: just us).
  Bytes EncodeUpdate(const std::vector<uint64_t>& clients) const;
  Bytes EncodeLocal() const { return EncodeUpdate({client_id_}); }
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

// The y-websocket client protocol for one document, without any transport:
// feed it received frames, send what it returns.
//
//   SyncSession s(doc);
//   for (auto& f : s.Start()) ws.send(f);          // SyncStep1 (+ awareness)
//   on message: auto out = s.Receive(frame); send each of *out
//   on local doc update: ws.send(s.UpdateFrame(update))
class SyncSession {
 public:
  explicit SyncSession(Doc& doc, Awareness* awareness = nullptr) : doc_(doc), awareness_(awareness) {}

  // Frames to send when the connection opens.
  std::vector<Bytes> Start();
  // Handles one received frame; returns the frames to send back. A malformed
  // frame or update is an error and changes nothing.
  Result<std::vector<Bytes>> Receive(std::span<const uint8_t> frame, int64_t now_ms = 0);
  // The frame that carries a local update to the peer.
  static Bytes UpdateFrame(std::span<const uint8_t> update);

  // True once the peer's SyncStep2 arrived: we have everything it had.
  bool synced() const { return synced_; }
  // Set when the server refused access (auth frame "permission denied").
  const std::optional<std::string>& denied() const { return denied_; }
  uint64_t updates_received() const { return updates_received_; }

 private:
  Doc& doc_;
  Awareness* awareness_;
  bool synced_ = false;
  std::optional<std::string> denied_;
  uint64_t updates_received_ = 0;
};

}  // namespace vaultd::crdt
