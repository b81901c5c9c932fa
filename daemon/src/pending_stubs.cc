// Temporary: the inotify watcher and the websocket transport land separately.
#include "vaultd/daemon/transport.h"
#include "vaultd/daemon/watcher.h"

namespace vaultd::daemon {
std::unique_ptr<Watcher> NewInotifyWatcher(uv_loop_s*, std::string, const Clock&, WatcherOptions) {
  return std::make_unique<FakeWatcher>();
}
Status FakeWatcher::Start(Sink sink) { sink_ = std::move(sink); started_ = true; return Status::Ok(); }
void FakeWatcher::Stop() { started_ = false; }
void FakeWatcher::Deliver() { auto q = std::move(queued_); queued_.clear(); if (sink_ && !q.empty()) sink_(std::move(q)); }
void FakeWatcher::SetDegraded(std::string reason) { health_.degraded = true; health_.reason = std::move(reason); }
}  // namespace vaultd::daemon
