// Y.Text, Y.Map, Y.Array operations, the public Doc API and JSON output.
#include <algorithm>
#include <atomic>
#include <random>

#include "doc_impl.h"
#include "handle_access.h"
#include "vaultd/crdt/update.h"

namespace vaultd::crdt {

const char* TypeKindName(TypeKind kind) {
  switch (kind) {
    case TypeKind::kArray: return "array";
    case TypeKind::kMap: return "map";
    case TypeKind::kText: return "text";
    case TypeKind::kXmlElement: return "xmlelement";
    case TypeKind::kXmlFragment: return "xmlfragment";
    case TypeKind::kXmlHook: return "xmlhook";
    case TypeKind::kXmlText: return "xmltext";
    default: return "unknown";
  }
}

namespace {

const Any* FindAttr(const Attributes& attrs, const std::string& key) {
  for (const auto& [k, v] : attrs)
    if (k == key) return &v;
  return nullptr;
}
void SetAttr(Attributes& attrs, const std::string& key, const Any& v) {
  for (auto& [k, x] : attrs)
    if (k == key) {
      x = v;
      return;
    }
  attrs.emplace_back(key, v);
}
void EraseAttr(Attributes& attrs, const std::string& key) {
  attrs.erase(std::remove_if(attrs.begin(), attrs.end(), [&](const auto& p) { return p.first == key; }), attrs.end());
}
Any AttrOrNull(const Attributes& attrs, const std::string& key) {
  const Any* a = FindAttr(attrs, key);
  if (!a || a->IsUndefined()) return Any(nullptr);
  return *a;
}
bool EqualAttrs(const Any& a, const Any& b) {
  if (a.IsUndefined() && b.IsNull()) return false;
  return a == b;
}
void UpdateCurrentAttrs(Attributes& attrs, const Item* format) {
  if (format->extra->value.IsNull()) EraseAttr(attrs, format->extra->key);
  else SetAttr(attrs, format->extra->key, format->extra->value);
}

Status DeadType() {
  return Status::InvalidArgument("no such type: the handle was asked for as another kind than the type has, or the type was deleted and garbage-collected");
}

}  // namespace

void DocImpl::Forward(ListPos& pos) {
  Item* r = pos.right;
  if (r->kind == kFormat) {
    if (!r->deleted) UpdateCurrentAttrs(pos.attrs, r);
  } else if (!r->deleted) {
    pos.index += r->length;
  }
  pos.left = r;
  pos.right = r->right;
}

namespace {
constexpr uint64_t kMaxFormatPadding = 1 << 20;
std::atomic<uint64_t> g_marker_timestamp{0};  // yjs: one counter for the whole process (Docs may live on several threads)
constexpr size_t kMaxSearchMarker = 80;

void OverwriteMarker(Type::Marker& m, Item* p, uint64_t index) {
  m.p->marker = false;
  m.p = p;
  p->marker = true;
  m.index = index;
  m.timestamp = g_marker_timestamp.fetch_add(1, std::memory_order_relaxed);
}
uint64_t AbsDiff(uint64_t a, uint64_t b) { return a > b ? a - b : b - a; }
}  // namespace

Type::Marker* DocImpl::FindMarker(Type* t, uint64_t index) {
  if (!t->start || index == 0 || !t->markers_enabled) return nullptr;
  Type::Marker* marker = nullptr;
  for (auto& m : t->markers) {
    // yjs reduce((a, b) => |i - a| < |i - b| ? a : b): ties go to the later marker.
    if (!marker || !(AbsDiff(index, marker->index) < AbsDiff(index, m.index))) marker = &m;
  }
  Item* p = t->start;
  uint64_t pindex = 0;
  if (marker) {
    p = marker->p;
    pindex = marker->index;
    marker->timestamp = g_marker_timestamp.fetch_add(1, std::memory_order_relaxed);
  }
  while (p->right && pindex < index) {
    if (!p->deleted && p->countable()) {
      if (index < pindex + p->length) break;
      pindex += p->length;
    }
    p = p->right;
  }
  while (p->left && pindex > index) {
    p = p->left;
    if (!p->deleted && p->countable()) pindex -= p->length;
  }
  // Never mark an item that could merge with its left neighbour.
  while (p->left && p->left->id.client == p->id.client && p->left->id.clock + p->left->length == p->id.clock) {
    p = p->left;
    if (!p->deleted && p->countable()) pindex -= p->length;
  }
  if (p->deleted || !p->countable()) t->markers_dirty = true;
  if (marker && static_cast<double>(AbsDiff(marker->index, pindex)) <
                    static_cast<double>(t->length) / static_cast<double>(kMaxSearchMarker)) {
    OverwriteMarker(*marker, p, pindex);
    return marker;
  }
  if (t->markers.size() >= kMaxSearchMarker) {
    Type::Marker* oldest = &t->markers[0];
    for (auto& m : t->markers)
      if (!(oldest->timestamp < m.timestamp)) oldest = &m;
    OverwriteMarker(*oldest, p, pindex);
    return oldest;
  }
  if (t->markers.capacity() < kMaxSearchMarker) t->markers.reserve(kMaxSearchMarker);
  p->marker = true;
  t->markers.push_back({p, pindex, g_marker_timestamp.fetch_add(1, std::memory_order_relaxed)});
  return &t->markers.back();
}

void DocImpl::UpdateMarkerChanges(Type* t, uint64_t index, int64_t len) {
  auto& ms = t->markers;
  if (len > 0 && !t->markers_dirty && !t->ever_formatted) {
    // Every marker points at a live item, so yjs's walk would not move any;
    // only the indices shift. (Marker flags may then differ from yjs's, which
    // cannot change a position in a text without format items.)
    for (auto& m : ms) {
      if (index <= m.index) m.index = std::max<int64_t>(static_cast<int64_t>(index), static_cast<int64_t>(m.index) + len);
    }
    return;
  }
  for (size_t i = ms.size(); i-- > 0;) {
    Type::Marker& m = ms[i];
    if (len > 0) {
      Item* p = m.p;
      p->marker = false;
      while (p && (p->deleted || !p->countable())) {
        p = p->left;
        if (p && !p->deleted && p->countable()) m.index -= p->length;
      }
      if (!p || p->marker) {
        ms.erase(ms.begin() + i);
        continue;
      }
      m.p = p;
      p->marker = true;
    }
    if (index < m.index || (len > 0 && index == m.index)) {
      int64_t moved = static_cast<int64_t>(m.index) + len;
      m.index = std::max<int64_t>(static_cast<int64_t>(index), moved);
    }
  }
  if (len > 0) t->markers_dirty = false;
}

void DocImpl::FindNextPosition(ListPos& pos, uint64_t count) {
  while (pos.right && count > 0) {
    Item* r = pos.right;
    if (r->kind == kFormat) {
      if (!r->deleted) UpdateCurrentAttrs(pos.attrs, r);
    } else if (!r->deleted) {
      if (count < r->length) GetItemCleanStart({r->id.client, r->id.clock + count});
      pos.index += r->length;
      count -= std::min(count, r->length);
    }
    pos.left = r;
    pos.right = r->right;
  }
}

ListPos DocImpl::FindPosCached(Type* t, uint64_t index) {
  ListPos pos;
  pos.right = t->start;
  bool from_cache = false;
  if (t->cache_item && t->cache_item->parent == t) {
    pos.right = t->cache_item;
    pos.left = pos.right->left;
    pos.index = t->cache_index;
    from_cache = true;
    while (pos.index > index) {
      Item* l = pos.left;
      if (!l) {
        from_cache = false;
        break;
      }
      if (!l->deleted && l->countable()) pos.index -= l->length;
      pos.right = l;
      pos.left = l->left;
    }
    if (!from_cache) {
      pos = ListPos();
      pos.right = t->start;
    } else if (pos.index == index) {
      // Canonical spot: right after the last visible unit before `index`.
      while (pos.left && (pos.left->deleted || !pos.left->countable())) {
        pos.right = pos.left;
        pos.left = pos.left->left;
      }
    }
  }
  FindNextPosition(pos, index - pos.index);
  return pos;
}

ListPos DocImpl::FindPos(Type* t, uint64_t index, bool use_marker) {
  if (!t->ever_formatted) return FindPosCached(t, index);
  ListPos pos;
  Type::Marker* m = use_marker ? FindMarker(t, index) : nullptr;
  if (m) {
    pos.left = m->p->left;
    pos.right = m->p;
    pos.index = m->index;
    FindNextPosition(pos, index - m->index);
  } else {
    pos.right = t->start;
    FindNextPosition(pos, index);
  }
  return pos;
}

Item* DocImpl::NewLocalItem(Type* parent, Item* left, Item* right, const std::string* key) {
  Item* it = pool.New();
  it->id = {client_id, GetState(client_id)};
  it->left = left;
  it->right = right;
  if (left) {
    it->has_origin = true;
    it->origin = {left->id.client, left->id.clock + left->length - 1};
  }
  if (right) {
    it->has_right_origin = true;
    it->right_origin = right->id;
  }
  it->parent = parent;
  if (key) {
    it->has_parent_sub = true;
    it->parent_sub = *key;
  }
  return it;
}

namespace {

void SetContent(DocImpl* d, Item* it, const Input& v) {
  if (auto* nt = std::get_if<NewType>(&v)) {
    it->kind = kType;
    auto t = std::make_unique<Type>();
    t->kind = nt->kind;
    t->markers_enabled = nt->kind == TypeKind::kText || nt->kind == TypeKind::kArray;
    t->doc = d;
    it->x().type = std::move(t);
    it->length = 1;
    return;
  }
  const Any& a = std::get<Any>(v);
  if (auto* b = std::get_if<Binary>(&a.v)) {
    it->kind = kBinary;
    it->x().binary = *b;
  } else {
    it->kind = kAny;
    it->x().anys.push_back(a);
  }
  it->length = 1;
}

void MinimizeAttributeChanges(DocImpl* d, ListPos& pos, const Attributes& attrs) {
  while (pos.right) {
    Item* r = pos.right;
    if (r->deleted || (r->kind == kFormat && EqualAttrs(AttrOrNull(attrs, r->extra->key), r->extra->value))) {
      d->Forward(pos);
      continue;
    }
    break;
  }
}

Item* InsertFormatItem(DocImpl* d, Type* t, ListPos& pos, const std::string& key, const Any& value) {
  Item* f = d->NewLocalItem(t, pos.left, pos.right, nullptr);
  f->kind = kFormat;
  f->length = 1;
  f->x().key = key;
  f->x().value = value;
  f->x().text = ToJsonText(value);
  d->Integrate(f, 0);
  pos.right = f;
  d->Forward(pos);
  return f;
}

Attributes InsertAttributes(DocImpl* d, Type* t, ListPos& pos, const Attributes& attrs) {
  Attributes negated;
  for (const auto& [key, val] : attrs) {
    Any cur = AttrOrNull(pos.attrs, key);
    if (!EqualAttrs(cur, val)) {
      SetAttr(negated, key, cur);
      InsertFormatItem(d, t, pos, key, val);
    }
  }
  return negated;
}

void InsertNegatedAttributes(DocImpl* d, Type* t, ListPos& pos, Attributes& negated) {
  while (pos.right) {
    Item* r = pos.right;
    bool skip = r->deleted;
    if (!skip && r->kind == kFormat) {
      const Any* n = FindAttr(negated, r->extra->key);
      Any nv = n ? *n : Any();
      skip = EqualAttrs(nv, r->extra->value);
    }
    if (!skip) break;
    if (!r->deleted) EraseAttr(negated, r->extra->key);
    d->Forward(pos);
  }
  for (const auto& [key, val] : negated) InsertFormatItem(d, t, pos, key, val);
}

void CleanupFormattingGap(DocImpl* d, Item* start, Item* curr, const Attributes& start_attrs, Attributes& curr_attrs) {
  Item* end = start;
  std::vector<std::pair<std::string, Item*>> end_formats;
  while (end && (!end->countable() || end->deleted)) {
    if (!end->deleted && end->kind == kFormat) {
      bool found = false;
      for (auto& [k, v] : end_formats)
        if (k == end->extra->key) {
          v = end;
          found = true;
        }
      if (!found) end_formats.emplace_back(end->extra->key, end);
    }
    end = end->right;
  }
  bool reached_curr = false;
  while (start && start != end) {
    if (curr == start) reached_curr = true;
    if (!start->deleted && start->kind == kFormat) {
      const std::string key = start->extra->key;
      const Any value = start->extra->value;
      Any start_val = AttrOrNull(start_attrs, key);
      Item* ef = nullptr;
      for (auto& [k, v] : end_formats)
        if (k == key) ef = v;
      if (ef != start || start_val == value) {
        d->Delete(start);
        if (!reached_curr && AttrOrNull(curr_attrs, key) == value && !(start_val == value)) {
          if (start_val.IsNull()) EraseAttr(curr_attrs, key);
          else SetAttr(curr_attrs, key, start_val);
        }
      }
      if (!reached_curr && !start->deleted) UpdateCurrentAttrs(curr_attrs, start);
    }
    start = start->right;
  }
}

void CleanupContextlessFormattingGap(DocImpl* d, Item* item) {
  while (item && item->right && (item->right->deleted || !item->right->countable())) item = item->right;
  std::vector<std::string> seen;
  while (item && (item->deleted || !item->countable())) {
    if (!item->deleted && item->kind == kFormat) {
      const std::string& key = item->extra->key;
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) d->Delete(item);
      else seen.push_back(key);
    }
    item = item->left;
  }
}

void CleanupYTextFormatting(DocImpl* d, Type* t) {
  Item* start = t->start;
  Item* end = t->start;
  Attributes start_attrs;
  Attributes current;
  while (end) {
    if (!end->deleted) {
      if (end->kind == kFormat) {
        UpdateCurrentAttrs(current, end);
      } else {
        CleanupFormattingGap(d, start, end, start_attrs, current);
        start_attrs = current;
        start = end;
      }
    }
    end = end->right;
  }
}

}  // namespace

