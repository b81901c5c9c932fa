// One room: a folder of the vault kept in sync with one relay room.
//
// A RoomSession owns the room's Yjs document (schema vaultd/1,
// docs/room-schema.md), its watcher and its connection, and applies the
// bridge rules of docs/daemon-sync.md: disk changes become document edits,
// document changes become atomic, checked file writes, and nothing typed on
// either side is lost.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vaultd/common/clock.h"
#include "vaultd/daemon/config.h"
#include "vaultd/daemon/store.h"
#include "vaultd/daemon/transport.h"
#include "vaultd/daemon/watcher.h"

struct uv_loop_s;

namespace vaultd::daemon {

struct RoomStatus {
  std::string name, room, path;
  bool read_only = false;
  bool connected = false;
  bool synced = false;
  bool expired = false;
  std::optional<WallTime> last_sync;  // last message from the relay while synced
  uint64_t pending_local = 0;         // queued_paths + unsent_changes
  uint64_t queued_paths = 0;          // paths waiting to be reconciled or retried
  uint64_t unsent_changes = 0;        // local document changes made while not synced
  uint64_t files = 0;
  uint64_t conflicts = 0;         // conflict copies written
  uint64_t rejected_paths = 0;    // document keys never written (unsafe, ignored or too large)
  uint64_t malformed = 0;         // frames or updates dropped
  uint64_t updates_received = 0;  // sync messages with document content from the relay
  uint64_t errors = 0;
  uint64_t ro_edits = 0;  // local edits refused in a read-only room
  uint64_t reconnects = 0;
  bool degraded = false;
  std::string degraded_reason;
  std::string last_error;
  WatcherHealth watcher;
};

struct RoomDeps {
  uv_loop_s* loop = nullptr;
  Store* store = nullptr;
  Transport* transport = nullptr;  // nullptr: offline (tests)
  const Clock* clock = nullptr;
  // nullptr: the room makes its own inotify watcher.
  std::unique_ptr<Watcher> watcher;
};

class RoomSession {
 public:
  virtual ~RoomSession() = default;
  // Loads state, removes stale temp files, starts watching and connecting.
  virtual Status Start() = 0;
  // Flushes and stops everything (no more callbacks afterwards).
  virtual void Stop() = 0;
  virtual RoomStatus status() const = 0;
  virtual const RoomConfig& config() const = 0;
  // Compares the whole folder with the document now (also done after the
  // first sync and while the watcher is degraded).
  virtual void Rescan() = 0;
  // The document's JSON (tests, debugging).
  virtual std::string DocJson() const = 0;
};

std::unique_ptr<RoomSession> NewRoomSession(const DaemonConfig& daemon, const RoomConfig& room,
                                            std::string token, RoomDeps deps);

}  // namespace vaultd::daemon
