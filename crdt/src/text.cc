// Y.Text: inserts that inherit or set formatting, deletes, Format, the formatting cleanup after a
// remote transaction, and the text and delta read-outs.
#include <algorithm>

#include "doc_impl.h"
#include "handle_access.h"
#include "text_attributes.h"

namespace vaultd::crdt {

namespace {
// How far Format() may pad past the end of a text (see TextRef::Format).
constexpr uint64_t kMaxFormatPadding = 1 << 20;
}  // namespace

namespace {
void MinimizeAttributeChanges(DocImpl* d, ListPos& pos, const Attributes& attrs) {
  while (pos.right) {
    Item* r = pos.right;
    if (r->deleted ||
        (r->kind == kFormat && EqualAttrs(AttrOrNull(attrs, r->extra->key), r->extra->value))) {
      d->Forward(pos);
      continue;
    }
    break;
  }
}

Item* InsertFormatItem(DocImpl* d, Type* t, ListPos& pos, const std::string& key,
                       const Any& value) {
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

void CleanupFormattingGap(DocImpl* d, Item* start, Item* curr, const Attributes& start_attrs,
                          Attributes& curr_attrs) {
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
          if (start_val.IsNull())
            EraseAttr(curr_attrs, key);
          else
            SetAttr(curr_attrs, key, start_val);
        }
      }
      if (!reached_curr && !start->deleted) UpdateCurrentAttrs(curr_attrs, start);
    }
    start = start->right;
  }
}

void CleanupContextlessFormattingGap(DocImpl* d, Item* item) {
  while (item && item->right && (item->right->deleted || !item->right->countable()))
    item = item->right;
  std::vector<std::string> seen;
  while (item && (item->deleted || !item->countable())) {
    if (!item->deleted && item->kind == kFormat) {
      const std::string& key = item->extra->key;
      if (std::find(seen.begin(), seen.end(), key) != seen.end())
        d->Delete(item);
      else
        seen.push_back(key);
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
        if (it->kind == kFormat)
          add_full(parent);
        else
          CleanupContextlessFormattingGap(this, it);
      }
    }
  }
  for (Type* t : full) CleanupYTextFormatting(this, t);
}

namespace {
// yjs YText.insert / insertEmbed + insertText. `inherit`: no attributes were
// given, so the insert takes the formatting found at the position.
template <typename Fill>
Status InsertTextContent(DocImpl* d, Type* t, uint64_t index, const Attributes* attrs,
                         bool use_marker, Fill&& fill) {
  if (!t || !t->doc) return DeadType();
  if (index > t->length)
    return Status::InvalidArgument("index " + std::to_string(index) + " beyond text length " +
                                   std::to_string(t->length));
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
  if (!IsValidUtf8(utf8)) return Status::InvalidArgument("text is not valid UTF-8");
  return InsertTextContent(doc_, type_, index, attrs, /*use_marker=*/attrs == nullptr,
                           [&](Item* it) {
                             it->kind = kString;
                             it->length = Utf16Length(utf8);
                             it->str = std::string(utf8);
                           });
}

Status TextRef::InsertEmbed(uint64_t index, const Any& embed, const Attributes* attrs) {
  // yjs insertEmbed defaults attributes to {}: an embed inherits no formatting.
  static const Attributes kNone;
  return InsertTextContent(doc_, type_, index, attrs ? attrs : &kNone,
                           /*use_marker=*/attrs == nullptr, [&](Item* it) {
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
    if (start && t->ever_formatted)
      CleanupFormattingGap(d, start, pos.right, start_attrs, pos.attrs);
    if (d->ExactMarkers(t))
      d->UpdateMarkerChanges(t, pos.index,
                             -static_cast<int64_t>(length - len));  // what was deleted
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
    return Status::InvalidArgument("format of " + std::to_string(length) + " at " +
                                   std::to_string(index) + " runs too far past the text length " +
                                   std::to_string(type_->length));
  DocImpl* d = doc_;
  Type* t = type_;
  d->Transact(true, {}, [&] {
    ListPos pos = d->FindPos(t, index, false);
    if (!pos.right) return;
    uint64_t len = length;
    MinimizeAttributeChanges(d, pos, attrs);
    Attributes negated = InsertAttributes(d, t, pos, attrs);
    while (pos.right &&
           (len > 0 || (!negated.empty() && (pos.right->deleted || pos.right->kind == kFormat)))) {
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
      nl->str.assign(len, '\n');
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
    if (!i->deleted && i->kind == kString) out += i->str;
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
      pending += i->str;
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

}  // namespace vaultd::crdt