void DocImpl::FormattingCleanupBody(Transaction& remote) {
  std::vector<Type*> full;
  auto add_full = [&](Type* t) {
    if (std::find(full.begin(), full.end(), t) == full.end()) full.push_back(t);
  };
  for (auto& [client, cs] : clients) {
    uint64_t before = remote.BeforeClock(client);
    if (cs.state() == before) continue;
    for (auto p = cs.Find(before); cs.Valid(p); cs.Next(&p)) {
      Item* it = cs.At(p);
      if (it->is_item() && !it->deleted && it->kind == kFormat && it->parent) add_full(it->parent);
    }
  }
  for (const auto& [client, dels] : remote.ds.clients) {
    auto cit = clients.find(client);
    if (cit == clients.end()) continue;
    ClientStructs& cs = cit->second;
    for (const auto& d : dels) {
      if (d.clock >= cs.state()) continue;
      uint64_t end = d.clock + d.len;
      GetItemCleanStart({client, d.clock});
      if (end < cs.state()) GetItemCleanStart({client, end});
      std::vector<Item*> items;
      for (auto p = cs.Find(d.clock); cs.Valid(p); cs.Next(&p)) {
        Item* it = cs.At(p);
        if (it->id.clock >= end) break;
        items.push_back(it);
      }
      for (Item* it : items) {
        if (!it->is_item() || !it->parent || !it->parent->has_formatting) continue;
        Type* parent = it->parent;
        if (std::find(full.begin(), full.end(), parent) != full.end()) continue;
        if (it->kind == kFormat) add_full(parent);
        else CleanupContextlessFormattingGap(this, it);
      }
    }
  }
  for (Type* t : full) CleanupYTextFormatting(this, t);
}

