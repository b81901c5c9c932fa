#include <utility>
#include <vector>

#include "vaultd/daemon/watcher.h"

namespace vaultd::daemon {

Status FakeWatcher::Start(Sink sink) {
  if (started_) return Status::Internal("fake watcher: started twice");
  sink_ = std::move(sink);
  started_ = true;
  return Status::Ok();
}

void FakeWatcher::Stop() { started_ = false; }

void FakeWatcher::RescanDone() {
  health_.degraded = false;
  health_.reason.clear();
}

void FakeWatcher::Deliver() {
  if (!started_ || queued_.empty()) return;
  std::vector<WatchEvent> events = std::move(queued_);
  queued_.clear();
  health_.events += events.size();
  sink_(std::move(events));
}

void FakeWatcher::SetDegraded(std::string reason) {
  health_.degraded = true;
  health_.reason = reason;
  WatchEvent e;
  e.kind = WatchEventKind::kRescan;
  e.reason = std::move(reason);
  queued_.push_back(std::move(e));
}

}  // namespace vaultd::daemon
