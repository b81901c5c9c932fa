#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "crdt_fuzz.h"
#include "vaultd/crdt/doc.h"
#include "vaultd/crdt/update.h"

namespace vaultd::crdt::fuzz {
namespace {

// What a document reads as, for comparisons: canonical JSON of every root, kinds inferred.
std::string Snapshot(const Doc& doc) { return doc.ToJson(); }

void RoundTrip(Doc& doc, bool gc) {
  auto full = doc.EncodeStateAsUpdate();
  FUZZ_CHECK(full.ok(), "EncodeStateAsUpdate of an applied update failed");
  Doc again({.client_id = 0x7fffffff, .gc = gc});
  Status s = again.ApplyUpdate(*full);
  FUZZ_CHECK(s.ok(), "our own encoding of an accepted update was rejected");
  FUZZ_CHECK(Snapshot(again) == Snapshot(doc),
             "re-encoded state reads back as a different document");
  FUZZ_CHECK(again.EncodeStateVector() == doc.EncodeStateVector(),
             "re-encoded state has another state vector");
  // A diff against our own state vector adds nothing.
  auto sv = doc.EncodeStateVector();
  auto diff = doc.EncodeStateAsUpdate(sv);
  FUZZ_CHECK(diff.ok(), "EncodeStateAsUpdate(own state vector) failed");
  FUZZ_CHECK(again.ApplyUpdate(*diff).ok(), "a diff against our own state vector was rejected");
  FUZZ_CHECK(Snapshot(again) == Snapshot(doc), "applying an empty diff changed the document");
}

}  // namespace

void FuzzUpdate(std::span<const uint8_t> data) {
  (void)ValidateUpdate(data);
  (void)DumpUpdateJson(data);
  (void)StateVectorFromUpdate(data);
  (void)DecodeStateVector(data);

  for (bool gc : {true, false}) {
    Doc doc({.client_id = 0x7ffffffe, .gc = gc});
    Status s = doc.ApplyUpdate(data);
    if (s.ok()) {
      RoundTrip(doc, gc);
      // Duplicates are no-ops.
      std::string before = Snapshot(doc);
      FUZZ_CHECK(doc.ApplyUpdate(data).ok(),
                 "the same update applied twice was rejected the second time");
      FUZZ_CHECK(Snapshot(doc) == before, "applying the same update twice changed the document");
    } else {
      // A rejected update leaves the document unchanged (doc.h: "rejected whole").
      FUZZ_CHECK(doc.EncodeStateVector() == Doc({.client_id = 1, .gc = gc}).EncodeStateVector(),
                 "a rejected update changed the document's state vector");
    }
  }

  // The input cut in two, applied second part first: exercises pending structs and deletes.
  if (data.size() >= 2) {
    size_t cut = 1 + data[0] % (data.size() - 1);
    Doc doc({.client_id = 0x7ffffffd, .gc = true});
    (void)doc.ApplyUpdate(data.subspan(cut));
    (void)doc.ApplyUpdate(data.subspan(0, cut));
    if (auto full = doc.EncodeStateAsUpdate(); full.ok()) {
      Doc again({.client_id = 0x7fffffff, .gc = true});
      FUZZ_CHECK(again.ApplyUpdate(*full).ok(),
                 "our encoding of a partly applied document was rejected");
    }
  }

  std::vector<std::vector<uint8_t>> both{std::vector<uint8_t>(data.begin(), data.end())};
  both.push_back(both[0]);
  if (auto merged = MergeUpdates(both); merged.ok()) {
    FUZZ_CHECK(ValidateUpdate(*merged).ok(),
               "MergeUpdates produced an update that does not validate");
  }
  static const uint8_t kEmptySv[] = {0};
  if (auto diff = DiffUpdate(data, kEmptySv); diff.ok()) {
    FUZZ_CHECK(ValidateUpdate(*diff).ok(), "DiffUpdate produced an update that does not validate");
  }
}

}  // namespace vaultd::crdt::fuzz