// ---------------------------------------------------------------- TextRef

TypeKind TypeRef::kind() const { return type_ ? type_->kind : TypeKind::kUnknown; }

std::string TypeRef::ToJson() const {
  std::string out;
  if (!type_ || !type_->doc) return "null";
  doc_->AppendTypeJson(type_, type_->kind == TypeKind::kUnknown ? doc_->Infer(type_) : type_->kind, &out);
  return out;
}

namespace {
// yjs YText.insert / insertEmbed + insertText. `inherit`: no attributes were
// given, so the insert takes the formatting found at the position.
template <typename Fill>
Status InsertTextContent(DocImpl* d, Type* t, uint64_t index, const Attributes* attrs, bool use_marker,
                         Fill&& fill) {
  if (!t || !t->doc) return DeadType();
  if (index > t->length)
    return Status::InvalidArgument("index " + std::to_string(index) + " beyond text length " + std::to_string(t->length));
  d->Transact(true, {}, [&] {
    ListPos pos = d->FindPos(t, index, use_marker);
    Attributes a = attrs ? *attrs : pos.attrs;
    for (const auto& [k, v] : pos.attrs)
      if (!FindAttr(a, k)) a.emplace_back(k, Any(nullptr));
    MinimizeAttributeChanges(d, pos, a);
    Attributes negated = InsertAttributes(d, t, pos, a);
    Item* it = d->NewLocalItem(t, nullptr, nullptr, nullptr);
    fill(it);
    if (d->ExactMarkers(t)) d->UpdateMarkerChanges(t, pos.index, static_cast<int64_t>(it->length));
    // Origins are taken now: the marker update above does not move the cursor.
    it->left = pos.left;
    it->right = pos.right;
    if (pos.left) {
      it->has_origin = true;
      it->origin = {pos.left->id.client, pos.left->id.clock + pos.left->length - 1};
    }
    if (pos.right) {
      it->has_right_origin = true;
      it->right_origin = pos.right->id;
    }
    d->Integrate(it, 0);
    pos.right = it;
    uint64_t at = pos.index;
    d->Forward(pos);
    InsertNegatedAttributes(d, t, pos, negated);
    if (!d->ExactMarkers(t)) d->SetCache(t, it, at);
  });
  return Status::Ok();
}
}  // namespace

