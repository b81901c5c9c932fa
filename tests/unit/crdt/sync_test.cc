#include <gtest/gtest.h>
#include <deque>

#include "vaultd/crdt/sync.h"

namespace vaultd::crdt {
namespace {

// Two sessions joined by in-memory queues; pumps until both are quiet.
struct Link {
  SyncSession& a;
  SyncSession& b;
  std::deque<Bytes> to_a, to_b;
  void Pump() {
    for (int guard = 0; guard < 100 && (!to_a.empty() || !to_b.empty()); ++guard) {
      while (!to_b.empty()) {
        auto r = b.Receive(to_b.front());
        to_b.pop_front();
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        for (auto& f : *r) to_a.push_back(f);
      }
      while (!to_a.empty()) {
        auto r = a.Receive(to_a.front());
        to_a.pop_front();
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        for (auto& f : *r) to_b.push_back(f);
      }
    }
  }
};

TEST(SyncMessages, RoundTrip) {
  SyncMessage m{SyncMessageType::kUpdate, {1, 2, 3}};
  Bytes f = EncodeSyncFrame(m);
  EXPECT_EQ(f, (Bytes{0, 2, 3, 1, 2, 3}));
  auto back = DecodeSyncMessage(std::span<const uint8_t>(f).subspan(1));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->payload, m.payload);
  EXPECT_FALSE(DecodeSyncMessage(Bytes{7, 0}).ok());
  EXPECT_FALSE(DecodeSyncMessage(Bytes{0, 9, 1}).ok());
}

TEST(SyncSession, TwoPeersConvergeAndMarkSynced) {
  Doc da({.client_id = 1}), db({.client_id = 2});
  ASSERT_TRUE(da.GetText("t").Insert(0, "from a").ok());
  ASSERT_TRUE(db.GetMap("m").Set("k", Any("from b")).ok());
  SyncSession sa(da), sb(db);
  Link link{sa, sb, {}, {}};
  for (auto& f : sa.Start()) link.to_b.push_back(f);
  for (auto& f : sb.Start()) link.to_a.push_back(f);
  EXPECT_FALSE(sa.synced());
  link.Pump();
  EXPECT_TRUE(sa.synced());
  EXPECT_TRUE(sb.synced());
  EXPECT_EQ(da.ToJson(), db.ToJson());
  // Later local edits travel as Update frames.
  int h = da.OnUpdate([&](std::span<const uint8_t> u, const TransactionEvent&) {
    link.to_b.push_back(SyncSession::UpdateFrame(u));
  });
  ASSERT_TRUE(da.GetText("t").Insert(0, ">").ok());
  da.RemoveHandler(h);
  link.Pump();
  EXPECT_EQ(db.GetText("t").ToString(), ">from a");
}

TEST(SyncSession, BadFramesAreErrorsAndDenialIsReported) {
  Doc d({.client_id = 1});
  SyncSession s(d);
  EXPECT_FALSE(s.Receive(Bytes{}).ok());
  EXPECT_FALSE(s.Receive(Bytes{9}).ok());
  EXPECT_FALSE(s.Receive(Bytes{0, 2, 5, 1}).ok());           // truncated update payload
  EXPECT_FALSE(s.Receive(Bytes{0, 2, 2, 0xff, 0xff}).ok());  // malformed update
  EXPECT_EQ(d.ToJson(), "{}");
  Bytes denied{2, 0, 4, 'n', 'o', 'p', 'e'};
  ASSERT_TRUE(s.Receive(denied).ok());
  ASSERT_TRUE(s.denied().has_value());
  EXPECT_EQ(*s.denied(), "nope");
}

TEST(SyncSession, FrameKindsAreTheYWebsocketNumbers) {
  EXPECT_EQ(EncodeQueryAwarenessFrame(), (Bytes{3}));
  EXPECT_EQ(EncodeAwarenessFrame(Bytes{0}), (Bytes{1, 1, 0}));
  EXPECT_EQ(EncodePermissionDeniedFrame("no"), (Bytes{2, 0, 2, 'n', 'o'}));
  EXPECT_EQ(SyncSession::UpdateFrame(Bytes{7}), (Bytes{0, 2, 1, 7}));
}

TEST(SyncSession, ReadOnlySessionSendsOnlyStep1AndStillReceives) {
  Doc dr({.client_id = 1}), dw({.client_id = 2});
  ASSERT_TRUE(dr.GetText("t").Insert(0, "local only").ok());
  ASSERT_TRUE(dw.GetText("t").Insert(0, "shared").ok());
  SyncSession reader(dr, nullptr, {.read_only = true}), writer(dw);
  EXPECT_TRUE(reader.read_only());
  std::vector<Bytes> sent_by_reader = reader.Start();
  ASSERT_EQ(sent_by_reader.size(), 1u);
  EXPECT_EQ(sent_by_reader[0][0], static_cast<uint8_t>(FrameKind::kSync));
  EXPECT_EQ(sent_by_reader[0][1], static_cast<uint8_t>(SyncMessageType::kStep1));
  // The writer's SyncStep1 gets no SyncStep2 from the reader.
  for (auto& f : writer.Start()) {
    auto r = reader.Receive(f);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r->empty());
  }
  // The reader's SyncStep1 is answered; the reader applies the answer.
  auto answer = writer.Receive(sent_by_reader[0]);
  ASSERT_TRUE(answer.ok());
  for (auto& f : *answer) ASSERT_TRUE(reader.Receive(f).ok());
  EXPECT_TRUE(reader.synced());
  EXPECT_FALSE(writer.synced());
  EXPECT_EQ(dw.GetText("t").ToString(), "shared");
  EXPECT_NE(dr.GetText("t").ToString().find("shared"), std::string::npos);
  // Local edits of the reader produce no frames; the writer's travel.
  std::vector<Bytes> local;
  int h = dr.OnUpdate([&](std::span<const uint8_t> u, const TransactionEvent&) {
    for (auto& f : reader.LocalUpdateFrames(u)) local.push_back(f);
  });
  ASSERT_TRUE(dr.GetText("t").Insert(0, "x").ok());
  dr.RemoveHandler(h);
  EXPECT_TRUE(local.empty());
  ASSERT_EQ(writer.LocalUpdateFrames(Bytes{0, 0}).size(), 1u);
}

