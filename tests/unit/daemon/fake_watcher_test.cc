#include <gtest/gtest.h>

#include <vector>

#include "vaultd/daemon/watcher.h"

namespace vaultd::daemon {
namespace {

TEST(FakeWatcherTest, DeliversQueuedEventsOnlyWhenStepped) {
  FakeWatcher w;
  std::vector<std::vector<WatchEvent>> batches;
  ASSERT_TRUE(w.Start([&](std::vector<WatchEvent> events) { batches.push_back(events); }).ok());
  EXPECT_TRUE(w.started());
  WatchEvent e;
  e.path = "a.md";
  w.Push(e);
  w.Push(e);
  EXPECT_TRUE(batches.empty());
  w.Deliver();
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].size(), 2u);
  EXPECT_EQ(w.health().events, 2u);
  w.Deliver();  // nothing queued: no empty batch
  EXPECT_EQ(batches.size(), 1u);
}

TEST(FakeWatcherTest, DegradedUntilTheRescanIsDone) {
  FakeWatcher w;
  std::vector<WatchEvent> got;
  ASSERT_TRUE(w.Start([&](std::vector<WatchEvent> events) {
                 got.insert(got.end(), events.begin(), events.end());
               }).ok());
  w.SetDegraded("queue overflow");
  EXPECT_TRUE(w.health().degraded);
  EXPECT_EQ(w.health().reason, "queue overflow");
  w.Deliver();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].kind, WatchEventKind::kRescan);
  EXPECT_EQ(got[0].reason, "queue overflow");
  w.RescanDone();
  EXPECT_FALSE(w.health().degraded);
  EXPECT_TRUE(w.health().reason.empty());
}

TEST(FakeWatcherTest, AStoppedWatcherDeliversNothing) {
  FakeWatcher w;
  int calls = 0;
  ASSERT_TRUE(w.Start([&](std::vector<WatchEvent>) { ++calls; }).ok());
  w.Stop();
  w.Push(WatchEvent{});
  w.Deliver();
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace vaultd::daemon