Status TextRef::Insert(uint64_t index, std::string_view utf8, const Attributes* attrs) {
  if (utf8.empty()) return Status::Ok();
  std::u16string s;
  if (!Utf8ToUtf16(utf8, &s)) return Status::InvalidArgument("text is not valid UTF-8");
  return InsertTextContent(doc_, type_, index, attrs, /*use_marker=*/attrs == nullptr, [&](Item* it) {
    it->kind = kString;
    it->length = s.size();
    it->str = std::move(s);
  });
}

Status TextRef::InsertEmbed(uint64_t index, const Any& embed, const Attributes* attrs) {
  // yjs insertEmbed defaults attributes to {}: an embed inherits no formatting.
  static const Attributes kNone;
  return InsertTextContent(doc_, type_, index, attrs ? attrs : &kNone, /*use_marker=*/attrs == nullptr, [&](Item* it) {
    it->kind = kEmbed;
    it->length = 1;
    it->x().value = embed;
    it->x().text = ToJsonText(embed);
  });
}

Status TextRef::Delete(uint64_t index, uint64_t length) {
  if (!type_ || !type_->doc) return DeadType();
  if (length == 0) return Status::Ok();
  if (index > type_->length)
    return Status::InvalidArgument("index " + std::to_string(index) + " beyond text length " +
                                   std::to_string(type_->length));
  DocImpl* d = doc_;
  Type* t = type_;
  d->Transact(true, {}, [&] {
    ListPos pos = d->FindPos(t, index, true);
    Attributes start_attrs = pos.attrs;
    Item* start = pos.right;
    uint64_t len = length;
    while (len > 0 && pos.right) {
      Item* r = pos.right;
      if (!r->deleted && (r->kind == kString || r->kind == kEmbed || r->kind == kType)) {
        if (len < r->length) d->GetItemCleanStart({r->id.client, r->id.clock + len});
        len -= r->length;
        d->Delete(r);
      }
      d->Forward(pos);
    }
    if (start && t->ever_formatted) CleanupFormattingGap(d, start, pos.right, start_attrs, pos.attrs);
    if (d->ExactMarkers(t))
      d->UpdateMarkerChanges(t, pos.index, -static_cast<int64_t>(length - len));  // what was deleted
    else if (pos.right)
      d->SetCache(t, pos.right, pos.index);
  });
  return Status::Ok();
}

