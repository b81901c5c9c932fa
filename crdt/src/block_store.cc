#include "block_store.h"

#include <algorithm>
#include <new>

namespace vaultd::crdt {

ItemPool::~ItemPool() {
  // Items still alive in the chunks are destroyed by their owner (the doc
  // frees every struct it holds); here only the raw memory goes.
  for (void* c : chunks_) ::operator delete(c, std::align_val_t(alignof(Item)));
}

Item* ItemPool::New() {
  if (!free_.empty()) {
    Item* it = free_.back();
    free_.pop_back();
    return new (it) Item();
  }
  if (used_in_chunk_ == kChunk) {
    chunks_.push_back(::operator new(sizeof(Item) * kChunk, std::align_val_t(alignof(Item))));
    used_in_chunk_ = 0;
  }
  Item* it = static_cast<Item*>(chunks_.back()) + used_in_chunk_++;
  return new (it) Item();
}

void ItemPool::Free(Item* item) {
  item->~Item();
  free_.push_back(item);
}

// ---------------------------------------------------------------- ClientStructs

namespace {
constexpr size_t kMaxChunk = 256;
}

void ClientStructs::PushBack(Item* item) {
  if (chunks_.empty() || chunks_.back().items.size() >= kMaxChunk) {
    chunks_.emplace_back();
    chunks_.back().items.reserve(kMaxChunk);
    chunks_.back().clocks.reserve(kMaxChunk);
    firsts_.push_back(item->id.clock);
  }
  chunks_.back().items.push_back(item);
  chunks_.back().clocks.push_back(item->id.clock);
}

size_t ClientStructs::size() const {
  size_t n = 0;
  for (const auto& c : chunks_) n += c.items.size();
  return n;
}

ClientStructs::Pos ClientStructs::Find(uint64_t clock) const {
  // Last chunk whose first clock <= clock, then the last struct starting at or before clock.
  auto ci = std::upper_bound(firsts_.begin(), firsts_.end(), clock);
  size_t chunk = ci == firsts_.begin() ? 0 : (ci - firsts_.begin()) - 1;
  const auto& clocks = chunks_[chunk].clocks;
  auto ii = std::upper_bound(clocks.begin(), clocks.end(), clock);
  size_t idx = ii == clocks.begin() ? 0 : (ii - clocks.begin()) - 1;
  return {static_cast<uint32_t>(chunk), static_cast<uint32_t>(idx)};
}

bool ClientStructs::Next(Pos* p) const {
  if (p->idx + 1 < chunks_[p->chunk].items.size()) {
    ++p->idx;
    return true;
  }
  if (p->chunk + 1 < chunks_.size()) {
    ++p->chunk;
    p->idx = 0;
    return true;
  }
  *p = End();
  return false;
}

bool ClientStructs::Prev(Pos* p) const {
  if (p->idx > 0) {
    --p->idx;
    return true;
  }
  if (p->chunk > 0) {
    --p->chunk;
    p->idx = static_cast<uint32_t>(chunks_[p->chunk].items.size() - 1);
    return true;
  }
  return false;
}

ClientStructs::Pos ClientStructs::InsertAfter(Pos p, Item* item) {
  Chunk& c = chunks_[p.chunk];
  c.items.insert(c.items.begin() + p.idx + 1, item);
  c.clocks.insert(c.clocks.begin() + p.idx + 1, item->id.clock);
  Pos r{p.chunk, p.idx + 1};
  if (c.items.size() > 2 * kMaxChunk) {
    size_t half = c.items.size() / 2;
    Chunk tail;
    tail.items.assign(c.items.begin() + half, c.items.end());
    tail.clocks.assign(c.clocks.begin() + half, c.clocks.end());
    c.items.resize(half);
    c.clocks.resize(half);
    firsts_.insert(firsts_.begin() + p.chunk + 1, tail.clocks.front());
    chunks_.insert(chunks_.begin() + p.chunk + 1, std::move(tail));
    if (r.idx >= half) {
      r.chunk += 1;
      r.idx -= static_cast<uint32_t>(half);
    }
  }
  return r;
}

ClientStructs::Pos ClientStructs::Erase(Pos p) {
  Chunk& c = chunks_[p.chunk];
  c.items.erase(c.items.begin() + p.idx);
  c.clocks.erase(c.clocks.begin() + p.idx);
  if (c.items.empty()) {
    chunks_.erase(chunks_.begin() + p.chunk);
    firsts_.erase(firsts_.begin() + p.chunk);
    if (p.chunk >= chunks_.size()) return End();
    return {p.chunk, 0};
  }
  if (p.idx == 0) firsts_[p.chunk] = c.clocks.front();
  if (p.idx >= c.items.size()) {
    if (p.chunk + 1 >= chunks_.size()) return End();
    return {p.chunk + 1, 0};
  }
  return p;
}

// ---------------------------------------------------------------- DeleteSet

void DeleteSet::SortAndMerge() {
  for (auto& [client, dels] : clients) {
    std::sort(dels.begin(), dels.end(),
              [](const DeleteRange& a, const DeleteRange& b) { return a.clock < b.clock; });
    size_t j = 1;
    for (size_t i = 1; i < dels.size(); ++i) {
      DeleteRange& left = dels[j - 1];
      const DeleteRange& right = dels[i];
      if (left.clock + left.len >= right.clock) {
        left.len = std::max(left.len, right.clock + right.len - left.clock);
      } else {
        if (j < i) dels[j] = right;
        ++j;
      }
    }
    if (!dels.empty()) dels.resize(j);
  }
}

bool DeleteSet::Contains(ID id) const {
  auto it = clients.find(id.client);
  if (it == clients.end()) return false;
  for (const auto& r : it->second)
    if (id.clock >= r.clock && id.clock < r.clock + r.len) return true;
  return false;
}

void DeleteSet::MergeFrom(const DeleteSet& other) {
  for (const auto& [client, dels] : other.clients) {
    auto& mine = clients[client];
    mine.insert(mine.end(), dels.begin(), dels.end());
  }
}

void WriteDeleteSet(Encoder& enc, const DeleteSet& ds) {
  std::vector<uint64_t> order;
  for (const auto& [client, dels] : ds.clients) order.push_back(client);
  std::sort(order.rbegin(), order.rend());
  enc.WriteVarUint(order.size());
  for (uint64_t client : order) {
    const auto& dels = ds.clients.at(client);
    enc.WriteVarUint(client);
    enc.WriteVarUint(dels.size());
    for (const auto& d : dels) {
      enc.WriteVarUint(d.clock);
      enc.WriteVarUint(d.len);
    }
  }
}

Result<DeleteSet> ReadDeleteSet(Decoder& dec) {
  DeleteSet ds;
  VAULTD_ASSIGN_OR_RETURN(uint64_t n, dec.ReadLength());
  for (uint64_t i = 0; i < n; ++i) {
    VAULTD_ASSIGN_OR_RETURN(uint64_t client, dec.ReadVarUint());
    VAULTD_ASSIGN_OR_RETURN(uint64_t count, dec.ReadLength());
    if (count == 0) continue;
    auto& dels = ds.clients[client];
    for (uint64_t k = 0; k < count; ++k) {
      VAULTD_ASSIGN_OR_RETURN(uint64_t clock, dec.ReadVarUint());
      VAULTD_ASSIGN_OR_RETURN(uint64_t len, dec.ReadVarUint());
      if (clock + len > kMaxSafeInteger) return Status::Corruption("delete range beyond 2^53");
      dels.push_back({clock, len});
    }
  }
  return ds;
}

// ---------------------------------------------------------------- struct codec

namespace {

Status ReadContent(Decoder& dec, uint8_t kind, Item* it) {
  switch (kind) {
    case kDeleted: {
      VAULTD_ASSIGN_OR_RETURN(it->length, dec.ReadVarUint());
      return Status::Ok();
    }
    case kJSON: {
      VAULTD_ASSIGN_OR_RETURN(uint64_t n, dec.ReadLength());
      auto& x = it->x();
      x.json.reserve(std::min<uint64_t>(n, Decoder::kMaxWireReserve));
      for (uint64_t i = 0; i < n; ++i) {
        VAULTD_ASSIGN_OR_RETURN(std::string s, dec.ReadVarString());
        VAULTD_RETURN_IF_ERROR(ValidateJsonText(s));
        x.json.push_back(std::move(s));
      }
      it->length = n;
      return Status::Ok();
    }
    case kBinary: {
      VAULTD_ASSIGN_OR_RETURN(auto b, dec.ReadVarBytes());
      it->x().binary.assign(b.begin(), b.end());
      it->length = 1;
      return Status::Ok();
    }
    case kString: {
      VAULTD_ASSIGN_OR_RETURN(it->str, dec.ReadVarString());
      it->length = Utf16Length(it->str);
      return Status::Ok();
    }
    case kEmbed: {
      VAULTD_ASSIGN_OR_RETURN(std::string s, dec.ReadVarString());
      VAULTD_ASSIGN_OR_RETURN(Any v, ParseJsonText(s));
      it->x().text = std::move(s);
      it->x().value = std::move(v);
      it->length = 1;
      return Status::Ok();
    }
    case kFormat: {
      VAULTD_ASSIGN_OR_RETURN(std::string k, dec.ReadVarString());
      VAULTD_ASSIGN_OR_RETURN(std::string s, dec.ReadVarString());
      VAULTD_ASSIGN_OR_RETURN(Any v, ParseJsonText(s));
      auto& x = it->x();
      x.key = std::move(k);
      x.text = std::move(s);
      x.value = std::move(v);
      it->length = 1;
      return Status::Ok();
    }
    case kType: {
      VAULTD_ASSIGN_OR_RETURN(uint64_t ref, dec.ReadVarUint());
      if (ref > 6) return Status::Corruption("unknown type ref " + std::to_string(ref));
      auto t = std::make_unique<Type>();
      t->kind = static_cast<TypeKind>(ref);
      t->markers_enabled = ref == 0 || ref == 2 || ref == 6;  // YArray, YText, YXmlText
      if (ref == 3 || ref == 5) {
        VAULTD_ASSIGN_OR_RETURN(t->name, dec.ReadVarString());
      }
      it->x().type = std::move(t);
      it->length = 1;
      return Status::Ok();
    }
    case kAny: {
      VAULTD_ASSIGN_OR_RETURN(uint64_t n, dec.ReadLength());
      auto& x = it->x();
      x.anys.reserve(std::min<uint64_t>(n, Decoder::kMaxWireReserve));
      for (uint64_t i = 0; i < n; ++i) {
        VAULTD_ASSIGN_OR_RETURN(Any a, ReadAny(dec));
        x.anys.push_back(std::move(a));
      }
      it->length = n;
      return Status::Ok();
    }
    case kDoc: {
      VAULTD_ASSIGN_OR_RETURN(std::string guid, dec.ReadVarString());
      VAULTD_ASSIGN_OR_RETURN(Any opts, ReadAny(dec));
      it->x().key = std::move(guid);
      it->x().value = std::move(opts);
      it->length = 1;
      return Status::Ok();
    }
    default:
      return Status::Corruption("unknown content ref " + std::to_string(kind));
  }
}

}  // namespace

void FreeDecoded(DecodedUpdate& u, ItemPool& pool) {
  for (auto& [client, structs] : u.clients)
    for (Item* s : structs)
      if (s) pool.Free(s);
  u.clients.clear();
}

Result<DecodedUpdate> DecodeUpdate(std::span<const uint8_t> data, ItemPool& pool) {
  DecodedUpdate u;
  Decoder dec(data);
  auto fail = [&](Status s) -> Result<DecodedUpdate> {
    FreeDecoded(u, pool);
    return Status::Corruption("malformed update: " + s.message());
  };
  auto num_clients = dec.ReadLength();
  if (!num_clients.ok()) return fail(num_clients.status());
  for (uint64_t c = 0; c < *num_clients; ++c) {
    auto num_structs = dec.ReadLength();
    if (!num_structs.ok()) return fail(num_structs.status());
    auto client = dec.ReadVarUint();
    if (!client.ok()) return fail(client.status());
    auto clock_r = dec.ReadVarUint();
    if (!clock_r.ok()) return fail(clock_r.status());
    uint64_t clock = *clock_r;
    u.clients.emplace_back(*client, std::vector<Item*>());
    auto& list = u.clients.back().second;
    list.reserve(std::min<uint64_t>(*num_structs, Decoder::kMaxWireReserve));
    for (uint64_t i = 0; i < *num_structs; ++i) {
      auto info_r = dec.ReadUint8();
      if (!info_r.ok()) return fail(info_r.status());
      uint8_t info = *info_r;
      Item* it = pool.New();
      list.push_back(it);
      it->id = {*client, clock};
      uint8_t kind = info & 0x1f;
      Status st;
      if (kind == kGC || kind == kSkip) {
        it->kind = kind;
        auto len = dec.ReadVarUint();
        if (!len.ok()) return fail(len.status());
        it->length = *len;
        it->deleted = true;
      } else {
        it->kind = kind;
        if (info & 0x80) {
          auto a = dec.ReadVarUint();
          if (!a.ok()) return fail(a.status());
          auto b = dec.ReadVarUint();
          if (!b.ok()) return fail(b.status());
          it->origin = {*a, *b};
          it->has_origin = true;
        }
        if (info & 0x40) {
          auto a = dec.ReadVarUint();
          if (!a.ok()) return fail(a.status());
          auto b = dec.ReadVarUint();
          if (!b.ok()) return fail(b.status());
          it->right_origin = {*a, *b};
          it->has_right_origin = true;
        }
        if ((info & 0xc0) == 0) {
          auto is_key = dec.ReadVarUint();
          if (!is_key.ok()) return fail(is_key.status());
          if (*is_key == 1) {
            auto name = dec.ReadVarString();
            if (!name.ok()) return fail(name.status());
            it->parent_name = std::make_unique<std::string>(std::move(*name));
            it->parent_wire = 1;
          } else {
            auto a = dec.ReadVarUint();
            if (!a.ok()) return fail(a.status());
            auto b = dec.ReadVarUint();
            if (!b.ok()) return fail(b.status());
            it->parent_id = {*a, *b};
            it->parent_wire = 2;
          }
          if (info & 0x20) {
            auto sub = dec.ReadVarString();
            if (!sub.ok()) return fail(sub.status());
            it->parent_sub = std::move(*sub);
            it->has_parent_sub = true;
          }
        }
        st = ReadContent(dec, kind, it);
        if (!st.ok()) return fail(st);
      }
      if (it->length == 0) return fail(Status::Corruption("struct of length 0"));
      if (clock + it->length > kMaxSafeInteger)
        return fail(Status::Corruption("clock beyond 2^53"));
      clock += it->length;
    }
  }
  auto ds = ReadDeleteSet(dec);
  if (!ds.ok()) return fail(ds.status());
  u.ds = std::move(*ds);
  return u;
}

void WriteStruct(Encoder& enc, const Item* s, uint64_t offset) {
  if (s->kind == kGC || s->kind == kSkip) {
    enc.WriteUint8(s->kind);
    enc.WriteVarUint(s->length - offset);
    return;
  }
  bool has_origin = offset > 0 || s->has_origin;
  ID origin = offset > 0 ? ID{s->id.client, s->id.clock + offset - 1} : s->origin;
  uint8_t info = (s->kind & 0x1f) | (has_origin ? 0x80 : 0) | (s->has_right_origin ? 0x40 : 0) |
                 (s->has_parent_sub ? 0x20 : 0);
  enc.WriteUint8(info);
  if (has_origin) {
    enc.WriteVarUint(origin.client);
    enc.WriteVarUint(origin.clock);
  }
  if (s->has_right_origin) {
    enc.WriteVarUint(s->right_origin.client);
    enc.WriteVarUint(s->right_origin.clock);
  }
  if (!has_origin && !s->has_right_origin) {
    if (s->parent) {
      if (s->parent->item == nullptr) {
        enc.WriteVarUint(1);
        enc.WriteVarString(s->parent->name);
      } else {
        enc.WriteVarUint(0);
        enc.WriteVarUint(s->parent->item->id.client);
        enc.WriteVarUint(s->parent->item->id.clock);
      }
    } else if (s->parent_wire == 1) {
      enc.WriteVarUint(1);
      enc.WriteVarString(*s->parent_name);
    } else {
      enc.WriteVarUint(0);
      enc.WriteVarUint(s->parent_id.client);
      enc.WriteVarUint(s->parent_id.clock);
    }
    if (s->has_parent_sub) enc.WriteVarString(s->parent_sub);
  }
  switch (s->kind) {
    case kDeleted:
      enc.WriteVarUint(s->length - offset);
      break;
    case kJSON:
      enc.WriteVarUint(s->length - offset);
      for (size_t i = offset; i < s->extra->json.size(); ++i) enc.WriteVarString(s->extra->json[i]);
      break;
    case kBinary:
      enc.WriteVarBytes(s->extra->binary);
      break;
    case kString: {
      bool mid_pair = false;
      size_t at = offset == 0 ? 0 : s->StrOffset(offset, &mid_pair);
      if (!mid_pair) {
        enc.WriteVarString(std::string_view(s->str).substr(at));
      } else {
        enc.WriteVarString(s->StrAfterSplitPair(at));
      }
      break;
    }
    case kEmbed:
      enc.WriteVarString(s->extra->text);
      break;
    case kFormat:
      enc.WriteVarString(s->extra->key);
      enc.WriteVarString(s->extra->text);
      break;
    case kType: {
      const Type* t = s->extra->type.get();
      enc.WriteVarUint(static_cast<uint8_t>(t->kind));
      if (t->kind == TypeKind::kXmlElement || t->kind == TypeKind::kXmlHook)
        enc.WriteVarString(t->name);
      break;
    }
    case kAny:
      enc.WriteVarUint(s->length - offset);
      for (size_t i = offset; i < s->extra->anys.size(); ++i) WriteAny(enc, s->extra->anys[i]);
      break;
    case kDoc:
      enc.WriteVarString(s->extra->key);
      WriteAny(enc, s->extra->value);
      break;
    default:
      break;
  }
}

void SpliceContent(Item* left, Item* right, uint64_t offset) {
  right->kind = left->kind;
  switch (left->kind) {
    case kString: {
      bool mid_pair = false;
      size_t at = left->StrOffset(offset, &mid_pair);
      if (mid_pair) {
        // Splitting a surrogate pair: both halves become U+FFFD, as in yjs.
        right->str = left->StrAfterSplitPair(at);
        left->str.resize(at);
        left->str += kReplacementUtf8;
      } else {
        right->str.assign(left->str, at);
        left->str.resize(at);
      }
      // A long text split near its start would otherwise keep its whole buffer.
      if (left->str.capacity() > 2 * left->str.size() + 64) left->str.shrink_to_fit();
      break;
    }
    case kAny: {
      auto& a = left->extra->anys;
      right->x().anys.assign(std::make_move_iterator(a.begin() + offset),
                             std::make_move_iterator(a.end()));
      a.resize(offset);
      break;
    }
    case kJSON: {
      auto& a = left->extra->json;
      right->x().json.assign(std::make_move_iterator(a.begin() + offset),
                             std::make_move_iterator(a.end()));
      a.resize(offset);
      break;
    }
    default:
      break;  // GC, Skip and Deleted carry only a length
  }
}

bool MergeContent(Item* left, Item* right) {
  switch (left->kind) {
    case kString:
      left->str += right->str;
      return true;
    case kAny:
      for (auto& a : right->extra->anys) left->extra->anys.push_back(std::move(a));
      return true;
    case kJSON:
      for (auto& a : right->extra->json) left->extra->json.push_back(std::move(a));
      return true;
    case kDeleted:
    case kGC:
    case kSkip:
      return true;
    default:
      return false;
  }
}

void CopyContent(const Item* from, Item* to) {
  to->kind = from->kind;
  to->length = from->length;
  to->str = from->str;
  if (from->extra) {
    auto& x = to->x();
    x.anys = from->extra->anys;
    x.json = from->extra->json;
    x.binary = from->extra->binary;
    x.key = from->extra->key;
    x.text = from->extra->text;
    x.value = from->extra->value;
    if (from->extra->type) {
      x.type = std::make_unique<Type>();
      x.type->kind = from->extra->type->kind;
      x.type->name = from->extra->type->name;
    }
  }
}

Item* SliceStruct(Item* s, uint64_t diff, ItemPool& pool) {
  Item* r = pool.New();
  r->id = {s->id.client, s->id.clock + diff};
  r->deleted = s->deleted;
  if (!s->is_item()) {
    r->kind = s->kind;
    r->length = s->length - diff;
    return r;
  }
  CopyContent(s, r);
  r->has_origin = true;
  r->origin = {s->id.client, s->id.clock + diff - 1};
  r->has_right_origin = s->has_right_origin;
  r->right_origin = s->right_origin;
  r->parent_wire = s->parent_wire;
  r->parent_id = s->parent_id;
  if (s->parent_name) r->parent_name = std::make_unique<std::string>(*s->parent_name);
  r->has_parent_sub = s->has_parent_sub;
  r->parent_sub = s->parent_sub;
  // Split a copy so `s` stays intact.
  Item tmp;
  CopyContent(s, &tmp);
  SpliceContent(&tmp, r, diff);
  r->length = s->length - diff;
  return r;
}

void LazyStructWriter::Write(const Item* s, uint64_t offset) {
  if (written_ > 0 && client_ != s->id.client) Flush();
  if (written_ == 0) {
    client_ = s->id.client;
    cur_.WriteVarUint(client_);
    cur_.WriteVarUint(s->id.clock + offset);
  }
  WriteStruct(cur_, s, offset);
  ++written_;
}

void LazyStructWriter::Flush() {
  if (written_ == 0) return;
  done_.emplace_back(written_, cur_.Take());
  cur_ = Encoder();
  written_ = 0;
}

void LazyStructWriter::Finish(Encoder& out) {
  Flush();
  out.WriteVarUint(done_.size());
  for (auto& [n, bytes] : done_) {
    out.WriteVarUint(n);
    out.WriteBytes(bytes);
  }
  done_.clear();
}

}  // namespace vaultd::crdt
