// Cleanup after a transaction: merging neighbouring items and garbage-collecting deleted content.
#include "doc_impl.h"

namespace vaultd::crdt {

bool DocImpl::MergeItems(Item* left, Item* right) {
  if (left->is_gc() || right->is_gc()) {
    if (left->kind != right->kind) return false;
    left->length += right->length;
    return true;
  }
  if (left->kind != right->kind) return false;
  if (!(right->has_origin &&
        right->origin == ID{left->id.client, left->id.clock + left->length - 1}))
    return false;
  if (left->right != right) return false;
  if (!SameId(left->has_right_origin, left->right_origin, right->has_right_origin,
              right->right_origin))
    return false;
  if (left->id.client != right->id.client || left->id.clock + left->length != right->id.clock)
    return false;
  if (left->deleted != right->deleted) return false;
  if (!MergeContent(left, right)) return false;
  Type* parent = left->parent;
  if (parent && parent->cache_item == right) {
    parent->cache_item = left;
    if (!left->deleted && left->countable()) parent->cache_index -= left->length;
  }
  if (parent && !parent->markers.empty()) {
    for (auto& m : parent->markers) {
      if (m.p == right) {
        m.p = left;
        if (!left->deleted && left->countable()) m.index -= left->length;
      }
    }
  }
  if (right->keep) left->keep = true;
  left->right = right->right;
  if (left->right) left->right->left = left;
  left->length += right->length;
  return true;
}

ClientStructs::Pos DocImpl::MergeWithLefts(ClientStructs& cs, ClientStructs::Pos p, int* merged) {
  *merged = 0;
  Item* right = cs.At(p);
  auto lp = p;
  while (cs.Prev(&lp)) {
    Item* left = cs.At(lp);
    if (left->deleted != right->deleted || left->is_gc() != right->is_gc()) break;
    if (!MergeItems(left, right)) break;
    if (right->is_item() && right->has_parent_sub && right->parent) {
      auto it = right->parent->map.find(right->parent_sub);
      if (it != right->parent->map.end() && it->second == right) it->second = left;
    }
    cs.Erase(p);
    FreeStruct(right);
    ++*merged;
    p = lp;
    right = left;
  }
  return p;
}

void DocImpl::GcItem(Item* item, bool parent_gcd) {
  if (item->kind == kType) {
    Type* t = item->extra->type.get();
    for (Item* i = t->start; i;) {
      Item* next = i->right;
      if (i->is_item()) GcItem(i, true);
      i = next;
    }
    t->start = nullptr;
    for (auto& [k, v] : t->map) {
      for (Item* i = v; i;) {
        Item* prev = i->left;
        if (i->is_item()) GcItem(i, true);
        i = prev;
      }
    }
    t->map.clear();
    t->item = nullptr;
    t->length = 0;
    t->markers.clear();
    t->cache_item = nullptr;  // its children may be merged GC structs later
    t->markers_enabled = false;
    t->doc = nullptr;  // marks the type dead
    dead_types.push_back(std::move(item->extra->type));
  }
  item->str.clear();
  item->str.shrink_to_fit();
  item->extra.reset();
  if (parent_gcd) {
    item->kind = kGC;
    item->parent = nullptr;
    item->left = item->right = nullptr;
    item->has_parent_sub = false;
    item->parent_sub.clear();
  } else {
    item->kind = kDeleted;
  }
}

template <typename F>
void DocImpl::ForEachKnownDeleteRange(const DeleteSet& ds, F&& f) {
  // Right to left within each client, as yjs walks delete sets in cleanup.
  for (const auto& [client, dels] : ds.clients) {
    auto it = clients.find(client);
    if (it == clients.end()) continue;
    ClientStructs& cs = it->second;
    for (size_t k = dels.size(); k-- > 0;)
      if (dels[k].clock < cs.state()) f(cs, dels[k]);
  }
}

void DocImpl::TryGcDeleteSet(const DeleteSet& ds) {
  ForEachKnownDeleteRange(ds, [&](ClientStructs& cs, const DeleteRange& d) {
    uint64_t end = d.clock + d.len;
    for (auto p = cs.Find(d.clock); cs.Valid(p); cs.Next(&p)) {
      Item* s = cs.At(p);
      if (s->id.clock >= end) break;
      // A ContentDeleted item is already a tombstone.
      if (s->is_item() && s->deleted && !s->keep && s->kind != kDeleted) GcItem(s, false);
    }
  });
}

void DocImpl::TryMergeDeleteSet(const DeleteSet& ds) {
  ForEachKnownDeleteRange(ds, [&](ClientStructs& cs, const DeleteRange& d) {
    uint64_t last = std::min(d.clock + d.len - 1, cs.state() - 1);
    auto p = cs.Find(last);
    cs.Next(&p);
    if (!cs.Valid(p)) p = cs.Find(cs.state() - 1);
    while (true) {
      if (cs.At(p)->id.clock < d.clock) break;
      auto probe = p;
      if (!cs.Prev(&probe)) break;  // index 0 cannot merge left
      int merged = 0;
      p = MergeWithLefts(cs, p, &merged);
      if (!cs.Prev(&p)) break;
    }
  });
}

}  // namespace vaultd::crdt
