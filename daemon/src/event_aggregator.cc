#include "vaultd/daemon/event_aggregator.h"

#include <algorithm>
#include <utility>

namespace vaultd::daemon {

EventAggregator::EventAggregator(std::chrono::milliseconds debounce, int max_delay_factor)
    : debounce_(std::max(debounce, std::chrono::milliseconds(0))),
      max_delay_(debounce_ * std::max(max_delay_factor, 1)) {}

void EventAggregator::Close(std::map<std::string, List::iterator>::iterator m, MonoTime now) {
  m->second->due = std::min(m->second->due, now);
  mergeable_.erase(m);
}

void EventAggregator::Barrier(const std::string* path, MonoTime now) {
  if (path == nullptr || path->empty()) {  // everything (the room folder holds every path)
    while (!mergeable_.empty()) Close(mergeable_.begin(), now);
    return;
  }
  if (auto m = mergeable_.find(*path); m != mergeable_.end()) Close(m, now);
  // Everything inside it sorts in ["path/", "path0"): '0' follows '/'.
  const std::string end = *path + static_cast<char>('/' + 1);
  for (auto m = mergeable_.lower_bound(*path + '/'); m != mergeable_.end() && m->first < end;) {
    Close(m++, now);
  }
  // The folders above it, up to the room folder ("").
  for (size_t slash = path->size(); slash != 0;) {
    slash = path->rfind('/', slash - 1);
    if (slash == std::string::npos) slash = 0;
    if (auto m = mergeable_.find(path->substr(0, slash)); m != mergeable_.end()) Close(m, now);
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