Status TextRef::Format(uint64_t index, uint64_t length, const Attributes& attrs) {
  if (!type_ || !type_->doc) return DeadType();
  if (length == 0) return Status::Ok();
  if (index > type_->length) return Status::InvalidArgument("index beyond text length");
  // Like yjs, formatting past the end pads the text with newlines; bound the
  // padding so one bad length cannot ask for gigabytes.
  if (length > type_->length - index && length - (type_->length - index) > kMaxFormatPadding)
    return Status::InvalidArgument("format of " + std::to_string(length) + " at " + std::to_string(index) +
                                   " runs too far past the text length " + std::to_string(type_->length));
  DocImpl* d = doc_;
  Type* t = type_;
  d->Transact(true, {}, [&] {
    ListPos pos = d->FindPos(t, index, false);
    if (!pos.right) return;
    uint64_t len = length;
    MinimizeAttributeChanges(d, pos, attrs);
    Attributes negated = InsertAttributes(d, t, pos, attrs);
    while (pos.right && (len > 0 || (!negated.empty() && (pos.right->deleted || pos.right->kind == kFormat)))) {
      Item* r = pos.right;
      if (!r->deleted) {
        if (r->kind == kFormat) {
          const std::string key = r->extra->key;
          const Any value = r->extra->value;
          const Any* attr = FindAttr(attrs, key);
          if (attr) {
            if (EqualAttrs(*attr, value)) {
              EraseAttr(negated, key);
            } else {
              if (len == 0) break;
              SetAttr(negated, key, value);
            }
            d->Delete(r);
          } else {
            SetAttr(pos.attrs, key, value);
          }
        } else {
          if (len < r->length) d->GetItemCleanStart({r->id.client, r->id.clock + len});
          len -= std::min(len, r->length);
        }
      }
      d->Forward(pos);
    }
    if (len > 0) {
      Item* nl = d->NewLocalItem(t, pos.left, pos.right, nullptr);
      nl->kind = kString;
      nl->str.assign(len, u'\n');
      nl->length = len;
      d->Integrate(nl, 0);
      pos.right = nl;
      d->Forward(pos);
    }
    InsertNegatedAttributes(d, t, pos, negated);
  });
  return Status::Ok();
}

std::string TextRef::ToString() const {
  std::string out;
  if (!type_) return out;
  for (Item* i = type_->start; i; i = i->right)
    if (!i->deleted && i->kind == kString) AppendUtf16AsUtf8(i->str, &out);
  return out;
}

uint64_t TextRef::Length() const { return type_ ? type_->length : 0; }

std::vector<TextDeltaOp> TextRef::Delta() const {
  std::vector<TextDeltaOp> ops;
  if (!type_) return ops;
  Attributes cur;
  std::string pending;
  auto flush = [&] {
    if (pending.empty()) return;
    ops.push_back({Output(Any(std::move(pending))), cur});
    pending.clear();
  };
  for (Item* i = type_->start; i; i = i->right) {
    if (i->deleted) continue;
    if (i->kind == kString) {
      AppendUtf16AsUtf8(i->str, &pending);
    } else if (i->kind == kFormat) {
      flush();
      UpdateCurrentAttrs(cur, i);
    } else if (i->kind == kEmbed) {
      flush();
      ops.push_back({Output(i->extra->value), cur});
    } else if (i->kind == kType) {
      flush();
      ops.push_back({HandleAccess::MakeOutput(doc_, i->type()), cur});
    }
  }
  flush();
  return ops;
}

