// The watcher: what changed under one room's folder, as relative paths.
//
// A Watcher reports paths, not contents: the bridge always looks at the disk
// itself before acting, so a lost or merged event can only delay work, never
// make it wrong. What a Watcher must not do is stay silent: when the kernel
// dropped events (queue overflow) or a folder could not be watched (out of
// inotify watches), it says so with a Rescan event and reports itself
// degraded until a rescan has caught up.
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
  kChanged,  // something happened at `path` (created, written, deleted, attributes): look again
  kClosedWrite,  // a writer closed `path` after writing: act at once (leading edge)
  kRenamed,      // `from` was renamed to `path`, both inside the room (paired by cookie)
  kRescan,       // events were lost (overflow, unwatchable folder): compare everything
};

struct WatchEvent {
  WatchEventKind kind = WatchEventKind::kChanged;
  std::string path;  // relative to the room folder, '/'-separated; "" = the folder itself
  std::string from;  // kRenamed: the old relative path
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
};

class Watcher {
 public:
  using Sink = std::function<void(std::vector<WatchEvent> events)>;
  virtual ~Watcher() = default;
  // Starts watching (the folder tree as it is now, recursively; ignored
  // folders are not watched). Events go to `sink` on the loop thread.
  virtual Status Start(Sink sink) = 0;
  virtual void Stop() = 0;
  virtual WatcherHealth health() const = 0;
  // The owner calls this when a rescan asked for by kRescan has finished,
  // which clears `degraded` unless more events were lost since.
  virtual void RescanDone() = 0;
};

// `root` is the absolute path of the room folder. Symlinks are never followed.
std::unique_ptr<Watcher> NewInotifyWatcher(uv_loop_s* loop, std::string root, const Clock& clock,
                                           WatcherOptions options = {});

// For tests: Push() queues events, Deliver() hands everything queued to the sink.
class FakeWatcher final : public Watcher {
 public:
  Status Start(Sink sink) override;
  void Stop() override;
  WatcherHealth health() const override { return health_; }
  void RescanDone() override { health_.degraded = false; }
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
