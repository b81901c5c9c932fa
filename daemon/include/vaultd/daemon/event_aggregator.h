// The watcher's debounce: which events are due when, as a pure function of
// the events added and `now` (no loop, no clock), so it is tested with
// synthetic times.
//
// Rules:
// - kClosedWrite, kRenamed and kRescan are due at once (leading edge).
// - Other events (kChanged) for one path are coalesced: due `debounce` after
//   the last one (trailing edge), but never later than `max_delay_factor` x
//   `debounce` after the first, so a file written continuously is still
//   delivered.
// - A kClosedWrite for a path with a kChanged pending takes that pending
//   event's place (one event, due at once).
// - Order is kept where it matters: a rename or a rescan makes every pending
//   event for the paths it touches (the same path, a folder above it, or a
//   path inside it; for a rescan, every path) due with it, ahead of it, and
//   later events for those paths are never merged into events before it.
// - is_dir is or-ed when events merge (a subtree to look at stays one).
#pragma once

#include <chrono>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vaultd/common/clock.h"
#include "vaultd/daemon/watcher.h"

namespace vaultd::daemon {

class EventAggregator {
 public:
  explicit EventAggregator(std::chrono::milliseconds debounce, int max_delay_factor = 10);

  void Add(WatchEvent event, MonoTime now);
  // The events due at `now`, in the order they must be acted on.
  std::vector<WatchEvent> PopDue(MonoTime now);
  // When the next pending event becomes due (possibly already past); nullopt
  // when nothing is pending.
  std::optional<MonoTime> NextDeadline() const;

  bool empty() const { return pending_.empty(); }
  size_t size() const { return pending_.size(); }
  // A kRescan is pending (not yet popped).
  bool rescan_pending() const { return rescan_pending_; }

 private:
  struct Entry {
    WatchEvent event;
    MonoTime first;
    MonoTime due;
  };
  using List = std::list<Entry>;

  // Makes every pending entry related to `path` (nullptr: every entry) due
  // at `now` and closes it to later merges.
  void Barrier(const std::string* path, MonoTime now);
  void Close(std::map<std::string, List::iterator>::iterator m, MonoTime now);

  std::chrono::milliseconds debounce_;
  std::chrono::milliseconds max_delay_;
  List pending_;
  // The one pending entry per path that later events may still merge into,
  // sorted so a folder's entries are one range. Every entry not yet due is
  // in here (renames and rescans are due at once), so a barrier only needs
  // to look here.
  std::map<std::string, List::iterator> mergeable_;
  bool rescan_pending_ = false;
};

}  // namespace vaultd::daemon
