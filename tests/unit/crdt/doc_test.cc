#include <gtest/gtest.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "vaultd/crdt/doc.h"
#include "vaultd/crdt/update.h"

namespace vaultd::crdt {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes Hex(const char* s) {
  Bytes out;
  for (const char* p = s; *p;) {
    if (*p == ' ') {
      ++p;
      continue;
    }
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(p, 2), nullptr, 16)));
    p += 2;
  }
  return out;
}

Bytes Full(const Doc& d, const Bytes& sv = {}) {
  auto r = d.EncodeStateAsUpdate(sv);
  EXPECT_TRUE(r.ok());
  return *r;
}

// Collects every update a doc emits.
struct Recorder {
  std::vector<Bytes> updates;
  std::vector<TransactionEvent> events;
  explicit Recorder(Doc& d) {
    d.OnUpdate([this](std::span<const uint8_t> u, const TransactionEvent& e) {
      updates.emplace_back(u.begin(), u.end());
      events.push_back(e);
    });
  }
};

TEST(Golden, InsertAbAsClient1) {
  Doc d({.client_id = 1});
  Recorder rec(d);
  ASSERT_TRUE(d.GetText("t").Insert(0, "ab").ok());
  ASSERT_EQ(rec.updates.size(), 1u);
  EXPECT_EQ(rec.updates[0], Hex("01 01 01 00 04 01 01 74 02 61 62 00"));
  EXPECT_EQ(Full(d), Hex("01 01 01 00 04 01 01 74 02 61 62 00"));
}

TEST(Golden, MapSetK5) {
  Doc d({.client_id = 1});
  Recorder rec(d);
  ASSERT_TRUE(d.GetMap("m").Set("k", Any(5)).ok());
  EXPECT_EQ(rec.updates.at(0), Hex("01 01 01 00 28 01 01 6d 01 6b 01 7d 05 00"));
}

TEST(Golden, EmojiCountsTwoAndSplittingItYieldsReplacementChars) {
  Doc d({.client_id = 1});
  auto t = d.GetText("t");
  ASSERT_TRUE(t.Insert(0, "😀").ok());
  EXPECT_EQ(t.Length(), 2u);
  EXPECT_EQ(d.StateVector().at(1), 2u);
  ASSERT_TRUE(t.Insert(1, "x").ok());
  EXPECT_EQ(t.ToString(), "\xef\xbf\xbdx\xef\xbf\xbd");
}

// Bytes from yjs 13: a diff from a state vector that ends between the halves
// of a pair starts with U+FFFD; a split pair inside non-ASCII text.
TEST(Golden, DiffFromTheMiddleOfAPairAndSplitsInNonAsciiText) {
  Doc d({.client_id = 1});
  auto t = d.GetText("t");
  ASSERT_TRUE(t.Insert(0,
                       "a\xF0\x9F\x98\x80"
                       "b")
                  .ok());
  EXPECT_EQ(Full(d, Hex("01 01 02")), Hex("01 01 01 02 84 01 01 04 ef bf bd 62 00"));
  ASSERT_TRUE(t.Insert(2, "\xC3\xA9").ok());
  EXPECT_EQ(t.ToString(),
            "a\xef\xbf\xbd\xC3\xA9\xef\xbf\xbd"
            "b");
  EXPECT_EQ(Full(d), Hex("01 03 01 00 04 01 01 74 04 61 ef bf bd 84 01 01 04 ef bf bd 62 c4 01 01 "
                         "01 02 02 c3 a9 00"));
}

TEST(Golden, ClientsAreWrittenInDescendingOrder) {
  Doc a({.client_id = 1}), b({.client_id = 300});
  ASSERT_TRUE(a.GetText("t").Insert(0, "a").ok());
  ASSERT_TRUE(b.GetText("t").Insert(0, "b").ok());
  ASSERT_TRUE(a.ApplyUpdate(Full(b)).ok());
  Bytes u = Full(a);
  ASSERT_GE(u.size(), 4u);
  EXPECT_EQ(u[0], 2);     // two clients
  EXPECT_EQ(u[1], 1);     // one struct
  EXPECT_EQ(u[2], 0xac);  // client 300 = ac 02 first
  EXPECT_EQ(u[3], 0x02);
}

