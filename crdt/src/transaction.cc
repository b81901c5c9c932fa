// Transactions: begin/end, the changed-types record, the TransactionEvent, and the commit
// (cleanup, update handlers).
#include <algorithm>

#include "doc_impl.h"
#include "vaultd/crdt/update.h"

namespace vaultd::crdt {

void DocImpl::AddChanged(Type* type, const std::string* key) {
  Item* item = type->item;
  if (item == nullptr || (item->id.clock < txn->BeforeClock(item->id.client) && !item->deleted)) {
    if (key)
      txn->changed.emplace_back(type, *key);
    else
      txn->changed.emplace_back(type, std::nullopt);
  }
}

void DocImpl::Begin(bool local, std::string_view origin) {
  txn_storage.Reset(local, origin, clients);
  txn = &txn_storage;
}

void DocImpl::End() {
  Transaction* cur = txn;
  while (true) {
    bool emit = Commit(*cur);
    txn = nullptr;
    if (emit) {
      // Handlers run outside the transaction: they may edit the doc again.
      std::vector<uint8_t> bytes = std::move(emit_update_);
      TransactionEvent ev = std::move(emit_event_);
      auto hs = handlers;  // a handler may unsubscribe
      for (auto& [id, h] : hs) h(bytes, ev);
    }
    if (!follow_up_pending_) return;
    follow_up_pending_ = false;
    cur = &follow_storage_;
    txn = cur;
  }
}

TransactionEvent DocImpl::BuildEvent(const Transaction& t) const {
  TransactionEvent ev;
  ev.local = t.local;
  ev.origin = t.origin;
  std::map<std::string, RootChange> roots;
  for (const auto& [type, key] : t.changed) {
    const Type* cur = type;
    bool direct = true;
    bool under_key = false;
    std::string top_key;
    bool orphan = false;
    while (cur->item) {
      const Item* it = cur->item;
      if (!it->parent) {
        orphan = true;
        break;
      }
      under_key = it->has_parent_sub;
      top_key = it->parent_sub;
      cur = it->parent;
      direct = false;
    }
    if (orphan) continue;
    RootChange& rc = roots[cur->name];
    rc.root = cur->name;
    rc.kind = cur->kind == TypeKind::kUnknown ? Infer(cur) : cur->kind;
    if (direct) {
      if (key)
        rc.keys.push_back(*key);
      else
        rc.self_changed = true;
    } else if (under_key) {
      rc.nested_keys.push_back(top_key);
    } else {
      rc.self_changed = true;
    }
  }
  for (auto& [name, rc] : roots) {
    if (!rc.keys.empty()) rc.self_changed = true;
    std::sort(rc.keys.begin(), rc.keys.end());
    rc.keys.erase(std::unique(rc.keys.begin(), rc.keys.end()), rc.keys.end());
    std::sort(rc.nested_keys.begin(), rc.nested_keys.end());
    rc.nested_keys.erase(std::unique(rc.nested_keys.begin(), rc.nested_keys.end()),
                         rc.nested_keys.end());
    ev.changes.push_back(std::move(rc));
  }
  return ev;
}

bool DocImpl::Commit(Transaction& t) {
  if (!handlers.empty()) emit_event_ = BuildEvent(t);
  t.ds.SortAndMerge();
  if (!t.local) {
    // yjs empties the marker list but leaves the items' marker flags as they are.
    bool need_cleanup = false;
    for (auto& [type, key] : t.changed) {
      if (type->markers_enabled) type->markers.clear();
      if (type->has_formatting &&
          (type->kind == TypeKind::kText || type->kind == TypeKind::kXmlText) &&
          (!type->item || !type->item->deleted))
        need_cleanup = true;
    }
    if (need_cleanup && &t != &follow_storage_) {
      follow_storage_.Reset(true, {}, clients);
      txn = &follow_storage_;
      FormattingCleanupBody(t);
      txn = &t;
      follow_up_pending_ = true;
    }
  }
  t.ds.SortAndMerge();
  if (gc && !t.ds.empty()) TryGcDeleteSet(t.ds);
  if (!t.ds.empty()) TryMergeDeleteSet(t.ds);
  bool state_changed = false;
  for (auto& [client, cs] : clients) {
    uint64_t before = t.BeforeClock(client);
    if (before == cs.state()) continue;
    state_changed = true;
    // Merge the structs this transaction added, right to left; the first new
    // one may merge into an older neighbour (yjs: firstChangePos >= 1).
    ClientStructs::Pos p = cs.Last();
    while (cs.At(p)->id.clock >= before) {
      auto probe = p;
      if (!cs.Prev(&probe)) break;
      int merged = 0;
      p = MergeWithLefts(cs, p, &merged);
      if (!cs.Prev(&p)) break;
    }
  }
  for (size_t m = t.merge_structs.size(); m-- > 0;) {
    const ID id = t.merge_structs[m];
    auto it = clients.find(id.client);
    if (it == clients.end()) continue;
    ClientStructs& cs = it->second;
    if (id.clock >= cs.state()) continue;
    auto p = cs.Find(id.clock);
    auto next = p;
    if (cs.Next(&next)) {
      int merged = 0;
      MergeWithLefts(cs, next, &merged);
      if (merged > 1) continue;
      p = cs.Find(id.clock);
    }
    auto prev = p;
    if (cs.Prev(&prev)) {
      int merged = 0;
      MergeWithLefts(cs, p, &merged);
    }
  }
  if (!handlers.empty() && (state_changed || !t.ds.empty())) {
    Encoder enc;
    std::map<uint64_t, uint64_t> from;
    for (const auto& [client, cs] : clients) {
      uint64_t before = t.BeforeClock(client);
      if (cs.state() > before) from[client] = before;
    }
    WriteStructsFrom(enc, from);
    WriteDeleteSet(enc, t.ds);
    emit_update_ = enc.Take();
    return true;
  }
  return false;
}

}  // namespace vaultd::crdt
