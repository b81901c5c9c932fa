#include <algorithm>
#include <random>

#include "doc_impl.h"
#include "vaultd/crdt/update.h"

namespace vaultd::crdt {

namespace {
bool SameId(bool ha, const ID& a, bool hb, const ID& b) { return ha == hb && (!ha || a == b); }
}  // namespace

DocImpl::~DocImpl() {
  for (auto& [client, cs] : clients) cs.ForEach([&](Item* i) { i->~Item(); });
  for (auto& [client, list] : pending)
    for (Item* i : list) i->~Item();
}

void DocImpl::FreeStruct(Item* item) { pool.Free(item); }

// ---------------------------------------------------------------- store access

Item* DocImpl::GetItem(ID id) {
  auto& cs = clients.at(id.client);
  return cs.At(cs.Find(id.clock));
}

Item* DocImpl::SplitItem(Item* left, uint64_t diff) {
  Item* r = pool.New();
  r->id = {left->id.client, left->id.clock + diff};
  r->left = left;
  r->has_origin = true;
  r->origin = {left->id.client, left->id.clock + diff - 1};
  r->right = left->right;
  r->has_right_origin = left->has_right_origin;
  r->right_origin = left->right_origin;
  r->parent = left->parent;
  r->has_parent_sub = left->has_parent_sub;
  r->parent_sub = left->parent_sub;
  SpliceContent(left, r, diff);
  r->length = left->length - diff;
  r->deleted = left->deleted;
  r->keep = left->keep;
  left->right = r;
  if (r->right) r->right->left = r;
  if (txn) txn->merge_structs.push_back(r->id);
  if (r->has_parent_sub && r->right == nullptr && r->parent) r->parent->map[r->parent_sub] = r;
  left->length = diff;
  return r;
}

Item* DocImpl::GetItemCleanStart(ID id) {
  auto& cs = clients.at(id.client);
  auto p = cs.Find(id.clock);
  Item* s = cs.At(p);
  if (s->id.clock < id.clock && s->is_item()) {
    Item* r = SplitItem(s, id.clock - s->id.clock);
    cs.InsertAfter(p, r);
    return r;
  }
  return s;
}

Item* DocImpl::GetItemCleanEnd(ID id) {
  auto& cs = clients.at(id.client);
  auto p = cs.Find(id.clock);
  Item* s = cs.At(p);
  if (id.clock != s->id.clock + s->length - 1 && s->is_item()) {
    Item* r = SplitItem(s, id.clock - s->id.clock + 1);
    cs.InsertAfter(p, r);
  }
  return s;
}

Type* DocImpl::GetOrCreateRoot(const std::string& name, TypeKind kind) {
  auto& slot = share[name];
  if (!slot) {
    slot = std::make_unique<Type>();
    slot->doc = this;
    slot->name = name;
  }
  // yjs throws when a root is asked for as another kind than it was defined with.
  if (slot->kind != TypeKind::kUnknown && kind != TypeKind::kUnknown && slot->kind != kind) return nullptr;
  if (slot->kind == TypeKind::kUnknown && kind != TypeKind::kUnknown) {
    // yjs replaces the generic type by a fresh YText/YArray/YMap: markers on
    // for text and array, no formatting seen yet.
    slot->kind = kind;
    slot->markers.clear();
    slot->markers_enabled = kind == TypeKind::kText || kind == TypeKind::kArray;
    slot->has_formatting = false;
  }
  return slot.get();
}

// ---------------------------------------------------------------- transactions

void DocImpl::AddChanged(Type* type, const std::string* key) {
  Item* item = type->item;
  if (item == nullptr || (item->id.clock < txn->BeforeClock(item->id.client) && !item->deleted)) {
    if (key) txn->changed.emplace_back(type, *key);
    else txn->changed.emplace_back(type, std::nullopt);
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
      if (key) rc.keys.push_back(*key);
      else rc.self_changed = true;
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
    rc.nested_keys.erase(std::unique(rc.nested_keys.begin(), rc.nested_keys.end()), rc.nested_keys.end());
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
      if (type->has_formatting && (type->kind == TypeKind::kText || type->kind == TypeKind::kXmlText) &&
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

// ---------------------------------------------------------------- merging and GC

bool DocImpl::MergeItems(Item* left, Item* right) {
  if (left->is_gc() || right->is_gc()) {
    if (left->kind != right->kind) return false;
    left->length += right->length;
    return true;
  }
  if (left->kind != right->kind) return false;
  if (!(right->has_origin && right->origin == ID{left->id.client, left->id.clock + left->length - 1})) return false;
  if (left->right != right) return false;
  if (!SameId(left->has_right_origin, left->right_origin, right->has_right_origin, right->right_origin)) return false;
  if (left->id.client != right->id.client || left->id.clock + left->length != right->id.clock) return false;
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

// ---------------------------------------------------------------- integration

bool DocImpl::ResolveDeps(Item* item, uint64_t* missing) {
  if (!item->is_item()) return false;
  if (item->has_origin && item->origin.clock >= GetState(item->origin.client)) {
    *missing = item->origin.client;
    return true;
  }
  if (item->has_right_origin && item->right_origin.clock >= GetState(item->right_origin.client)) {
    *missing = item->right_origin.client;
    return true;
  }
  if (item->parent_wire == 2 && item->parent_id.clock >= GetState(item->parent_id.client)) {
    *missing = item->parent_id.client;
    return true;
  }
  Item* left = nullptr;
  Item* right = nullptr;
  if (item->has_origin) {
    left = GetItemCleanEnd(item->origin);
    item->origin = {left->id.client, left->id.clock + left->length - 1};
    item->left = left;
  }
  if (item->has_right_origin) {
    right = GetItemCleanStart(item->right_origin);
    item->right_origin = right->id;
    item->right = right;
  }
  item->parent = nullptr;
  if ((left && left->is_gc()) || (right && right->is_gc())) {
    // parent gone: becomes GC
  } else if (item->parent_wire == 0) {
    if (left && left->is_item()) {
      item->parent = left->parent;
      item->has_parent_sub = left->has_parent_sub;
      item->parent_sub = left->parent_sub;
    }
    if (right && right->is_item()) {
      item->parent = right->parent;
      item->has_parent_sub = right->has_parent_sub;
      item->parent_sub = right->parent_sub;
    }
    // Malformed input can name neighbours in different lists; refuse to link them.
    if (left && right && left->is_item() && right->is_item() &&
        (left->parent != right->parent || left->has_parent_sub != right->has_parent_sub ||
         left->parent_sub != right->parent_sub))
      item->parent = nullptr;
  } else if (item->parent_wire == 2) {
    Item* p = GetItem(item->parent_id);
    if (p->kind == kType && p->extra && p->extra->type) item->parent = p->extra->type.get();
  } else {
    item->parent = GetOrCreateRoot(*item->parent_name, TypeKind::kUnknown);
  }
  if (item->parent && item->parent->doc == nullptr) item->parent = nullptr;
  if (item->parent && item->kind == kType && item->parent->depth + 1 > kMaxTypeDepth) item->parent = nullptr;
  return false;
}

void DocImpl::Integrate(Item* it, uint64_t offset) {
  if (offset > 0) {
    it->id.clock += offset;
    Item* l = GetItemCleanEnd({it->id.client, it->id.clock - 1});
    it->left = l;
    it->has_origin = true;
    it->origin = {l->id.client, l->id.clock + l->length - 1};
    if (it->is_item()) {
      Item tail;
      SpliceContent(it, &tail, offset);
      it->str = std::move(tail.str);
      if (tail.extra) {
        it->extra->anys = std::move(tail.extra->anys);
        it->extra->json = std::move(tail.extra->json);
      }
    }
    it->length -= offset;
    if (!it->is_item()) {
      AddStruct(it);
      return;
    }
  }
  if (!it->is_item()) {
    AddStruct(it);
    return;
  }
  Type* parent = it->parent;
  if (!parent) {
    it->kind = kGC;
    it->deleted = true;
    it->str.clear();
    if (it->extra && it->extra->type) it->extra->type.reset();
    it->extra.reset();
    it->left = it->right = nullptr;
    AddStruct(it);
    return;
  }
  parent->cache_item = nullptr;
  const std::string* key = it->has_parent_sub ? &it->parent_sub : nullptr;
  if ((!it->left && (!it->right || it->right->left)) || (it->left && it->left->right != it->right)) {
    Item* left = it->left;
    Item* o;
    if (left) {
      o = left->right;
    } else if (key) {
      auto f = parent->map.find(*key);
      o = f == parent->map.end() ? nullptr : f->second;
      while (o && o->left) o = o->left;
    } else {
      o = parent->start;
    }
    conflicting_.clear();
    before_origin_.clear();
    while (o && o != it->right) {
      before_origin_.insert(o);
      conflicting_.insert(o);
      if (SameId(it->has_origin, it->origin, o->has_origin, o->origin)) {
        if (o->id.client < it->id.client) {
          left = o;
          conflicting_.clear();
        } else if (SameId(it->has_right_origin, it->right_origin, o->has_right_origin, o->right_origin)) {
          break;
        }
      } else if (o->has_origin && before_origin_.count(GetItem(o->origin))) {
        if (!conflicting_.count(GetItem(o->origin))) {
          left = o;
          conflicting_.clear();
        }
      } else {
        break;
      }
      o = o->right;
    }
    it->left = left;
  }
  if (it->left) {
    it->right = it->left->right;
    it->left->right = it;
  } else {
    Item* r;
    if (key) {
      auto f = parent->map.find(*key);
      r = f == parent->map.end() ? nullptr : f->second;
      while (r && r->left) r = r->left;
    } else {
      r = parent->start;
      parent->start = it;
    }
    it->right = r;
  }
  if (it->right) {
    it->right->left = it;
  } else if (key) {
    parent->map[*key] = it;
    if (it->left) Delete(it->left);
  }
  if (!key && it->countable() && !it->deleted) parent->length += it->length;
  AddStruct(it);
  if (it->kind == kDeleted && !it->deleted) {
    // As yjs's ContentDeleted.integrate: deleted content arrives deleted, even
    // when the update's delete set does not cover it.
    it->deleted = true;
    txn->ds.Add(it->id.client, it->id.clock, it->length);
  }
  if (it->kind == kType) {
    Type* t = it->extra->type.get();
    t->doc = this;
    t->item = it;
    t->depth = parent->depth + 1;
  } else if (it->kind == kFormat) {
    parent->has_formatting = true;
    parent->ever_formatted = true;
    parent->markers_enabled = false;  // yjs: search markers are off for rich text
    parent->markers.clear();
  }
  AddChanged(parent, key);
  if ((parent->item && parent->item->deleted) || (key && it->right)) Delete(it);
}

void DocImpl::Delete(Item* it) {
  if (it->deleted) return;
  Type* parent = it->parent;
  if (it->countable() && !it->has_parent_sub && parent) parent->length -= it->length;
  it->deleted = true;
  txn->ds.Add(it->id.client, it->id.clock, it->length);
  if (!parent) return;
  parent->cache_item = nullptr;
  if (parent->markers_enabled && !parent->markers_dirty && !parent->markers.empty()) {
    for (const auto& m : parent->markers)
      if (m.p == it) parent->markers_dirty = true;
  }
  AddChanged(parent, it->has_parent_sub ? &it->parent_sub : nullptr);
  if (it->kind == kType) {
    Type* t = it->extra->type.get();
    auto visit = [&](Item* i) {
      if (!i->deleted) Delete(i);
      else if (i->id.clock < txn->BeforeClock(i->id.client)) txn->merge_structs.push_back(i->id);
    };
    for (Item* i = t->start; i; i = i->right) visit(i);
    for (auto& [k, v] : t->map) visit(v);
    auto& ch = txn->changed;
    ch.erase(std::remove_if(ch.begin(), ch.end(), [&](const auto& p) { return p.first == t; }), ch.end());
  }
}

bool DocImpl::IntegrateQueues(std::map<uint64_t, std::vector<Item*>>& queues, std::map<uint64_t, uint64_t>* missing) {
  // One sweep in yjs's order (integrateStructs): clients from the highest id
  // down. When a struct waits for another client, that client's next struct
  // is worked on first (a stack of waiting clients). When the wait cannot be
  // met by this batch — a gap in the client's own clocks, or a dependency on a
  // client with nothing left here — every client on the stack is parked with
  // all its remaining structs, and `missing` records the lowest clock per
  // client whose arrival makes a retry worthwhile (the retry rule of yjs's
  // pending structs). A parked client is not looked at again in this sweep.
  std::map<uint64_t, size_t> head;
  std::vector<uint64_t> targets;  // ascending; taken from the back
  for (auto& [client, list] : queues) {
    head[client] = 0;
    targets.push_back(client);
  }
  std::unordered_set<uint64_t> parked;
  std::vector<uint64_t> stack;  // clients whose head struct waits
  auto note = [&](uint64_t client, uint64_t clock) {
    auto [it, fresh] = missing->emplace(client, clock);
    if (!fresh && clock < it->second) it->second = clock;
  };
  auto has_next = [&](uint64_t client) { return !parked.count(client) && head[client] < queues[client].size(); };
  auto next_target = [&]() -> bool {
    while (!targets.empty() && !has_next(targets.back())) targets.pop_back();
    return !targets.empty();
  };
  bool any = false;
  if (!next_target()) return false;
  uint64_t cur = targets.back();
  while (true) {
    auto& list = queues[cur];
    size_t& h = head[cur];
    Item* s = list[h];
    uint64_t state = GetState(cur);
    uint64_t dep = 0;
    if (s->id.clock > state) {  // a gap: the client's own earlier clocks are missing
      note(cur, s->id.clock - 1);
      stack.push_back(cur);
      for (uint64_t c : stack) parked.insert(c);
      stack.clear();
    } else if (s->end() <= state) {  // already known: a duplicate
      FreeStruct(s);
      list[h++] = nullptr;
    } else if (ResolveDeps(s, &dep)) {
      bool on_stack = dep == cur || std::find(stack.begin(), stack.end(), dep) != stack.end();
      if (!on_stack && queues.count(dep) && has_next(dep)) {
        stack.push_back(cur);
        cur = dep;
        continue;
      }
      note(dep, GetState(dep));
      stack.push_back(cur);
      for (uint64_t c : stack) parked.insert(c);
      stack.clear();
    } else {
      Integrate(s, state - s->id.clock);
      list[h++] = nullptr;
      any = true;
    }
    if (!stack.empty()) {
      cur = stack.back();
      stack.pop_back();
    } else if (has_next(cur)) {
      // continue with the same client
    } else if (next_target()) {
      cur = targets.back();
    } else {
      break;
    }
  }
  for (auto it = queues.begin(); it != queues.end();) {
    auto& list = it->second;
    list.erase(list.begin(), list.begin() + head[it->first]);
    if (list.empty()) it = queues.erase(it);
    else ++it;
  }
  return any;
}

DeleteSet DocImpl::ApplyDeleteSet(const DeleteSet& ds) {
  DeleteSet unapplied;
  for (const auto& [client, dels] : ds.clients) {
    auto cit = clients.find(client);
    uint64_t state = cit == clients.end() ? 0 : cit->second.state();
    for (const auto& d : dels) {
      uint64_t end = d.clock + d.len;
      if (d.clock >= state) {
        unapplied.Add(client, d.clock, d.len);
        continue;
      }
      if (state < end) unapplied.Add(client, state, end - state);
      ClientStructs& cs = cit->second;
      auto p = cs.Find(d.clock);
      Item* s = cs.At(p);
      if (!s->deleted && s->id.clock < d.clock) {
        Item* r = SplitItem(s, d.clock - s->id.clock);
        p = cs.InsertAfter(p, r);
      }
      while (cs.Valid(p)) {
        s = cs.At(p);
        if (s->id.clock >= end) break;
        if (!s->deleted) {
          if (end < s->end()) {
            Item* r = SplitItem(s, end - s->id.clock);
            auto rp = cs.InsertAfter(p, r);
            p = rp;
            cs.Prev(&p);
          }
          Delete(s);
        }
        cs.Next(&p);
      }
    }
  }
  return unapplied;
}

Status DocImpl::ApplyUpdate(std::span<const uint8_t> update, std::string_view origin) {
  VAULTD_ASSIGN_OR_RETURN(DecodedUpdate u, DecodeUpdate(update, pool));
  Transact(false, origin, [&] {
    // As yjs: first the new update on its own; what of it could not be
    // applied joins the pending structs (older pending first for equal
    // clocks); then its delete set and the pending delete set; then, only if
    // a client the pending structs wait for has advanced, a retry of all
    // pending structs followed by the pending deletes again.
    std::map<uint64_t, std::vector<Item*>> fresh;
    for (auto& [client, structs] : u.clients) {
      // yjs keeps one struct group per client: a later group replaces an earlier one.
      auto& list = fresh[client];
      for (Item* s : list) FreeStruct(s);
      list.clear();
      for (Item* s : structs) {
        if (s->is_skip()) FreeStruct(s);
        else list.push_back(s);
      }
      structs.clear();
      std::stable_sort(list.begin(), list.end(), [](Item* a, Item* b) { return a->id.clock < b->id.clock; });
    }
    u.clients.clear();
    std::map<uint64_t, uint64_t> rest_missing;
    IntegrateQueues(fresh, &rest_missing);
    // yjs retries the pending structs only when a client they wait for has
    // advanced past the clock recorded when they were parked; otherwise they
    // stay pending even if some of them could integrate now.
    bool retry = false;
    if (pending.empty()) pending_missing.clear();
    for (const auto& [client, clock] : pending_missing)
      if (clock < GetState(client)) retry = true;
    for (const auto& [client, clock] : rest_missing) {
      auto [it, fresh_entry] = pending_missing.emplace(client, clock);
      if (!fresh_entry && clock < it->second) it->second = clock;
    }
    for (auto& [client, list] : fresh) {
      auto& p = pending[client];
      p.insert(p.end(), list.begin(), list.end());
      std::stable_sort(p.begin(), p.end(), [](Item* a, Item* b) { return a->id.clock < b->id.clock; });
    }
    u.ds.SortAndMerge();
    DeleteSet rest = ApplyDeleteSet(u.ds);
    if (!pending_ds.empty()) rest.MergeFrom(ApplyDeleteSet(pending_ds));
    rest.SortAndMerge();
    pending_ds = std::move(rest);
    if (retry) {
      // As yjs: the whole pending batch is applied again as one update (whose
      // delete set is empty), which records fresh wait clocks, and then the
      // pending deletes are tried again.
      pending_missing.clear();
      IntegrateQueues(pending, &pending_missing);
      if (!pending_ds.empty()) {
        DeleteSet again = ApplyDeleteSet(pending_ds);
        again.SortAndMerge();
        pending_ds = std::move(again);
      }
    }
  });
  return Status::Ok();
}

// ---------------------------------------------------------------- encoding

void DocImpl::WriteStructsFrom(Encoder& enc, const std::map<uint64_t, uint64_t>& from) const {
  enc.WriteVarUint(from.size());
  for (auto it = from.rbegin(); it != from.rend(); ++it) {
    const ClientStructs& cs = clients.at(it->first);
    uint64_t clock = std::max(it->second, cs.front()->id.clock);
    auto p = cs.Find(clock);
    uint64_t count = 0;
    for (auto q = p; cs.Valid(q); cs.Next(&q)) ++count;
    enc.WriteVarUint(count);
    enc.WriteVarUint(it->first);
    enc.WriteVarUint(clock);
    Item* first = cs.At(p);
    WriteStruct(enc, first, clock - first->id.clock);
    for (cs.Next(&p); cs.Valid(p); cs.Next(&p)) WriteStruct(enc, cs.At(p), 0);
  }
}

DeleteSet DocImpl::DeleteSetFromStore() const {
  DeleteSet ds;
  for (const auto& [client, cs] : clients) {
    std::vector<DeleteRange> ranges;
    cs.ForEach([&](Item* s) {
      if (!s->deleted) return;
      if (!ranges.empty() && ranges.back().clock + ranges.back().len == s->id.clock) ranges.back().len += s->length;
      else ranges.push_back({s->id.clock, s->length});
    });
    if (!ranges.empty()) ds.clients[client] = std::move(ranges);
  }
  return ds;
}

std::vector<uint8_t> DocImpl::PendingUpdate() const {
  Encoder enc;
  LazyStructWriter w;
  for (auto it = pending.rbegin(); it != pending.rend(); ++it) {
    uint64_t next = 0;
    bool first = true;
    for (Item* s : it->second) {
      if (!first && s->id.clock < next) continue;  // overlapping duplicate
      if (!first && s->id.clock > next) {
        Item skip;
        skip.kind = kSkip;
        skip.id = {it->first, next};
        skip.length = s->id.clock - next;
        w.Write(&skip, 0);
      }
      w.Write(s, 0);
      next = s->end();
      first = false;
    }
  }
  w.Finish(enc);
  enc.WriteVarUint(0);
  return enc.Take();
}

Result<std::vector<uint8_t>> DocImpl::EncodeStateAsUpdate(std::span<const uint8_t> sv) const {
  StateVectorMap target;
  if (!sv.empty()) {
    VAULTD_ASSIGN_OR_RETURN(target, DecodeStateVector(sv));
  }
  std::map<uint64_t, uint64_t> from;
  for (const auto& [client, clock] : target) {
    if (GetState(client) > clock) from[client] = clock;
  }
  for (const auto& [client, cs] : clients) {
    if (!target.count(client) && !cs.empty()) from[client] = 0;
  }
  Encoder enc;
  WriteStructsFrom(enc, from);
  WriteDeleteSet(enc, DeleteSetFromStore());
  if (pending.empty() && pending_ds.empty()) return enc.Take();
  std::vector<std::vector<uint8_t>> parts{enc.Take()};
  if (!pending_ds.empty()) {
    Encoder ds;
    ds.WriteVarUint(0);
    DeleteSet copy = pending_ds;
    copy.SortAndMerge();
    WriteDeleteSet(ds, copy);
    parts.push_back(ds.Take());
  }
  if (!pending.empty()) {
    auto pu = PendingUpdate();
    std::vector<uint8_t> empty_sv{0};
    VAULTD_ASSIGN_OR_RETURN(auto diffed, DiffUpdate(pu, sv.empty() ? std::span<const uint8_t>(empty_sv) : sv));
    parts.push_back(std::move(diffed));
  }
  return MergeUpdates(parts);
}

}  // namespace vaultd::crdt