TEST(Golden, EncodeStateAsUpdateWritesTheWholeDeleteSet) {
  Doc d({.client_id = 1});
  auto t = d.GetText("t");
  ASSERT_TRUE(t.Insert(0, "abc").ok());
  ASSERT_TRUE(t.Delete(1, 1).ok());
  Bytes u = Full(d, d.EncodeStateVector());
  // No structs, but the delete set (client 1: clock 1, len 1).
  EXPECT_EQ(u, Hex("00 01 01 01 01 01"));
}

TEST(Doc, OutOfOrderDuplicatesAndPending) {
  Doc a({.client_id = 7});
  Recorder rec(a);
  auto t = a.GetText("t");
  ASSERT_TRUE(t.Insert(0, "hello").ok());
  ASSERT_TRUE(t.Insert(5, " world").ok());
  ASSERT_TRUE(t.Delete(0, 1).ok());
  ASSERT_TRUE(a.GetMap("m").Set("k", Any("v")).ok());
  ASSERT_EQ(rec.updates.size(), 4u);
  Doc b({.client_id = 8});
  for (auto it = rec.updates.rbegin(); it != rec.updates.rend(); ++it)
    ASSERT_TRUE(b.ApplyUpdate(*it).ok());
  EXPECT_FALSE(b.HasPending());
  EXPECT_EQ(b.ToJson(), a.ToJson());
  EXPECT_EQ(b.GetText("t").ToString(), "ello world");
  Bytes before = Full(b);
  for (const auto& u : rec.updates) ASSERT_TRUE(b.ApplyUpdate(u).ok());
  EXPECT_EQ(Full(b), before);  // duplicates are no-ops
  EXPECT_EQ(Full(b), Full(a));
}

TEST(Doc, PendingStructsAreKeptInEncodedState) {
  Doc a({.client_id = 3});
  Recorder rec(a);
  ASSERT_TRUE(a.GetText("t").Insert(0, "ab").ok());
  ASSERT_TRUE(a.GetText("t").Insert(2, "cd").ok());
  Doc b({.client_id = 4});
  ASSERT_TRUE(b.ApplyUpdate(rec.updates[1]).ok());
  EXPECT_TRUE(b.HasPending());
  EXPECT_EQ(b.ToJson(), "{}");
  Doc c({.client_id = 5});
  ASSERT_TRUE(c.ApplyUpdate(Full(b)).ok());
  ASSERT_TRUE(c.ApplyUpdate(rec.updates[0]).ok());
  EXPECT_EQ(c.GetText("t").ToString(), "abcd");
}

TEST(Doc, ConcurrentEditsConverge) {
  Doc a({.client_id = 1}), b({.client_id = 2});
  ASSERT_TRUE(a.GetText("t").Insert(0, "aaa").ok());
  ASSERT_TRUE(b.GetText("t").Insert(0, "bbb").ok());
  ASSERT_TRUE(a.GetMap("m").Set("k", Any(1)).ok());
  ASSERT_TRUE(b.GetMap("m").Set("k", Any(2)).ok());
  Bytes ua = Full(a), ub = Full(b);
  ASSERT_TRUE(a.ApplyUpdate(ub).ok());
  ASSERT_TRUE(b.ApplyUpdate(ua).ok());
  EXPECT_EQ(a.ToJson(), b.ToJson());
  // yjs: the lower client id goes first; the higher client id wins a map key.
  EXPECT_EQ(a.ToJson(), R"({"m":{"k":2},"t":"aaabbb"})");
}

TEST(Doc, GcReplacesDeletedContentUnlessOff) {
  for (bool gc : {true, false}) {
    Doc d({.client_id = 1, .gc = gc});
    auto t = d.GetText("t");
    ASSERT_TRUE(t.Insert(0, "abc").ok());
    ASSERT_TRUE(t.Delete(0, 3).ok());
    Bytes u = Full(d);
    // info byte of the single struct: 0x04 (string) kept, or 0x01 (ContentDeleted)
    EXPECT_EQ(u[4], gc ? 0x01 : 0x04) << gc;
    Doc e({.client_id = 2});
    ASSERT_TRUE(e.ApplyUpdate(u).ok());
    EXPECT_EQ(e.GetText("t").ToString(), "");
  }
}

