// The y-websocket framing of the y-protocols sync (sync_protocol.h) and
// awareness (awareness.h), and SyncSession: one document's client side of a
// y-websocket connection, without any transport.
//
// A frame is varUint(FrameKind) + payload: kSync carries a sync message,
// kAwareness an awareness update (varUint8Array), kAuth an auth message
// (varUint(AuthMessageType), then for kPermissionDenied a varString reason),
// kQueryAwareness nothing (a request for everyone's awareness).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vaultd/common/status.h"
#include "vaultd/crdt/awareness.h"
#include "vaultd/crdt/doc.h"
#include "vaultd/crdt/sync_protocol.h"

namespace vaultd::crdt {

enum class FrameKind : uint8_t { kSync = 0, kAwareness = 1, kAuth = 2, kQueryAwareness = 3 };
enum class AuthMessageType : uint8_t { kPermissionDenied = 0 };

Bytes EncodeSyncFrame(const SyncMessage& m);
Bytes EncodeAwarenessFrame(std::span<const uint8_t> awareness_update);
Bytes EncodeQueryAwarenessFrame();
Bytes EncodePermissionDeniedFrame(std::string_view reason);

// Feed it received frames, send what it returns.
//
//   SyncSession s(doc);
//   for (auto& f : s.Start()) ws.send(f);          // SyncStep1 (+ awareness)
//   on message: auto out = s.Receive(frame); send each of *out
//   on local doc update: for (auto& f : s.LocalUpdateFrames(update)) ws.send(f)
class SyncSession {
 public:
  explicit SyncSession(Doc& doc, Awareness* awareness = nullptr, SyncOptions options = {})
      : protocol_(doc, awareness, options) {}

  // Frames to send when the connection opens.
  std::vector<Bytes> Start();
  // Handles one received frame; returns the frames to send back. A malformed
  // frame or update is an error and changes nothing.
  Result<std::vector<Bytes>> Receive(std::span<const uint8_t> frame, int64_t now_ms = 0);
  // The frame that carries a local update to the peer (framing only: a
  // read-only session's caller sends none; LocalUpdateFrames knows that).
  static Bytes UpdateFrame(std::span<const uint8_t> update);
  // The frames to send for a local update: UpdateFrame, or none when read-only.
  std::vector<Bytes> LocalUpdateFrames(std::span<const uint8_t> update) const;

  // True once the peer's SyncStep2 arrived: we have everything it had.
  bool synced() const { return protocol_.synced(); }
  bool read_only() const { return protocol_.read_only(); }
  // Set when the server refused access (auth frame "permission denied").
  const std::optional<std::string>& denied() const { return denied_; }
  uint64_t updates_received() const { return protocol_.updates_received(); }

 private:
  SyncProtocol protocol_;
  std::optional<std::string> denied_;
};

}  // namespace vaultd::crdt
