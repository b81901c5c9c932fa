#include "vaultd/daemon/event_aggregator.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace vaultd::daemon {
namespace {

using std::chrono::milliseconds;

const MonoTime kT0 = MonoTime{} + std::chrono::hours(1);
MonoTime At(int ms) { return kT0 + milliseconds(ms); }

WatchEvent Ev(WatchEventKind kind, std::string path, bool is_dir = false) {
  return WatchEvent{
      .kind = kind, .path = std::move(path), .from = {}, .is_dir = is_dir, .reason = {}};
}
WatchEvent Changed(std::string path, bool is_dir = false) {
  return Ev(WatchEventKind::kChanged, std::move(path), is_dir);
}
WatchEvent Closed(std::string path) { return Ev(WatchEventKind::kClosedWrite, std::move(path)); }
WatchEvent Renamed(std::string from, std::string to, bool is_dir = false) {
  WatchEvent e = Ev(WatchEventKind::kRenamed, std::move(to), is_dir);
  e.from = std::move(from);
  return e;
}
WatchEvent Rescan(std::string reason) {
  WatchEvent e = Ev(WatchEventKind::kRescan, "");
  e.reason = std::move(reason);
  return e;
}

// "C:a", "W:a", "R:a>b", "S" (rescan), with "/" appended for folders.
std::vector<std::string> Names(const std::vector<WatchEvent>& events) {
  std::vector<std::string> out;
  for (const WatchEvent& e : events) {
    std::string s;
    switch (e.kind) {
      case WatchEventKind::kChanged:
        s = "C:" + e.path;
        break;
      case WatchEventKind::kClosedWrite:
        s = "W:" + e.path;
        break;
      case WatchEventKind::kRenamed:
        s = "R:" + e.from + ">" + e.path;
        break;
      case WatchEventKind::kRescan:
        s = "S";
        break;
    }
    if (e.is_dir) s += "/";
    out.push_back(s);
  }
  return out;
}

using V = std::vector<std::string>;

TEST(EventAggregatorTest, AClosedWriteIsDueAtOnce) {
  EventAggregator agg(milliseconds(10));
  agg.Add(Closed("a.md"), At(0));
  ASSERT_TRUE(agg.NextDeadline().has_value());
  EXPECT_EQ(*agg.NextDeadline(), At(0));
  EXPECT_EQ(Names(agg.PopDue(At(0))), V{"W:a.md"});
  EXPECT_TRUE(agg.empty());
  EXPECT_FALSE(agg.NextDeadline().has_value());
}

TEST(EventAggregatorTest, ChangesToOnePathCoalesceOnTheTrailingEdge) {
  EventAggregator agg(milliseconds(10));
  agg.Add(Changed("a.md"), At(0));
  agg.Add(Changed("a.md"), At(4));
  agg.Add(Changed("a.md"), At(8));
  EXPECT_EQ(*agg.NextDeadline(), At(18));
  EXPECT_TRUE(agg.PopDue(At(17)).empty());
  EXPECT_EQ(Names(agg.PopDue(At(18))), V{"C:a.md"});
  EXPECT_TRUE(agg.empty());
}

TEST(EventAggregatorTest, DifferentPathsAreDueIndependently) {
  EventAggregator agg(milliseconds(10));
  agg.Add(Changed("a.md"), At(0));
  agg.Add(Changed("b.md"), At(5));
  EXPECT_EQ(Names(agg.PopDue(At(10))), V{"C:a.md"});
  EXPECT_EQ(*agg.NextDeadline(), At(15));
  EXPECT_EQ(Names(agg.PopDue(At(15))), V{"C:b.md"});
}

TEST(EventAggregatorTest, APathWrittenContinuouslyIsDeliveredWithinTheCap) {
  EventAggregator agg(milliseconds(10), 10);
  std::vector<int> delivered;
  for (int t = 0; t <= 300; t += 5) {
    for (const WatchEvent& e : agg.PopDue(At(t))) {
      EXPECT_EQ(e.path, "log.md");
      delivered.push_back(t);
    }
    agg.Add(Changed("log.md"), At(t));
  }
  // Every 5 ms an event, so the trailing edge never comes: the cap (100 ms
  // after the first event of each round) delivers anyway.
  ASSERT_GE(delivered.size(), 2u);
  EXPECT_EQ(delivered[0], 100);
  EXPECT_EQ(delivered[1], 200);
}

TEST(EventAggregatorTest, AClosedWriteTakesThePlaceOfAPendingChange) {
  EventAggregator agg(milliseconds(10));
  agg.Add(Changed("a.md"), At(0));  // open(O_TRUNC)
  agg.Add(Changed("a.md"), At(1));  // write
  agg.Add(Closed("a.md"), At(2));   // close
  EXPECT_EQ(Names(agg.PopDue(At(2))), V{"W:a.md"});
  EXPECT_TRUE(agg.empty());
}

TEST(EventAggregatorTest, ChangesAfterAClosedWriteStillPendingMergeIntoIt) {
  EventAggregator agg(milliseconds(10));
  agg.Add(Closed("a.md"), At(0));
  agg.Add(Changed("a.md"), At(1));  // e.g. the attribute change after the write
  EXPECT_EQ(Names(agg.PopDue(At(1))), V{"W:a.md"});
  EXPECT_TRUE(agg.empty());
}

TEST(EventAggregatorTest, ZeroDebounceDeliversEverythingAtOnceInOrder) {
  EventAggregator agg(milliseconds(0));
  agg.Add(Changed("b.md"), At(0));
  agg.Add(Changed("a.md"), At(0));
  agg.Add(Changed("b.md"), At(0));
  EXPECT_EQ(Names(agg.PopDue(At(0))), (V{"C:b.md", "C:a.md"}));
}

TEST(EventAggregatorTest, ARenameIsDueAtOnceAfterThePendingEventsOfItsPaths) {
  EventAggregator agg(milliseconds(10));
  agg.Add(Changed("a.md"), At(0));
  agg.Add(Changed("other.md"), At(0));
  agg.Add(Renamed("a.md", "b.md"), At(3));
  // a.md's change is pulled forward ahead of the rename; other.md waits.
  EXPECT_EQ(Names(agg.PopDue(At(3))), (V{"C:a.md", "R:a.md>b.md"}));
  EXPECT_EQ(Names(agg.PopDue(At(10))), V{"C:other.md"});
}

TEST(EventAggregatorTest, EventsAfterARenameAreNotMergedIntoEventsBeforeIt) {
  EventAggregator agg(milliseconds(10));
  agg.Add(Changed("a.md"), At(0));
  agg.Add(Renamed("a.md", "b.md"), At(1));
  agg.Add(Changed("a.md"), At(2));  // a new a.md
  agg.Add(Changed("b.md"), At(2));  // the moved file written again
  EXPECT_EQ(Names(agg.PopDue(At(2))), (V{"C:a.md", "R:a.md>b.md"}));
  EXPECT_EQ(Names(agg.PopDue(At(12))), (V{"C:a.md", "C:b.md"}));
}

TEST(EventAggregatorTest, AFolderRenameOrdersThePendingEventsInsideIt) {
  EventAggregator agg(milliseconds(10));
  agg.Add(Changed("d/x.md"), At(0));
  agg.Add(Changed("d2/y.md"), At(0));
  agg.Add(Changed("dx.md"), At(0));  // a sibling whose name merely starts like the folder
  agg.Add(Renamed("d", "e", /*is_dir=*/true), At(1));
  EXPECT_EQ(Names(agg.PopDue(At(1))), (V{"C:d/x.md", "R:d>e/"}));
  EXPECT_EQ(agg.size(), 2u);
}

TEST(EventAggregatorTest, ARenameOrdersThePendingEventsOfTheFoldersAboveIt) {
  EventAggregator agg(milliseconds(10));
  agg.Add(Changed("p", /*is_dir=*/true), At(0));
  agg.Add(Changed("p/q", /*is_dir=*/true), At(0));
  agg.Add(Changed("p q"), At(0));   // sorts between "p" and "p/"
  agg.Add(Changed("p/q0"), At(0));  // a sibling of "p/q", not inside it
  agg.Add(Renamed("p/q/x.md", "y.md"), At(1));
  EXPECT_EQ(Names(agg.PopDue(At(1))), (V{"C:p/", "C:p/q/", "R:p/q/x.md>y.md"}));
  EXPECT_EQ(Names(agg.PopDue(At(10))), (V{"C:p q", "C:p/q0"}));
}

TEST(EventAggregatorTest, RenameChainsKeepTheirOrder) {
  EventAggregator agg(milliseconds(10));
  agg.Add(Renamed("a.md", "b.md"), At(0));
  agg.Add(Closed("b.md"), At(0));
  agg.Add(Renamed("b.md", "c.md"), At(0));
  EXPECT_EQ(Names(agg.PopDue(At(0))), (V{"R:a.md>b.md", "W:b.md", "R:b.md>c.md"}));
}

TEST(EventAggregatorTest, ARescanIsDueAtOnceAndTakesEverythingPendingAlong) {
  EventAggregator agg(milliseconds(10));
  agg.Add(Changed("a.md"), At(0));
  agg.Add(Rescan("queue overflow"), At(1));
  EXPECT_TRUE(agg.rescan_pending());
  agg.Add(Rescan("queue overflow again"), At(2));  // covered by the pending one
  agg.Add(Changed("a.md"), At(2));
  std::vector<WatchEvent> due = agg.PopDue(At(2));
  EXPECT_EQ(Names(due), (V{"C:a.md", "S"}));
  EXPECT_EQ(due[1].reason, "queue overflow");
  EXPECT_FALSE(agg.rescan_pending());
  EXPECT_EQ(Names(agg.PopDue(At(12))), V{"C:a.md"});
  agg.Add(Rescan("later"), At(20));
  EXPECT_EQ(Names(agg.PopDue(At(20))), V{"S"});
}

TEST(EventAggregatorTest, MergingKeepsTheFolderFlag) {
  EventAggregator agg(milliseconds(10));
  agg.Add(Changed("d", /*is_dir=*/true), At(0));
  agg.Add(Changed("d"), At(1));
  EXPECT_EQ(Names(agg.PopDue(At(11))), V{"C:d/"});
}

}  // namespace
}  // namespace vaultd::daemon