TEST(Doc, NestedTypesAndEvents) {
  Doc d({.client_id = 1});
  Recorder rec(d);
  auto files = d.GetMap("files");
  ASSERT_TRUE(files.Set("a.md", NewType{TypeKind::kText}).ok());
  ASSERT_TRUE(files.Set("b.bin", Any(Binary{1, 2, 3})).ok());
  auto text = files.Get("a.md")->AsText();
  ASSERT_TRUE(text.Insert(0, "# hi").ok());
  ASSERT_EQ(rec.events.size(), 3u);
  ASSERT_EQ(rec.events[0].changes.size(), 1u);
  EXPECT_EQ(rec.events[0].changes[0].root, "files");
  EXPECT_EQ(rec.events[0].changes[0].keys, std::vector<std::string>{"a.md"});
  EXPECT_EQ(rec.events[2].changes[0].nested_keys, std::vector<std::string>{"a.md"});
  EXPECT_TRUE(rec.events[2].changes[0].keys.empty());
  EXPECT_EQ(d.ToJson(), R"({"files":{"a.md":"# hi","b.bin":{"$binary":"AQID"}}})");
  // Remote side sees the same changes.
  Doc r({.client_id = 2});
  Recorder rrec(r);
  ASSERT_TRUE(r.ApplyUpdate(rec.updates[0]).ok());
  ASSERT_TRUE(r.ApplyUpdate(rec.updates[1]).ok());
  ASSERT_TRUE(r.ApplyUpdate(rec.updates[2]).ok());
  EXPECT_TRUE(rrec.events.back().changes.size() == 1 && !rrec.events.back().local);
  EXPECT_EQ(rrec.events.back().changes[0].nested_keys, std::vector<std::string>{"a.md"});
  ASSERT_TRUE(files.Delete("a.md").ok());
  EXPECT_EQ(rec.events.back().changes[0].keys, std::vector<std::string>{"a.md"});
  EXPECT_FALSE(text.valid() && text.ToString() != "");  // the deleted text was garbage-collected
}

TEST(Doc, ArrayInsertDeleteAndErrors) {
  Doc d({.client_id = 1});
  auto a = d.GetArray("a");
  ASSERT_TRUE(
      a.Insert(0, {Any(1), Any("x"), Any(Binary{7}), NewType{TypeKind::kMap}, Any(true)}).ok());
  ASSERT_TRUE(a.Delete(1, 2).ok());
  EXPECT_EQ(a.Length(), 3u);
  EXPECT_EQ(d.ToJson(), R"({"a":[1,{},true]})");
  EXPECT_FALSE(a.Delete(2, 5).ok());
  EXPECT_FALSE(a.Insert(9, {Any(1)}).ok());
  EXPECT_FALSE(d.GetText("t").Insert(1, "x").ok());
  // A root keeps its kind: asking for "a" as a map gives an invalid handle.
  EXPECT_FALSE(d.GetMap("a").valid());
  EXPECT_FALSE(d.GetMap("a").Set("k", Any(1)).ok());
  EXPECT_EQ(d.ToJson(), R"({"a":[1,{},true]})");
}

TEST(Doc, OutputAsTextMapArrayCheckTheKind) {
  Doc d({.client_id = 1});
  auto m = d.GetMap("m");
  ASSERT_TRUE(m.Set("t", NewType{TypeKind::kText}).ok());
  ASSERT_TRUE(m.Set("m", NewType{TypeKind::kMap}).ok());
  ASSERT_TRUE(m.Set("a", NewType{TypeKind::kArray}).ok());
  ASSERT_TRUE(m.Set("v", Any("plain")).ok());
  Recorder rec(d);
  const std::string before = d.ToJson();
  auto t = *m.Get("t");
  auto mm = *m.Get("m");
  auto a = *m.Get("a");
  auto v = *m.Get("v");
  // The right kind gives a working handle.
  EXPECT_TRUE(t.AsText().valid());
  EXPECT_TRUE(mm.AsMap().valid());
  EXPECT_TRUE(a.AsArray().valid());
  // Another kind, or an Any, gives an invalid handle whose operations fail:
  // before, AsMap() on a text ran map edits on the text's items.
  for (const Output* o : {&t, &a, &v}) {
    EXPECT_FALSE(o->AsMap().valid());
    Status s = o->AsMap().Set("k", Any(1));
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    EXPECT_FALSE(o->AsMap().Get("k").has_value());
  }
  for (const Output* o : {&mm, &a, &v}) {
    EXPECT_FALSE(o->AsText().valid());
    EXPECT_EQ(o->AsText().Insert(0, "x").code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(o->AsText().Length(), 0u);
  }
  for (const Output* o : {&t, &mm, &v}) {
    EXPECT_FALSE(o->AsArray().valid());
    EXPECT_EQ(o->AsArray().Insert(0, {Any(1)}).code(), StatusCode::kInvalidArgument);
    EXPECT_FALSE(o->AsArray().Get(0).has_value());
  }
  EXPECT_TRUE(rec.updates.empty());
  EXPECT_EQ(d.ToJson(), before);
  // AsType: any nested type, whatever its kind; nothing for an Any.
  EXPECT_EQ(t.AsType().kind(), TypeKind::kText);
  EXPECT_EQ(mm.AsType().kind(), TypeKind::kMap);
  EXPECT_EQ(a.AsType().kind(), TypeKind::kArray);
  EXPECT_FALSE(v.AsType().valid());
  EXPECT_EQ(v.kind(), TypeKind::kUnknown);
}

TEST(Doc, FormattingIsKeptAndSkippedByToString) {
  Doc d({.client_id = 1});
  auto t = d.GetText("t");
  Attributes bold{{"bold", Any(true)}};
  ASSERT_TRUE(t.Insert(0, "hello world").ok());
  ASSERT_TRUE(t.Format(0, 5, bold).ok());
  ASSERT_TRUE(t.InsertEmbed(5, Any(AnyObject{{"image", Any("x.png")}})).ok());
  EXPECT_EQ(t.ToString(), "hello world");
  EXPECT_EQ(
      t.DeltaJson(),
      R"([{"insert":"hello","attributes":{"bold":true}},{"insert":{"image":"x.png"}},{"insert":" world"}])");
  Doc e({.client_id = 2});
  ASSERT_TRUE(e.ApplyUpdate(Full(d)).ok());
  EXPECT_EQ(e.GetText("t").DeltaJson(), t.DeltaJson());
  EXPECT_EQ(Full(e), Full(d));
}

TEST(Update, MergeAndDiffMatchTheDoc) {
  Doc a({.client_id = 1});
  Recorder rec(a);
  auto t = a.GetText("t");
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(t.Insert(i % 3, std::string(1, 'a' + i)).ok());
  ASSERT_TRUE(t.Delete(3, 4).ok());
  auto merged = MergeUpdates(rec.updates);
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  Doc b({.client_id = 2});
  ASSERT_TRUE(b.ApplyUpdate(*merged).ok());
  EXPECT_EQ(b.ToJson(), a.ToJson());
  Doc c({.client_id = 3});
  for (size_t i = 0; i < 10; ++i) ASSERT_TRUE(c.ApplyUpdate(rec.updates[i]).ok());
  auto diff = DiffUpdate(*merged, c.EncodeStateVector());
  ASSERT_TRUE(diff.ok());
  ASSERT_TRUE(c.ApplyUpdate(*diff).ok());
  EXPECT_EQ(c.ToJson(), a.ToJson());
  auto sv = StateVectorFromUpdate(*merged);
  ASSERT_TRUE(sv.ok());
  EXPECT_EQ(*sv, a.EncodeStateVector());
}

TEST(Malformed, TruncatedRandomAndHugeInputsAreErrors) {
  Doc a({.client_id = 1});
  ASSERT_TRUE(a.GetText("t").Insert(0, "hello").ok());
  ASSERT_TRUE(a.GetMap("m").Set("k", Any(AnyObject{{"x", Any(1.5)}})).ok());
  ASSERT_TRUE(a.GetText("t").Delete(1, 2).ok());
  Bytes good = Full(a);
  for (size_t n = 0; n < good.size(); ++n) {
    Doc d({.client_id = 2});
    Bytes cut(good.begin(), good.begin() + n);
    EXPECT_FALSE(d.ApplyUpdate(cut).ok()) << n;
    EXPECT_EQ(d.ToJson(), "{}");  // rejected whole
  }
  unsigned seed =
      static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count());
  printf("random malformed inputs: seed %u\n", seed);
  std::mt19937 rng(seed);
#if defined(__SANITIZE_ADDRESS__)
  const int kRounds = 300;
#else
  const int kRounds = 3000;
#endif
  for (int i = 0; i < kRounds; ++i) {
    Bytes b = good;
    int mode = i % 3;
    if (mode == 0) {
      b.resize(rng() % 64);
      for (auto& x : b) x = static_cast<uint8_t>(rng());
    } else {
      for (int k = 0; k < 3; ++k) b[rng() % b.size()] = static_cast<uint8_t>(rng());
    }
    Doc d({.client_id = 2});
    Status s = d.ApplyUpdate(b);  // must not crash or hang; either outcome is fine
    (void)s;
    (void)MergeUpdates({b, good});
    (void)DiffUpdate(b, Bytes{0});
    (void)d.EncodeStateAsUpdate();
  }
  // Huge declared lengths fail fast without allocating them.
  Doc d({.client_id = 2});
  EXPECT_FALSE(d.ApplyUpdate(Hex("ff ff ff ff 0f")).ok());
  EXPECT_FALSE(d.ApplyUpdate(Hex("01 ff ff ff ff 0f 01 00")).ok());
  EXPECT_FALSE(d.ApplyUpdate(Hex("01 01 01 00 04 01 01 74 ff ff ff ff 0f")).ok());
  // A GC struct may be huge: it costs no memory.
  EXPECT_TRUE(d.ApplyUpdate(Hex("01 01 01 00 00 ff ff ff ff ff ff ff 0f 00")).ok());
  EXPECT_EQ(d.StateVector().at(1), (uint64_t{1} << 53) - 1);
  EXPECT_FALSE(d.ApplyUpdate(Hex("01 01 01 00 00 ff ff ff ff ff ff ff 1f 00")).ok());
  EXPECT_FALSE(DecodeStateVector(Hex("ff ff ff 7f")).ok());
}

}  // namespace
}  // namespace vaultd::crdt