TEST(SyncSession, ReadOnlySessionStillSharesAwareness) {
  Doc d({.client_id = 1});
  Awareness a(1);
  a.SetLocalState(R"({"user":"viewer"})", 0);
  SyncSession s(d, &a, {.read_only = true});
  std::vector<Bytes> start = s.Start();
  ASSERT_EQ(start.size(), 2u);
  EXPECT_EQ(start[1][0], static_cast<uint8_t>(FrameKind::kAwareness));
  auto out = s.Receive(EncodeQueryAwarenessFrame());
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0][0], static_cast<uint8_t>(FrameKind::kAwareness));
}

TEST(SyncProtocol, StateMachineWithoutFraming) {
  Doc da({.client_id = 1}), db({.client_id = 2});
  ASSERT_TRUE(da.GetText("t").Insert(0, "a").ok());
  SyncProtocol pa(da), pb(db);
  SyncMessage step1 = pb.Start();
  EXPECT_EQ(step1.type, SyncMessageType::kStep1);
  auto replies = pa.Handle(step1);
  ASSERT_TRUE(replies.ok());
  ASSERT_EQ(replies->size(), 1u);
  EXPECT_EQ((*replies)[0].type, SyncMessageType::kStep2);
  ASSERT_TRUE(pb.Handle((*replies)[0]).ok());
  EXPECT_TRUE(pb.synced());
  EXPECT_EQ(db.GetText("t").ToString(), "a");
  EXPECT_FALSE(pb.Handle({SyncMessageType::kUpdate, {0xff, 0xff}}).ok());
  EXPECT_FALSE(pb.HandleAwareness(Bytes{1, 1, 1, 3, 'b', 'a', 'd'}, 0).ok());
  EXPECT_FALSE(pb.AnswerAwarenessQuery().has_value());
  EXPECT_FALSE(pb.StartAwareness().has_value());
  EXPECT_EQ(db.GetText("t").ToString(), "a");
}

TEST(Awareness, UpdatesClocksAndExpiry) {
  Awareness a(1), b(2);
  a.SetLocalState(R"({"user":"alice"})", 0);
  auto changed = b.Apply(a.EncodeLocal(), 10);
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(*changed, std::vector<uint64_t>{1});
  EXPECT_EQ(b.states().at(1).state_json, R"({"user":"alice"})");
  // An old clock is ignored.
  AwarenessUpdate stale{{1, {0, R"({"user":"mallory"})"}}};
  ASSERT_TRUE(b.Apply(EncodeAwarenessUpdate(stale), 20).ok());
  EXPECT_EQ(b.states().at(1).state_json, R"({"user":"alice"})");
  EXPECT_TRUE(b.Expire(10 + 29999).empty());
  EXPECT_EQ(b.Expire(10 + 30000), std::vector<uint64_t>{1});
  EXPECT_TRUE(b.Clients().empty());
  EXPECT_FALSE(b.Apply(Bytes{1, 1, 1, 3, 'b', 'a', 'd'}, 0).ok());
  // Awareness frames and queries go through the session.
  Doc d({.client_id = 2});
  SyncSession s(d, &b);
  b.SetLocalState(R"({"user":"bob"})", 0);
  auto out = s.Receive(EncodeQueryAwarenessFrame());
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0][0], 1);
}

// y-protocols puts no cap on a state; only its JSON is checked, in linear time
// (through nlohmann::ordered_json it was quadratic: ~40 s for these 100,000 keys).
TEST(Awareness, StateWithHundredThousandKeysIsAcceptedAndKeptVerbatim) {
  std::string state = "{";
  for (int i = 0; i < 100000; ++i)
    state += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":" + std::to_string(i);
  state += "}";
  Awareness b(2);
  auto changed = b.Apply(EncodeAwarenessUpdate(AwarenessUpdate{{1, {1, state}}}), 0);
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_EQ(*changed, std::vector<uint64_t>{1});
  EXPECT_EQ(b.states().at(1).state_json, state);
  // The same state cut short is not JSON: the whole update is refused.
  auto bad = b.Apply(
      EncodeAwarenessUpdate(AwarenessUpdate{{3, {1, state.substr(0, state.size() - 1)}}}), 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "awareness state of client 3 is not JSON");
  EXPECT_EQ(b.states().count(3), 0u);
}
}  // namespace
}  // namespace vaultd::crdt
