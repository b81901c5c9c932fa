// The document engine (private): struct store, integration (YATA),
// transactions, garbage collection, pending updates.
#pragma once

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "block_store.h"
#include "vaultd/crdt/doc.h"

namespace vaultd::crdt {

// Two optional IDs (an origin with its presence flag) are the same.
inline bool SameId(bool ha, const ID& a, bool hb, const ID& b) {
  return ha == hb && (!ha || a == b);
}

struct Transaction {
  bool local = true;
  std::string origin;
  std::vector<std::pair<uint64_t, uint64_t>> before_state;  // sorted by client
  DeleteSet ds;
  std::vector<std::pair<Type*, std::optional<std::string>>> changed;
  std::vector<ID> merge_structs;
  // Starts a new transaction in this (reused) storage; `state` is the store's clocks.
  template <typename Clients>
  void Reset(bool is_local, std::string_view from, const Clients& clients) {
    local = is_local;
    origin.assign(from);
    before_state.clear();
    ds.clients.clear();
    changed.clear();
    merge_structs.clear();
    for (const auto& [client, cs] : clients) before_state.emplace_back(client, cs.state());
    std::sort(before_state.begin(), before_state.end());
  }
  uint64_t BeforeClock(uint64_t client) const {
    auto it = std::lower_bound(before_state.begin(), before_state.end(),
                               std::pair<uint64_t, uint64_t>(client, 0));
    return it != before_state.end() && it->first == client ? it->second : 0;
  }
};

// A cursor into a type's list: between `left` and `right`, `index` visible units in.
struct ListPos {
  Item* left = nullptr;
  Item* right = nullptr;
  uint64_t index = 0;
  Attributes attrs;  // formatting in effect (text only, when tracked)
};

class DocImpl {
 public:
  DocImpl(uint64_t client_id, bool gc) : client_id(client_id), gc(gc) {}
  ~DocImpl();

  uint64_t client_id;
  bool gc;
  ItemPool pool;
  std::unordered_map<uint64_t, ClientStructs> clients;
  std::map<std::string, std::unique_ptr<Type>> share;
  std::map<uint64_t, std::vector<Item*>> pending;  // per client, sorted by clock
  DeleteSet pending_ds;
  // Per client, the clock that must be passed before the pending structs are
  // tried again (yjs: pendingStructs.missing).
  std::map<uint64_t, uint64_t> pending_missing;
  std::vector<std::unique_ptr<Type>>
      dead_types;  // garbage-collected nested types (handles may point here)
  Transaction* txn = nullptr;
  Transaction txn_storage;  // reused so that a transaction allocates nothing in steady state
  std::vector<std::pair<int, Doc::UpdateHandler>> handlers;
  int next_handler = 1;

  // Store.
  uint64_t GetState(uint64_t client) const {
    auto it = clients.find(client);
    return it == clients.end() ? 0 : it->second.state();
  }
  Item* GetItem(ID id);
  Item* GetItemCleanStart(ID id);
  Item* GetItemCleanEnd(ID id);
  Item* SplitItem(Item* left, uint64_t diff);
  void AddStruct(Item* item) { clients[item->id.client].PushBack(item); }
  Type* GetOrCreateRoot(const std::string& name, TypeKind kind);

  // Transactions.
  template <typename F>
  void Transact(bool local, std::string_view origin, F&& fn) {
    if (txn) {
      fn();
      return;
    }
    Begin(local, origin);
    fn();
    End();
  }
  void Begin(bool local, std::string_view origin);
  void End();
  // Cleans up after a transaction; returns true when handlers must be told (emit_*).
  bool Commit(Transaction& t);
  // yjs cleanupYTextAfterTransaction: after a remote transaction touched a
  // formatted text, a local follow-up transaction deletes redundant formats.
  void FormattingCleanupBody(Transaction& remote);
  Transaction follow_storage_;
  bool follow_up_pending_ = false;
  std::vector<uint8_t> emit_update_;
  TransactionEvent emit_event_;
  void AddChanged(Type* type, const std::string* key);

  // Integration.
  void Integrate(Item* item, uint64_t offset);
  void Delete(Item* item);
  // Returns true when a dependency is missing; otherwise resolves the item's neighbours/parent.
  // On true, *missing is the client whose struct is still unknown.
  bool ResolveDeps(Item* item, uint64_t* missing);
  // Integrates what it can from per-client queues (sorted by clock); true if anything was.
  bool IntegrateQueues(std::map<uint64_t, std::vector<Item*>>& queues,
                       std::map<uint64_t, uint64_t>* missing);
  DeleteSet ApplyDeleteSet(const DeleteSet& ds);
  Status ApplyUpdate(std::span<const uint8_t> update, std::string_view origin);

  // Encoding.
  void WriteStructsFrom(Encoder& enc, const std::map<uint64_t, uint64_t>& from) const;
  DeleteSet DeleteSetFromStore() const;
  std::vector<uint8_t> PendingUpdate() const;
  Result<std::vector<uint8_t>> EncodeStateAsUpdate(std::span<const uint8_t> sv) const;

  // List operations (text and array).
  // yjs findPosition: from a search marker (when allowed and enabled) or the start.
  ListPos FindPos(Type* t, uint64_t index, bool use_marker);
  void FindNextPosition(ListPos& pos, uint64_t count);
  Type::Marker* FindMarker(Type* t, uint64_t index);
  void UpdateMarkerChanges(Type* t, uint64_t index, int64_t len);
  void Forward(ListPos& pos);
  ListPos FindPosCached(Type* t, uint64_t index);
  bool ExactMarkers(const Type* t) const { return t->ever_formatted && t->markers_enabled; }
  void SetCache(Type* t, Item* item, uint64_t index) {
    t->cache_item = item;
    t->cache_index = index;
  }
  Item* NewLocalItem(Type* parent, Item* left, Item* right, const std::string* key);

  // JSON.
  void AppendTypeJson(const Type* t, TypeKind kind, std::string* out) const;
  void AppendItemValueJson(const Item* item, size_t i, std::string* out) const;
  TypeKind Infer(const Type* t) const;

 private:
  void GcItem(Item* item, bool parent_gcd);
  template <typename F>
  void ForEachKnownDeleteRange(const DeleteSet& ds, F&& f);
  void TryGcDeleteSet(const DeleteSet& ds);
  void TryMergeDeleteSet(const DeleteSet& ds);
  ClientStructs::Pos MergeWithLefts(ClientStructs& cs, ClientStructs::Pos p, int* merged);
  bool MergeItems(Item* left, Item* right);
  TransactionEvent BuildEvent(const Transaction& t) const;
  void FreeStruct(Item* item);
  std::unordered_set<Item*> conflicting_;
  std::unordered_set<Item*> before_origin_;
};

}  // namespace vaultd::crdt