namespace vaultd::crdt {
namespace {

TEST(Malformed, DeeplyNestedTypesStayBounded) {
  // 2000 nested maps, each the value "k" of the previous: no stack exhaustion
  // on integrate, delete, garbage collection or printing.
  Doc src({.client_id = 1, .gc = false});
  Recorder rec(src);
  MapRef cur = src.GetMap("m");
  int made = 0;
  for (; made < 2000; ++made) {
    if (!cur.Set("k", NewType{TypeKind::kMap}).ok()) break;
    cur = cur.Get("k")->AsMap();
  }
  EXPECT_EQ(made, 256);  // kMaxTypeDepth
  Doc d({.client_id = 2});
  for (const auto& u : rec.updates) ASSERT_TRUE(d.ApplyUpdate(u).ok());
  EXPECT_FALSE(d.ToJson().empty());
  ASSERT_TRUE(src.GetMap("m").Delete("k").ok());
  ASSERT_TRUE(d.ApplyUpdate(rec.updates.back()).ok());
  EXPECT_EQ(d.ToJson(), "{}");
}

}  // namespace
}  // namespace vaultd::crdt

namespace vaultd::crdt {
namespace {

TEST(Doc, LongDependencyChainsAcrossClientsResolveInOneUpdate) {
  // Client i inserts right after client i-1's text; the merged update lists
  // clients in descending order, i.e. against the dependency order.
  const int kClients = 400;
  std::vector<std::vector<uint8_t>> updates;
  Doc prev({.client_id = 1});
  ASSERT_TRUE(prev.GetText("t").Insert(0, "a").ok());
  updates.push_back(*prev.EncodeStateAsUpdate());
  for (int i = 2; i <= kClients; ++i) {
    Doc d({.client_id = static_cast<uint64_t>(i)});
    ASSERT_TRUE(d.ApplyUpdate(updates.back()).ok());
    ASSERT_TRUE(d.GetText("t").Insert(d.GetText("t").Length(), "b").ok());
    updates.push_back(*d.EncodeStateAsUpdate());
  }
  Doc all({.client_id = 9999});
  ASSERT_TRUE(all.ApplyUpdate(updates.back()).ok());
  EXPECT_FALSE(all.HasPending());
  EXPECT_EQ(all.GetText("t").Length(), static_cast<uint64_t>(kClients));
}

}  // namespace
}  // namespace vaultd::crdt

