#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "crdt_fuzz.h"
#include "vaultd/crdt/doc.h"
#include "vaultd/crdt/sync.h"

namespace vaultd::crdt::fuzz {
namespace {

void Messages(std::span<const uint8_t> data) {
  if (auto m = DecodeSyncMessage(data); m.ok()) {
    auto again = DecodeSyncMessage(EncodeSyncMessage(*m));
    FUZZ_CHECK(again.ok(), "an encoded sync message does not decode");
    FUZZ_CHECK(again->type == m->type && again->payload == m->payload,
               "sync message round trip changed it");
  }
  if (auto a = DecodeAwarenessUpdate(data); a.ok()) {
    Bytes once = EncodeAwarenessUpdate(*a);
    auto back = DecodeAwarenessUpdate(once);
    FUZZ_CHECK(back.ok(), "an encoded awareness update does not decode");
    FUZZ_CHECK(EncodeAwarenessUpdate(*back) == once, "awareness update round trip is not stable");
  }
  Awareness aw(42);
  (void)aw.Apply(data, 1000);
  (void)aw.Expire(100000);
}

}  // namespace

void FuzzSync(std::span<const uint8_t> data) {
  Messages(data);
  // The input as a stream of frames: each frame is prefixed by one length byte.
  Doc doc({.client_id = 0x7ffffffc, .gc = true});
  Awareness aw(7);
  SyncSession session(doc, &aw);
  (void)session.Start();
  (void)session.Receive(data, 0);
  size_t pos = 0;
  int64_t now = 0;
  while (pos < data.size()) {
    size_t n = data[pos++];
    n = std::min(n, data.size() - pos);
    auto frame = data.subspan(pos, n);
    pos += n;
    now += 1000;
    auto before = doc.EncodeStateVector();
    auto out = session.Receive(frame, now);
    if (!out.ok()) {
      FUZZ_CHECK(doc.EncodeStateVector() == before, "a rejected frame changed the document");
    }
  }
  if (auto full = doc.EncodeStateAsUpdate(); full.ok()) {
    Doc again({.client_id = 0x7fffffff, .gc = true});
    FUZZ_CHECK(again.ApplyUpdate(*full).ok(), "the synced document's own encoding was rejected");
  }
}

}  // namespace vaultd::crdt::fuzz