std::string TextRef::DeltaJson() const {
  std::string out = "[";
  for (const TextDeltaOp& op : Delta()) {
    if (out.size() > 1) out += ",";
    out += "{\"insert\":";
    if (op.insert.is_type()) {
      Type* t = HandleAccess::TypeOf(op.insert);
      doc_->AppendTypeJson(t, t->kind, &out);
    } else {
      AppendCanonicalJson(op.insert.any(), &out);
    }
    if (!op.attributes.empty()) {
      out += ",\"attributes\":";
      AppendCanonicalJson(Any(AnyObject(op.attributes.begin(), op.attributes.end())), &out);
    }
    out += "}";
  }
  return out + "]";
}

// ---------------------------------------------------------------- MapRef

Status MapRef::Set(const std::string& key, const Input& value) {
  if (!type_ || !type_->doc) return DeadType();
  if (std::holds_alternative<NewType>(value) && type_->depth + 1 > kMaxTypeDepth)
    return Status::InvalidArgument("nested types deeper than " + std::to_string(kMaxTypeDepth));
  DocImpl* d = doc_;
  Type* t = type_;
  d->Transact(true, {}, [&] {
    auto f = t->map.find(key);
    Item* left = f == t->map.end() ? nullptr : f->second;
    Item* it = d->NewLocalItem(t, left, nullptr, &key);
    SetContent(d, it, value);
    d->Integrate(it, 0);
  });
  return Status::Ok();
}

Status MapRef::Delete(const std::string& key) {
  if (!type_ || !type_->doc) return DeadType();
  auto f = type_->map.find(key);
  if (f == type_->map.end() || f->second->deleted) return Status::Ok();
  DocImpl* d = doc_;
  Item* it = f->second;
  d->Transact(true, {}, [&] { d->Delete(it); });
  return Status::Ok();
}

namespace {
std::optional<Output> ItemOutput(DocImpl* d, const Item* it, size_t i) {
  switch (it->kind) {
    case kAny: return Output(it->extra->anys[i]);
    case kJSON: {
      auto r = ParseJsonText(it->extra->json[i]);
      return Output(r.ok() ? *r : Any());
    }
    case kBinary: return Output(Any(it->extra->binary));
    case kType: return HandleAccess::MakeOutput(d, it->extra->type.get());
    case kString: return Output(Any(Utf16ToUtf8(std::u16string(1, it->str[i]))));
    case kEmbed: return Output(it->extra->value);
    default: return Output(Any());
  }
}
}  // namespace

std::optional<Output> MapRef::Get(const std::string& key) const {
  if (!type_) return std::nullopt;
  auto f = type_->map.find(key);
  if (f == type_->map.end() || f->second->deleted) return std::nullopt;
  return ItemOutput(doc_, f->second, f->second->length - 1);
}

std::vector<std::string> MapRef::Keys() const {
  std::vector<std::string> keys;
  if (!type_) return keys;
  for (const auto& [k, v] : type_->map)
    if (!v->deleted) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  return keys;
}

// ---------------------------------------------------------------- ArrayRef

Status ArrayRef::Insert(uint64_t index, const std::vector<Input>& values) {
  if (!type_ || !type_->doc) return DeadType();
  if (type_->depth + 1 > kMaxTypeDepth)
    for (const auto& v : values)
      if (std::holds_alternative<NewType>(v))
        return Status::InvalidArgument("nested types deeper than " + std::to_string(kMaxTypeDepth));
  if (index > type_->length)
    return Status::InvalidArgument("index " + std::to_string(index) + " beyond array length " +
                                   std::to_string(type_->length));
  if (values.empty()) return Status::Ok();
  DocImpl* d = doc_;
  Type* t = type_;
  d->Transact(true, {}, [&] {
    // Without format items (arrays never have them) the spot is canonical:
    // right after the item holding unit index-1.
    Item* left = nullptr;
    if (index > 0) left = d->FindPosCached(t, index).left;
    Item* right = left ? left->right : t->start;
    Item* first = nullptr;
    std::vector<Any> run;
    auto put = [&](Item* it) {
      d->Integrate(it, 0);
      if (!first) first = it;
      left = it;
    };
    auto pack = [&] {
      if (run.empty()) return;
      Item* it = d->NewLocalItem(t, left, right, nullptr);
      it->kind = kAny;
      it->length = run.size();
      it->x().anys = std::move(run);
      run.clear();
      put(it);
    };
    for (const auto& v : values) {
      const Any* a = std::get_if<Any>(&v);
      if (a && !std::holds_alternative<Binary>(a->v)) {
        run.push_back(*a);
        continue;
      }
      pack();
      Item* it = d->NewLocalItem(t, left, right, nullptr);
      SetContent(d, it, v);
      put(it);
    }
    pack();
    if (first) d->SetCache(t, first, index);
  });
  return Status::Ok();
}