namespace vaultd::crdt {
namespace {

// B8: yjs parks every client on its dependency stack when the stack hits a
// gap, and retries its pending structs only once a client they wait for has
// passed the recorded clock. Here client 20's "Y" (after X:5) is parked with
// client 10's "h" (X:7, a gap at X:6): the wait is recorded as X:6, so when
// X:0..5 arrive yjs leaves "Y" pending although it could integrate now.
// Expected texts come from yjs 13.6 run on the same updates.
TEST(Doc, PendingStructsAreRetriedOnlyWhenAWaitedForClientPassesTheRecordedClock) {
  Doc x({.client_id = 10});
  Recorder rec(x);
  ASSERT_TRUE(x.GetText("t").Insert(0, "abcdef").ok());
  ASSERT_TRUE(x.GetText("t").Insert(6, "g").ok());
  ASSERT_TRUE(x.GetText("t").Insert(7, "h").ok());
  ASSERT_EQ(rec.updates.size(), 3u);
  Doc y({.client_id = 20});
  ASSERT_TRUE(y.ApplyUpdate(rec.updates[0]).ok());
  ASSERT_TRUE(y.GetText("t").Insert(6, "Y").ok());
  Doc w({.client_id = 30});
  ASSERT_TRUE(w.ApplyUpdate(Full(x)).ok());
  ASSERT_TRUE(w.ApplyUpdate(Full(y)).ok());
  Doc v({.client_id = 31});
  ASSERT_TRUE(v.ApplyUpdate(rec.updates[0]).ok());
  ASSERT_TRUE(v.ApplyUpdate(rec.updates[1]).ok());
  Bytes combined = Full(w, v.EncodeStateVector());  // X:7 "h" and Y:0 "Y"

  Doc z({.client_id = 40});
  ASSERT_TRUE(z.ApplyUpdate(combined).ok());
  EXPECT_TRUE(z.HasPending());
  EXPECT_EQ(z.GetText("t").ToString(), "");
  ASSERT_TRUE(z.ApplyUpdate(rec.updates[0]).ok());  // X:0..5: X is at 6, not past 6
  EXPECT_TRUE(z.HasPending());
  EXPECT_EQ(z.GetText("t").ToString(), "abcdef");
  ASSERT_TRUE(z.ApplyUpdate(rec.updates[1]).ok());  // X:6: now past 6, retry
  EXPECT_FALSE(z.HasPending());
  EXPECT_EQ(z.GetText("t").ToString(), "abcdefghY");
  EXPECT_EQ(z.GetText("t").ToString(), w.GetText("t").ToString());
}

TEST(Doc, MapEntriesAndTextDeltaAreStructured) {
  Doc d({.client_id = 1});
  auto m = d.GetMap("m");
  ASSERT_TRUE(m.Set("b", Any(2)).ok());
  ASSERT_TRUE(m.Set("a", NewType{TypeKind::kText}).ok());
  ASSERT_TRUE(m.Set("c", Any(3)).ok());
  ASSERT_TRUE(m.Delete("c").ok());
  auto entries = m.Entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].first, "a");
  ASSERT_TRUE(entries[0].second.is_type());
  TextRef nested = entries[0].second.AsType().AsText();
  ASSERT_TRUE(nested.valid());
  EXPECT_FALSE(entries[0].second.AsType().AsMap().valid());
  EXPECT_EQ(entries[1].first, "b");
  EXPECT_EQ(entries[1].second.any(), Any(2));

  ASSERT_TRUE(nested.Insert(0, "ab").ok());
  ASSERT_TRUE(nested.Format(1, 1, {{"bold", Any(true)}}).ok());
  ASSERT_TRUE(nested.InsertEmbed(2, Any("img")).ok());
  auto delta = nested.Delta();
  ASSERT_EQ(delta.size(), 3u);
  EXPECT_EQ(delta[0].insert.any(), Any("a"));
  EXPECT_TRUE(delta[0].attributes.empty());
  EXPECT_EQ(delta[1].insert.any(), Any("b"));
  ASSERT_EQ(delta[1].attributes.size(), 1u);
  EXPECT_EQ(delta[1].attributes[0].first, "bold");
  EXPECT_EQ(delta[2].insert.any(), Any("img"));  // after the format's end: not bold
  EXPECT_TRUE(delta[2].attributes.empty());
  EXPECT_EQ(nested.DeltaJson(),
            R"([{"insert":"a"},{"insert":"b","attributes":{"bold":true}},{"insert":"img"}])");
}

}  // namespace
}  // namespace vaultd::crdt
