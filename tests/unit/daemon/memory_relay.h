// An in-process stand-in for a y-websocket relay, for unit tests of the
// bridge rules: one server document per room, SyncStep1 answered with
// SyncStep2 plus the server's own SyncStep1, updates applied and sent to
// every connection of the room (the sender too, as y-websocket does).
// Messages are delivered from a uv_idle handle, never re-entrantly. The
// integration tests use the real relay.
#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "vaultd/crdt/doc.h"
#include "vaultd/crdt/encoding.h"
#include "vaultd/crdt/sync.h"
#include "vaultd/daemon/transport.h"

namespace vaultd::daemon::testing {

class MemoryRelay final : public Transport {
 public:
  explicit MemoryRelay(uv_loop_t* loop) : loop_(loop) {
    idle_ = new uv_idle_t;
    uv_idle_init(loop_, idle_);
    idle_->data = this;
  }
  ~MemoryRelay() override { Shutdown(); }

  struct Conn;
  Result<std::unique_ptr<Connection>> Connect(const std::string& url,
                                              ConnectionCallbacks cb) override;
  void Shutdown() override {
    if (idle_) {
      uv_close(reinterpret_cast<uv_handle_t*>(idle_),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_idle_t*>(h); });
      idle_ = nullptr;
    }
  }
  // While down, connects fail and open connections are closed.
  void SetDown(bool down);
  crdt::Doc& RoomDoc(const std::string& room) {
    auto& d = docs_[room];
    if (!d) d = std::make_unique<crdt::Doc>(crdt::DocOptions{.client_id = 999999});
    return *d;
  }
  // Applies an update to the room as a client would, broadcasting it.
  void InjectUpdate(const std::string& room, std::span<const uint8_t> update);
  // Sends a raw frame to every connection of the room.
  void InjectFrame(const std::string& room, crdt::Bytes frame);
  uint64_t frames_from_clients() const { return frames_from_clients_; }

 private:
  friend struct Conn;
  void Post(std::function<void()> fn) {
    queue_.push_back(std::move(fn));
    if (idle_ && !uv_is_active(reinterpret_cast<uv_handle_t*>(idle_))) {
      uv_idle_start(idle_, [](uv_idle_t* h) {
        auto* self = static_cast<MemoryRelay*>(h->data);
        auto q = std::move(self->queue_);
        self->queue_.clear();
        for (auto& f : q) f();
        if (self->queue_.empty()) uv_idle_stop(h);
      });
    }
  }
  void FromClient(Conn* c, crdt::Bytes frame);
  void Broadcast(const std::string& room, const crdt::Bytes& frame);

  uv_loop_t* loop_;
  uv_idle_t* idle_;
  std::deque<std::function<void()>> queue_;
  std::map<std::string, std::unique_ptr<crdt::Doc>> docs_;
  std::set<Conn*> conns_;
  bool down_ = false;
  uint64_t frames_from_clients_ = 0;
};

struct MemoryRelay::Conn final : public Connection {
  Conn(MemoryRelay* r, std::string room, ConnectionCallbacks cb)
      : relay(r), room(std::move(room)), cb(std::move(cb)) {
    relay->conns_.insert(this);
  }
  ~Conn() override {
    *life = false;
    relay->conns_.erase(this);
  }
  Status Send(std::span<const uint8_t> m) override {
    if (!open) return Status::Unavailable("not open");
    crdt::Bytes b(m.begin(), m.end());
    auto* r = relay;
    auto token = life;
    r->Post([r, token, this, b]() mutable {
      if (*token) r->FromClient(this, std::move(b));
    });
    return Status::Ok();
  }
  bool is_open() const override { return open; }
  uint64_t queued_bytes() const override { return 0; }
  void Close() override { CloseWith("closed"); }
  void CloseWith(const std::string& why) {
    if (closed) return;
    closed = true;
    open = false;
    auto token = life;
    relay->Post([this, token, why] {
      if (*token && cb.on_close) cb.on_close(why);
    });
  }
  void Deliver(crdt::Bytes frame) {
    auto token = life;
    relay->Post([this, token, frame] {
      if (*token && open && cb.on_message) cb.on_message(frame);
    });
  }
  MemoryRelay* relay;
  std::string room;
  ConnectionCallbacks cb;
  bool open = false, closed = false;
  std::shared_ptr<bool> life = std::make_shared<bool>(true);
};

inline Result<std::unique_ptr<Connection>> MemoryRelay::Connect(const std::string& url,
                                                                ConnectionCallbacks cb) {
  std::string room = url.substr(url.rfind('/') + 1);
  if (auto q = room.find('?'); q != std::string::npos) room.resize(q);
  auto c = std::make_unique<Conn>(this, room, std::move(cb));
  Conn* raw = c.get();
  auto token = raw->life;
  bool down = down_;
  Post([raw, token, down] {
    if (!*token) return;
    if (down) {
      raw->CloseWith("connection refused");
      return;
    }
    raw->open = true;
    if (raw->cb.on_open) raw->cb.on_open();
  });
  return std::unique_ptr<Connection>(std::move(c));
}

inline void MemoryRelay::SetDown(bool down) {
  down_ = down;
  if (down)
    for (Conn* c : std::set<Conn*>(conns_)) c->CloseWith("relay stopped");
}

inline void MemoryRelay::Broadcast(const std::string& room, const crdt::Bytes& frame) {
  for (Conn* c : conns_)
    if (c->room == room && c->open) c->Deliver(frame);
}

inline void MemoryRelay::InjectUpdate(const std::string& room, std::span<const uint8_t> update) {
  (void)RoomDoc(room).ApplyUpdate(update);
  Broadcast(room, crdt::SyncSession::UpdateFrame(update));
}

inline void MemoryRelay::InjectFrame(const std::string& room, crdt::Bytes frame) {
  Broadcast(room, frame);
}

inline void MemoryRelay::FromClient(Conn* c, crdt::Bytes frame) {
  if (!c->open) return;
  ++frames_from_clients_;
  crdt::Decoder dec(frame);
  auto kind = dec.ReadVarUint();
  if (!kind.ok() || *kind != static_cast<uint64_t>(crdt::FrameKind::kSync)) return;
  auto rest = std::span<const uint8_t>(frame).subspan(1);
  auto m = crdt::DecodeSyncMessage(rest);
  if (!m.ok()) return;
  crdt::Doc& doc = RoomDoc(c->room);
  if (m->type == crdt::SyncMessageType::kStep1) {
    auto diff = doc.EncodeStateAsUpdate(m->payload);
    if (diff.ok()) c->Deliver(crdt::EncodeSyncFrame({crdt::SyncMessageType::kStep2, *diff}));
    c->Deliver(crdt::EncodeSyncFrame({crdt::SyncMessageType::kStep1, doc.EncodeStateVector()}));
  } else {
    if (!doc.ApplyUpdate(m->payload).ok()) return;
    Broadcast(c->room, crdt::SyncSession::UpdateFrame(m->payload));
  }
}

}  // namespace vaultd::daemon::testing