Status ArrayRef::Delete(uint64_t index, uint64_t length) {
  if (!type_ || !type_->doc) return DeadType();
  if (length == 0) return Status::Ok();
  if (index > type_->length || length > type_->length - index)  // no wrap-around
    return Status::InvalidArgument("delete of " + std::to_string(length) + " at " + std::to_string(index) +
                                   " exceeds array length " + std::to_string(type_->length));
  DocImpl* d = doc_;
  Type* t = type_;
  d->Transact(true, {}, [&] {
    Item* n = d->FindPosCached(t, index).right;
    uint64_t len = length;
    while (len > 0 && n) {
      if (!n->deleted) {
        if (len < n->length) d->GetItemCleanStart({n->id.client, n->id.clock + len});
        len -= std::min(len, n->length);
        d->Delete(n);
      }
      n = n->right;
    }
    if (n) d->SetCache(t, n, index);
  });
  return Status::Ok();
}

uint64_t ArrayRef::Length() const { return type_ ? type_->length : 0; }

std::vector<std::pair<std::string, Output>> MapRef::Entries() const {
  std::vector<std::pair<std::string, Output>> out;
  if (!type_) return out;
  for (const auto& [k, v] : type_->map)
    if (!v->deleted) out.emplace_back(k, *ItemOutput(doc_, v, v->length - 1));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

std::optional<Output> ArrayRef::Get(uint64_t index) const {
  if (!type_) return std::nullopt;
  for (Item* i = type_->start; i; i = i->right) {
    if (i->deleted || !i->countable()) continue;
    if (index < i->length) return ItemOutput(doc_, i, index);
    index -= i->length;
  }
  return std::nullopt;
}

TypeKind Output::kind() const { return type_ ? type_->kind : TypeKind::kUnknown; }
TypeRef Output::AsType() const { return HandleAccess::Make<TypeRef>(doc_, type_); }
TextRef Output::AsText() const { return AsType().AsText(); }
MapRef Output::AsMap() const { return AsType().AsMap(); }
ArrayRef Output::AsArray() const { return AsType().AsArray(); }

// A handle of the wrong kind would run e.g. text edits on a map's items.
TextRef TypeRef::AsText() const {
  return kind() == TypeKind::kText ? HandleAccess::Make<TextRef>(doc_, type_) : TextRef();
}
MapRef TypeRef::AsMap() const {
  return kind() == TypeKind::kMap ? HandleAccess::Make<MapRef>(doc_, type_) : MapRef();
}
ArrayRef TypeRef::AsArray() const {
  return kind() == TypeKind::kArray ? HandleAccess::Make<ArrayRef>(doc_, type_) : ArrayRef();
}

// ---------------------------------------------------------------- JSON

TypeKind DocImpl::Infer(const Type* t) const {
  if (t->kind != TypeKind::kUnknown) return t->kind;
  if (!t->map.empty()) return TypeKind::kMap;
  bool any = false;
  for (const Item* i = t->start; i; i = i->right) {
    any = true;
    if (i->kind == kString || i->kind == kFormat || i->kind == kEmbed) return TypeKind::kText;
  }
  return any ? TypeKind::kArray : TypeKind::kArray;
}

void DocImpl::AppendItemValueJson(const Item* it, size_t i, std::string* out) const {
  switch (it->kind) {
    case kAny: AppendCanonicalJson(it->extra->anys[i], out); break;
    case kJSON: {
      auto r = ParseJsonText(it->extra->json[i]);
      AppendCanonicalJson(r.ok() ? *r : Any(), out);
      break;
    }
    case kBinary: AppendCanonicalJson(Any(it->extra->binary), out); break;
    case kType: AppendTypeJson(it->extra->type.get(), it->extra->type->kind, out); break;
    case kString: AppendJsonString(Utf16ToUtf8(std::u16string(1, it->str[i])), out); break;
    case kEmbed: AppendCanonicalJson(it->extra->value, out); break;
    default: *out += "null";
  }
}

void DocImpl::AppendTypeJson(const Type* t, TypeKind kind, std::string* out) const {
  switch (kind) {
    case TypeKind::kText:
    case TypeKind::kXmlText: {
      std::string s;
      for (const Item* i = t->start; i; i = i->right)
        if (!i->deleted && i->kind == kString) AppendUtf16AsUtf8(i->str, &s);
      AppendJsonString(s, out);
      return;
    }
    case TypeKind::kMap: {
      std::vector<std::pair<std::string, const Item*>> entries;
      for (const auto& [k, v] : t->map)
        if (!v->deleted) entries.emplace_back(k, v);
      std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      out->push_back('{');
      bool first = true;
      for (const auto& [k, v] : entries) {
        if (!first) out->push_back(',');
        first = false;
        AppendJsonString(k, out);
        out->push_back(':');
        AppendItemValueJson(v, v->length - 1, out);
      }
      out->push_back('}');
      return;
    }
    default: {
      out->push_back('[');
      bool first = true;
      for (const Item* i = t->start; i; i = i->right) {
        if (i->deleted || !i->countable()) continue;
        for (size_t k = 0; k < i->length; ++k) {
          if (!first) out->push_back(',');
          first = false;
          AppendItemValueJson(i, k, out);
        }
      }
      out->push_back(']');
    }
  }
}

// ---------------------------------------------------------------- Doc

namespace {
uint64_t RandomClientId() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  uint64_t id;
  do {
    id = rng() & 0xffffffffu;
  } while (id == 0);
  return id;
}
}  // namespace

