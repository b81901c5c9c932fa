// DocImpl's core: struct store access, integration (YATA), applying updates, encoding state.
#include <algorithm>
#include <random>

#include "doc_impl.h"
#include "vaultd/crdt/update.h"

namespace vaultd::crdt {

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
  if (slot->kind != TypeKind::kUnknown && kind != TypeKind::kUnknown && slot->kind != kind)
    return nullptr;
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
  if (item->parent && item->kind == kType && item->parent->depth + 1 > kMaxTypeDepth)
    item->parent = nullptr;
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
  if ((!it->left && (!it->right || it->right->left)) ||
      (it->left && it->left->right != it->right)) {
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
        } else if (SameId(it->has_right_origin, it->right_origin, o->has_right_origin,
                          o->right_origin)) {
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
      if (!i->deleted)
        Delete(i);
      else if (i->id.clock < txn->BeforeClock(i->id.client))
        txn->merge_structs.push_back(i->id);
    };
    for (Item* i = t->start; i; i = i->right) visit(i);
    for (auto& [k, v] : t->map) visit(v);
    auto& ch = txn->changed;
    ch.erase(std::remove_if(ch.begin(), ch.end(), [&](const auto& p) { return p.first == t; }),
             ch.end());
  }
}

bool DocImpl::IntegrateQueues(std::map<uint64_t, std::vector<Item*>>& queues,
                              std::map<uint64_t, uint64_t>* missing) {
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
  auto has_next = [&](uint64_t client) {
    return !parked.count(client) && head[client] < queues[client].size();
  };
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
    if (list.empty())
      it = queues.erase(it);
    else
      ++it;
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
        if (s->is_skip())
          FreeStruct(s);
        else
          list.push_back(s);
      }
      structs.clear();
      std::stable_sort(list.begin(), list.end(),
                       [](Item* a, Item* b) { return a->id.clock < b->id.clock; });
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
      std::stable_sort(p.begin(), p.end(),
                       [](Item* a, Item* b) { return a->id.clock < b->id.clock; });
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
      if (!ranges.empty() && ranges.back().clock + ranges.back().len == s->id.clock)
        ranges.back().len += s->length;
      else
        ranges.push_back({s->id.clock, s->length});
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
    VAULTD_ASSIGN_OR_RETURN(auto diffed,
                            DiffUpdate(pu, sv.empty() ? std::span<const uint8_t>(empty_sv) : sv));
    parts.push_back(std::move(diffed));
  }
  return MergeUpdates(parts);
}

}  // namespace vaultd::crdt
