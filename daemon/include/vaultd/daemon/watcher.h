// The watcher: what changed under one room's folder, as relative paths.
//
// A Watcher reports paths, not contents: the bridge always looks at the disk
// itself before acting, so a lost or merged event can only delay work, never
// make it wrong. What a Watcher must not do is stay silent: when the kernel
// dropped events (queue overflow) or a folder could not be watched (out of
// inotify watches), it says so with a Rescan event and reports itself
// degraded until a rescan has caught up.
//
// The degraded contract (what the owner must do):
// - On kRescan: compare the whole folder with what is known. If another
//   kRescan arrives while that rescan runs, run one more afterwards.
// - When a rescan that began after the last kRescan was delivered has
//   finished, call RescanDone(). The watcher then re-walks the folder tree
//   (watching folders whose creation was lost, retrying folders it could not
//   watch, and reporting each newly watched folder as kChanged with is_dir),
//   and clears `degraded` unless a folder still cannot be watched or a new
//   loss is pending.
// - While health().degraded stays true (e.g. out of inotify watches), rescan
//   periodically (every few seconds) and call RescanDone() after each: the
//   unwatched folders are only seen that way.
//
// Two implementations: the inotify one (NewInotifyWatcher) polls a raw
// inotify fd on the libuv loop; FakeWatcher (tests) takes events from the
// test and hands them over when the test steps it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vaultd/common/clock.h"
#include "vaultd/common/status.h"

struct uv_loop_s;

namespace vaultd::daemon {

enum class WatchEventKind : uint8_t {
  kChanged,      // something happened at `path` (created, written, deleted, attributes): look again
  kClosedWrite,  // a writer closed `path` after writing: act at once (leading edge)
  kRenamed,      // `from` was renamed to `path`, both inside the room (paired by cookie)
  kRescan,       // events were lost (overflow, unwatchable folder): compare everything
};

struct WatchEvent {
  WatchEventKind kind = WatchEventKind::kChanged;
  std::string path;     // relative to the room folder, '/'-separated; "" = the folder itself
  std::string from;     // kRenamed: the old relative path
  bool is_dir = false;  // the event concerned a directory (a whole subtree to look at)
  std::string reason;   // kRescan: why ("queue overflow", "no watch for x/y: ENOSPC")
};

struct WatcherHealth {
  bool degraded = false;   // events may have been lost since the last completed rescan
  std::string reason;      // why, for `vaultd status`
  uint64_t watches = 0;    // directories watched
  uint64_t overflows = 0;  // queue overflows seen
  uint64_t events = 0;     // events delivered
};

struct WatcherOptions {
  // Coalescing window for everything but kClosedWrite (which is delivered
  // at once). 0 = deliver every event as it is read.
  int debounce_ms = 10;
  // A kChanged for a path written continuously is delivered at most this
  // many windows after its first event.
  int max_delay_factor = 10;
  // How long a rename's first half (IN_MOVED_FROM) waits for its second half
  // when the two were split across reads; unpaired, it is a move out of the
  // folder (a deletion).
  int move_pair_ms = 20;
};

class Watcher {
 public:
  using Sink = std::function<void(std::vector<WatchEvent> events)>;
  virtual ~Watcher() = default;
  // Starts watching the folder tree as it is now, recursively (ignored
  // folders are not watched; nothing is reported for what already exists).
  // Events go to `sink` on the loop thread. The sink may call Stop() and
  // RescanDone(), but must not destroy the watcher.
  virtual Status Start(Sink sink) = 0;
  // Stops watching; no event is delivered after it returns. The loop must
  // run once more to release the watcher's handles (uv_close).
  virtual void Stop() = 0;
  virtual WatcherHealth health() const = 0;
  // The owner calls this when a rescan asked for by kRescan has finished,
  // which clears `degraded` unless more events were lost since.
  virtual void RescanDone() = 0;
};

// `root` is the absolute path of the room folder. Symlinks are never followed.
std::unique_ptr<Watcher> NewInotifyWatcher(uv_loop_s* loop, std::string root, const Clock& clock,
                                           WatcherOptions options = {});

// For tests: Push() queues events, Deliver() hands everything queued to the
// sink (if started). SetDegraded() is a loss: degraded, and a kRescan queued.
class FakeWatcher final : public Watcher {
 public:
  Status Start(Sink sink) override;
  void Stop() override;
  WatcherHealth health() const override { return health_; }
  void RescanDone() override;
  void Push(WatchEvent e) { queued_.push_back(std::move(e)); }
  void Deliver();
  void SetDegraded(std::string reason);
  bool started() const { return started_; }

 private:
  Sink sink_;
  bool started_ = false;
  std::vector<WatchEvent> queued_;
  WatcherHealth health_;
};

}  // namespace vaultd::daemon
