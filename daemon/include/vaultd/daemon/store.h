// The daemon's state: one SQLite database (WAL) under state_dir holding, per
// room, the Yjs updates and, per file, the shadow. Schema and rules:
// docs/daemon-store.md.
//
// The shadow of a file is the content on disk whose every change is already
// in the room's document. Disk differs from the shadow = a local edit still
// to be merged into the document; the document differs from the shadow (and
// the disk does not) = a remote edit still to be written. Every write here
// is one SQLite transaction, committed before anything is sent or acted on.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vaultd/common/status.h"

namespace vaultd::daemon {

using Bytes = std::vector<uint8_t>;

struct FileRecord {
  bool is_text = true;
  // Text files: the content (kept in the store; LoadFiles leaves it empty,
  // LoadShadow reads it). Binary files: empty.
  std::string shadow;
  std::string hash;  // SHA-256 hex of the content
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t ino = 0;
  // This daemon's Yjs clock right after its last change to this path's
  // document entry (0 = never): lets a remote delete or replace that had
  // not seen that change be told from one that had.
  uint64_t local_clock = 0;
};

// One atomic change to a room's state.
struct RoomCommit {
  std::vector<Bytes> updates;                              // appended to the room's update log
  std::map<std::string, std::optional<FileRecord>> files;  // nullopt = forget the path
  std::map<std::string, uint64_t> clocks;                  // local_clock of paths already recorded
};

class Store {
 public:
  virtual ~Store() = default;
  // Opens (creating) state_dir/vaultd.db. A database that does not open or
  // has another schema is an error, never silently replaced.
  static Result<std::unique_ptr<Store>> Open(const std::string& state_dir);

  // The Yjs client id of this daemon, drawn once at random and kept with
  // the state: a new database means a new id, so an id is never reused with
  // a clock that may have gone further.
  virtual uint64_t client_id() const = 0;

  // Calls `fn` with each stored update of the room, oldest first; the bytes
  // are valid during the call only (no copy: a compacted room is one update
  // as large as the folder). Stops at the first error `fn` returns.
  virtual Status ForEachUpdate(const std::string& room,
                               const std::function<Status(std::span<const uint8_t>)>& fn) = 0;
  // The same, copied.
  Result<std::vector<Bytes>> LoadUpdates(const std::string& room) {
    std::vector<Bytes> out;
    VAULTD_RETURN_IF_ERROR(ForEachUpdate(room, [&](std::span<const uint8_t> u) {
      out.emplace_back(u.begin(), u.end());
      return Status::Ok();
    }));
    return out;
  }
  // Every file record of the room, without the shadow texts (memory).
  virtual Result<std::map<std::string, FileRecord>> LoadFiles(const std::string& room) = 0;
  // One file's shadow text ("" when there is none).
  virtual Result<std::string> LoadShadow(const std::string& room, const std::string& path) = 0;
  virtual Status Commit(const std::string& room, const RoomCommit& commit) = 0;
  // Replaces every stored update of the room by `state` (one update holding
  // all of them), in one transaction.
  virtual Status Compact(const std::string& room, const Bytes& state) = 0;
  virtual uint64_t UpdateCount(const std::string& room) = 0;
  virtual uint64_t UpdateBytes(const std::string& room) = 0;
  virtual Status DropRoom(const std::string& room) = 0;
};

}  // namespace vaultd::daemon
