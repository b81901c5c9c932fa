#include "vaultd/daemon/event_aggregator.h"

#include <algorithm>
#include <string_view>
#include <utility>

namespace vaultd::daemon {
namespace {

// `path` lies inside the folder `dir` ("" is the room folder itself).
bool IsInside(std::string_view path, std::string_view dir) {
  if (dir.empty()) return !path.empty();
  return path.size() > dir.size() && path.substr(0, dir.size()) == dir && path[dir.size()] == '/';
}

bool Related(std::string_view a, std::string_view b) {
  return a == b || IsInside(a, b) || IsInside(b, a);
}

}  // namespace

EventAggregator::EventAggregator(std::chrono::milliseconds debounce, int max_delay_factor)
    : debounce_(std::max(debounce, std::chrono::milliseconds(0))),
      max_delay_(debounce_ * std::max(max_delay_factor, 1)) {}

void EventAggregator::Barrier(const std::string* path, MonoTime now) {
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    const WatchEvent& e = it->event;
    if (path != nullptr && !Related(e.path, *path) &&
        !(e.kind == WatchEventKind::kRenamed && Related(e.from, *path))) {
      continue;
    }
    it->due = std::min(it->due, now);
    auto m = mergeable_.find(e.path);
    if (m != mergeable_.end() && m->second == it) mergeable_.erase(m);
  }
}

void EventAggregator::Add(WatchEvent event, MonoTime now) {
  switch (event.kind) {
    case WatchEventKind::kRescan:
      // A rescan still pending covers this loss too: it is acted on later.
      if (rescan_pending_) return;
      Barrier(nullptr, now);
      pending_.push_back(Entry{std::move(event), now, now});
      rescan_pending_ = true;
      return;
    case WatchEventKind::kRenamed:
      Barrier(&event.from, now);
      Barrier(&event.path, now);
      pending_.push_back(Entry{std::move(event), now, now});
      return;
    case WatchEventKind::kClosedWrite:
    case WatchEventKind::kChanged: {
      auto m = mergeable_.find(event.path);
      if (m != mergeable_.end()) {
        Entry& entry = *m->second;
        entry.event.is_dir = entry.event.is_dir || event.is_dir;
        if (event.kind == WatchEventKind::kClosedWrite) {
          entry.event.kind = WatchEventKind::kClosedWrite;
          entry.due = std::min(entry.due, now);
        } else if (entry.event.kind == WatchEventKind::kChanged) {
          entry.due = std::min(now + debounce_, entry.first + max_delay_);
        }
        return;
      }
      MonoTime due = event.kind == WatchEventKind::kClosedWrite ? now : now + debounce_;
      std::string key = event.path;
      pending_.push_back(Entry{std::move(event), now, due});
      mergeable_.emplace(std::move(key), std::prev(pending_.end()));
      return;
    }
  }
}

std::vector<WatchEvent> EventAggregator::PopDue(MonoTime now) {
  std::vector<WatchEvent> out;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->due > now) {
      ++it;
      continue;
    }
    auto m = mergeable_.find(it->event.path);
    if (m != mergeable_.end() && m->second == it) mergeable_.erase(m);
    if (it->event.kind == WatchEventKind::kRescan) rescan_pending_ = false;
    out.push_back(std::move(it->event));
    it = pending_.erase(it);
  }
  return out;
}

std::optional<MonoTime> EventAggregator::NextDeadline() const {
  std::optional<MonoTime> next;
  for (const Entry& e : pending_) {
    if (!next || e.due < *next) next = e.due;
  }
  return next;
}

}  // namespace vaultd::daemon