Doc::Doc(DocOptions o) : impl_(std::make_unique<DocImpl>(o.client_id ? *o.client_id : RandomClientId(), o.gc)) {}
Doc::~Doc() = default;

uint64_t Doc::client_id() const { return impl_->client_id; }
bool Doc::gc() const { return impl_->gc; }

TextRef Doc::GetText(const std::string& name) {
  return HandleAccess::Make<TextRef>(impl_.get(), impl_->GetOrCreateRoot(name, TypeKind::kText));
}
MapRef Doc::GetMap(const std::string& name) {
  return HandleAccess::Make<MapRef>(impl_.get(), impl_->GetOrCreateRoot(name, TypeKind::kMap));
}
ArrayRef Doc::GetArray(const std::string& name) {
  return HandleAccess::Make<ArrayRef>(impl_.get(), impl_->GetOrCreateRoot(name, TypeKind::kArray));
}

std::vector<std::pair<std::string, TypeKind>> Doc::Roots() const {
  std::vector<std::pair<std::string, TypeKind>> out;
  for (const auto& [name, t] : impl_->share) out.emplace_back(name, t->kind);
  return out;
}

TypeKind Doc::InferKind(const std::string& name) const {
  auto it = impl_->share.find(name);
  if (it == impl_->share.end()) return TypeKind::kUnknown;
  return impl_->Infer(it->second.get());
}

void Doc::Transact(const std::function<void()>& fn, std::string_view origin) { impl_->Transact(true, origin, fn); }

Status Doc::ApplyUpdate(std::span<const uint8_t> update, std::string_view origin) {
  return impl_->ApplyUpdate(update, origin);
}

Result<std::vector<uint8_t>> Doc::EncodeStateAsUpdate(std::span<const uint8_t> sv) const {
  return impl_->EncodeStateAsUpdate(sv);
}

std::map<uint64_t, uint64_t> Doc::StateVector() const {
  std::map<uint64_t, uint64_t> sv;
  for (const auto& [client, cs] : impl_->clients)
    if (!cs.empty()) sv[client] = cs.state();
  return sv;
}

std::vector<uint8_t> Doc::EncodeStateVector() const { return crdt::EncodeStateVector(StateVector()); }

bool Doc::HasPending() const { return !impl_->pending.empty() || !impl_->pending_ds.empty(); }

std::string Doc::ToJson(const std::map<std::string, TypeKind>& kinds) const {
  std::string out = "{";
  bool first = true;
  std::map<std::string, const Type*> roots;
  for (const auto& [name, t] : impl_->share) roots[name] = t.get();
  for (const auto& [name, kind] : kinds)
    if (!roots.count(name)) roots[name] = nullptr;
  for (const auto& [name, t] : roots) {
    auto k = kinds.find(name);
    std::string value;
    if (k != kinds.end()) {
      if (t) impl_->AppendTypeJson(t, k->second, &value);
      else value = k->second == TypeKind::kMap ? "{}" : k->second == TypeKind::kText ? "\"\"" : "[]";
    } else {
      impl_->AppendTypeJson(t, impl_->Infer(t), &value);
      if (value == "{}" || value == "[]" || value == "\"\"") continue;  // drop empty roots
    }
    if (!first) out += ",";
    first = false;
    AppendJsonString(name, &out);
    out += ":" + value;
  }
  return out + "}";
}

int Doc::OnUpdate(UpdateHandler handler) {
  int id = impl_->next_handler++;
  impl_->handlers.emplace_back(id, std::move(handler));
  return id;
}

void Doc::RemoveHandler(int id) {
  auto& h = impl_->handlers;
  h.erase(std::remove_if(h.begin(), h.end(), [&](const auto& p) { return p.first == id; }), h.end());
}

}  // namespace vaultd::crdt
