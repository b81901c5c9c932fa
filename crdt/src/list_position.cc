// Positions in a list type (text, array): the search markers yjs keeps per type, a cursor cache,
// and new local items at a position.
#include <atomic>

#include "doc_impl.h"
#include "text_attributes.h"

namespace vaultd::crdt {

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
std::atomic<uint64_t> g_marker_timestamp{
    0};  // yjs: one counter for the whole process (Docs may live on several threads)
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
  while (p->left && p->left->id.client == p->id.client &&
         p->left->id.clock + p->left->length == p->id.clock) {
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
      if (index <= m.index)
        m.index =
            std::max<int64_t>(static_cast<int64_t>(index), static_cast<int64_t>(m.index) + len);
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

}  // namespace vaultd::crdt
