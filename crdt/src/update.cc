// Update-level operations on decoded structs (no document): merge, diff,
// state vectors, validation. Follows yjs's lazy struct reader/writer model.
#include "vaultd/crdt/update.h"

#include <algorithm>

#include "block_store.h"

namespace vaultd::crdt {

Result<StateVectorMap> DecodeStateVector(std::span<const uint8_t> sv) {
  Decoder dec(sv);
  StateVectorMap out;
  auto n = dec.ReadLength();
  if (!n.ok()) return Status::Corruption("malformed state vector: " + n.status().message());
  for (uint64_t i = 0; i < *n; ++i) {
    auto client = dec.ReadVarUint();
    if (!client.ok())
      return Status::Corruption("malformed state vector: " + client.status().message());
    auto clock = dec.ReadVarUint();
    if (!clock.ok())
      return Status::Corruption("malformed state vector: " + clock.status().message());
    out[*client] = *clock;
  }
  return out;
}

std::vector<uint8_t> EncodeStateVector(const StateVectorMap& sv) {
  Encoder enc;
  enc.WriteVarUint(sv.size());
  for (auto it = sv.rbegin(); it != sv.rend(); ++it) {
    enc.WriteVarUint(it->first);
    enc.WriteVarUint(it->second);
  }
  return enc.Take();
}

namespace {

// Owns a decoded update and walks its structs in wire order.
struct StructReader {
  ItemPool* pool;
  DecodedUpdate u;
  size_t client = 0;
  size_t idx = 0;
  bool filter_skips = false;
  Item* curr() const {
    if (client >= u.clients.size()) return nullptr;
    return u.clients[client].second[idx];
  }
  void Settle() {
    while (client < u.clients.size()) {
      auto& list = u.clients[client].second;
      if (idx >= list.size()) {
        ++client;
        idx = 0;
        continue;
      }
      if (filter_skips && list[idx]->is_skip()) {
        ++idx;
        continue;
      }
      return;
    }
  }
  void Next() {
    ++idx;
    Settle();
  }
};

}  // namespace

Status ValidateUpdate(std::span<const uint8_t> update) {
  ItemPool pool;
  auto u = DecodeUpdate(update, pool);
  if (!u.ok()) return u.status();
  FreeDecoded(*u, pool);
  return Status::Ok();
}

Result<std::vector<uint8_t>> MergeUpdates(const std::vector<std::vector<uint8_t>>& updates) {
  if (updates.size() == 1) {
    VAULTD_RETURN_IF_ERROR(ValidateUpdate(updates[0]));
    return updates[0];
  }
  ItemPool pool;
  std::vector<std::unique_ptr<StructReader>> readers;
  std::vector<Item*> extra;  // structs we created (slices, skips)
  auto cleanup = [&] {
    for (auto& r : readers) FreeDecoded(r->u, pool);
    for (Item* i : extra) pool.Free(i);
  };
  for (const auto& up : updates) {
    auto u = DecodeUpdate(up, pool);
    if (!u.ok()) {
      cleanup();
      return u.status();
    }
    auto r = std::make_unique<StructReader>();
    r->pool = &pool;
    r->u = std::move(*u);
    r->filter_skips = true;
    r->Settle();
    readers.push_back(std::move(r));
  }
  Encoder out;
  LazyStructWriter writer;
  Item* cw = nullptr;  // currWrite.struct (offset is always 0 here)
  std::vector<StructReader*> active;
  for (auto& r : readers) active.push_back(r.get());
  auto new_item = [&](Item* it) {
    extra.push_back(it);
    return it;
  };
  while (true) {
    active.erase(std::remove_if(active.begin(), active.end(),
                                [](StructReader* r) { return r->curr() == nullptr; }),
                 active.end());
    std::stable_sort(active.begin(), active.end(), [](StructReader* a, StructReader* b) {
      Item* x = a->curr();
      Item* y = b->curr();
      if (x->id.client == y->id.client) {
        if (x->id.clock == y->id.clock) {
          if (x->is_skip() == y->is_skip()) return false;
          return !x->is_skip();  // skips last
        }
        return x->id.clock < y->id.clock;
      }
      return x->id.client > y->id.client;
    });
    if (active.empty()) break;
    StructReader* cd = active[0];
    uint64_t first_client = cd->curr()->id.client;
    if (cw) {
      Item* curr = cd->curr();
      bool iterated = false;
      while (curr && curr->end() <= cw->end() && curr->id.client >= cw->id.client) {
        cd->Next();
        curr = cd->curr();
        iterated = true;
      }
      if (!curr || curr->id.client != first_client || (iterated && curr->id.clock > cw->end()))
        continue;
      if (first_client != cw->id.client) {
        writer.Write(cw, 0);
        cw = curr;
        cd->Next();
      } else if (cw->end() < curr->id.clock) {
        if (cw->is_skip()) {
          cw->length = curr->end() - cw->id.clock;
        } else {
          writer.Write(cw, 0);
          Item* skip = new_item(pool.New());
          skip->kind = kSkip;
          skip->id = {first_client, cw->end()};
          skip->length = curr->id.clock - cw->end();
          cw = skip;
        }
      } else {
        uint64_t diff = cw->end() - curr->id.clock;
        if (diff > 0) {
          if (cw->is_skip()) {
            cw->length -= diff;
          } else {
            curr = new_item(SliceStruct(curr, diff, pool));
          }
        }
        bool merged = false;
        if ((cw->is_gc() && curr->is_gc()) || (cw->is_skip() && curr->is_skip())) {
          cw->length += curr->length;
          merged = true;
        }
        if (!merged) {
          writer.Write(cw, 0);
          cw = curr;
          cd->Next();
        }
      }
    } else {
      cw = cd->curr();
      cd->Next();
    }
    for (Item* next = cd->curr();
         next && next->id.client == first_client && next->id.clock == cw->end() && !next->is_skip();
         next = cd->curr()) {
      writer.Write(cw, 0);
      cw = next;
      cd->Next();
    }
  }
  if (cw) writer.Write(cw, 0);
  writer.Finish(out);
  DeleteSet ds;
  for (auto& r : readers) ds.MergeFrom(r->u.ds);
  ds.SortAndMerge();
  WriteDeleteSet(out, ds);
  cleanup();
  return out.Take();
}

Result<std::vector<uint8_t>> DiffUpdate(std::span<const uint8_t> update,
                                        std::span<const uint8_t> sv) {
  VAULTD_ASSIGN_OR_RETURN(StateVectorMap state, DecodeStateVector(sv));
  ItemPool pool;
  auto u = DecodeUpdate(update, pool);
  if (!u.ok()) return u.status();
  StructReader r;
  r.pool = &pool;
  r.u = std::move(*u);
  r.Settle();
  Encoder out;
  LazyStructWriter writer;
  while (Item* curr = r.curr()) {
    uint64_t client = curr->id.client;
    auto it = state.find(client);
    uint64_t sv_clock = it == state.end() ? 0 : it->second;
    if (curr->is_skip()) {
      r.Next();
      continue;
    }
    if (curr->end() > sv_clock) {
      writer.Write(curr, sv_clock > curr->id.clock ? sv_clock - curr->id.clock : 0);
      r.Next();
      while (r.curr() && r.curr()->id.client == client) {
        writer.Write(r.curr(), 0);
        r.Next();
      }
    } else {
      while (r.curr() && r.curr()->id.client == client && r.curr()->end() <= sv_clock) r.Next();
    }
  }
  writer.Finish(out);
  WriteDeleteSet(out, r.u.ds);
  FreeDecoded(r.u, pool);
  return out.Take();
}

Result<std::vector<uint8_t>> StateVectorFromUpdate(std::span<const uint8_t> update) {
  ItemPool pool;
  VAULTD_ASSIGN_OR_RETURN(DecodedUpdate u, DecodeUpdate(update, pool));
  // yjs: the state of each client is the end of its first contiguous run from clock 0.
  StateVectorMap sv;
  for (auto& [client, structs] : u.clients) {
    if (structs.empty()) continue;
    if (structs.front()->id.clock != 0) continue;
    uint64_t end = 0;
    for (Item* s : structs) {
      if (s->is_skip()) break;
      end = s->end();
    }
    if (end == 0) continue;
    auto& slot = sv[client];
    slot = std::max(slot, end);
  }
  FreeDecoded(u, pool);
  return EncodeStateVector(sv);
}

Result<std::string> DumpUpdateJson(std::span<const uint8_t> update) {
  ItemPool pool;
  VAULTD_ASSIGN_OR_RETURN(DecodedUpdate u, DecodeUpdate(update, pool));
  static const char* kNames[] = {"GC",     "Deleted", "JSON", "Binary", "String", "Embed",
                                 "Format", "Type",    "Any",  "Doc",    "Skip"};
  std::string out = "{\"structs\":[";
  bool first = true;
  for (auto& [client, structs] : u.clients) {
    for (Item* s : structs) {
      if (!first) out += ",";
      first = false;
      out += "{\"kind\":\"" + std::string(kNames[s->kind]) +
             "\",\"client\":" + std::to_string(s->id.client) +
             ",\"clock\":" + std::to_string(s->id.clock) +
             ",\"length\":" + std::to_string(s->length);
      if (s->has_origin)
        out += ",\"origin\":[" + std::to_string(s->origin.client) + "," +
               std::to_string(s->origin.clock) + "]";
      if (s->has_right_origin)
        out += ",\"rightOrigin\":[" + std::to_string(s->right_origin.client) + "," +
               std::to_string(s->right_origin.clock) + "]";
      if (s->parent_wire == 1) {
        out += ",\"parent\":";
        AppendJsonString(*s->parent_name, &out);
      } else if (s->parent_wire == 2) {
        out += ",\"parent\":[" + std::to_string(s->parent_id.client) + "," +
               std::to_string(s->parent_id.clock) + "]";
      }
      if (s->has_parent_sub) {
        out += ",\"parentSub\":";
        AppendJsonString(s->parent_sub, &out);
      }
      if (s->kind == kString) {
        out += ",\"content\":";
        AppendJsonString(s->str, &out);
      } else if (s->kind == kAny) {
        out += ",\"content\":";
        AppendCanonicalJson(Any(s->extra->anys), &out);
      }
      out += "}";
    }
  }
  out += "],\"ds\":{";
  std::vector<uint64_t> cs;
  for (auto& [c, d] : u.ds.clients) cs.push_back(c);
  std::sort(cs.begin(), cs.end());
  for (size_t i = 0; i < cs.size(); ++i) {
    if (i) out += ",";
    out += "\"" + std::to_string(cs[i]) + "\":[";
    const auto& d = u.ds.clients[cs[i]];
    for (size_t k = 0; k < d.size(); ++k) {
      if (k) out += ",";
      out += "[" + std::to_string(d[k].clock) + "," + std::to_string(d[k].len) + "]";
    }
    out += "]";
  }
  out += "}}";
  FreeDecoded(u, pool);
  return out;
}

}  // namespace vaultd::crdt
