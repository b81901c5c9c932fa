// The block store (private): items, types, per-client struct lists, delete
// sets, and the v1 struct codec. Mirrors yjs's StructStore/Item model.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "vaultd/crdt/any.h"
#include "vaultd/crdt/doc.h"
#include "vaultd/crdt/encoding.h"

namespace vaultd::crdt {

struct ID {
  uint64_t client = 0;
  uint64_t clock = 0;
  bool operator==(const ID&) const = default;
};

// Wire content refs (low 5 bits of the info byte). 0 and 10 are structs.
enum ContentKind : uint8_t {
  kGC = 0,
  kDeleted = 1,
  kJSON = 2,
  kBinary = 3,
  kString = 4,
  kEmbed = 5,
  kFormat = 6,
  kType = 7,
  kAny = 8,
  kDoc = 9,
  kSkip = 10,
};

class DocImpl;

// Nested types deeper than this are not created (an update nesting deeper
// integrates those items as GC). Deleting, collecting and printing nested
// types recurse, and hostile input must not exhaust the stack.
inline constexpr uint32_t kMaxTypeDepth = 256;

struct Type {
  DocImpl* doc = nullptr;
  struct Item* item = nullptr;  // the item holding this type; null for roots
  struct Item* start = nullptr;
  std::unordered_map<std::string, struct Item*> map;  // key -> rightmost item of that key
  uint64_t length = 0;                                // countable, undeleted units of the list part
  TypeKind kind = TypeKind::kUnknown;
  uint32_t depth =
      0;  // 0 for roots; bounded (kMaxTypeDepth) so recursion over nested types stays shallow
  std::string name;  // root name, XML node name or hook name
  bool has_formatting = false;
  // yjs search markers (ArraySearchMarker): positions remembered for index
  // lookups. Kept exactly as yjs keeps them, because with formatting the
  // marker decides which attributes an insert inherits (and so the bytes).
  // Disabled (yjs: _searchMarker === null) for maps, for roots created by an
  // update until they are asked for as text/array, and once a text holds a
  // format item.
  struct Marker {
    struct Item* p;
    uint64_t index;
    uint64_t timestamp;
  };
  bool markers_enabled = false;
  std::vector<Marker> markers;
  // A marker may point at a deleted or uncountable item (UpdateMarkerChanges must walk).
  bool markers_dirty = true;
  // Some format item was ever integrated here. Without one, positions do not
  // depend on the marker state, so marker upkeep may take shortcuts.
  bool ever_formatted = false;
  // Without format items positions do not depend on markers; then a single
  // cursor cache is used instead: `cache_item` starts at index `cache_index`.
  struct Item* cache_item = nullptr;
  uint64_t cache_index = 0;
};

// Everything except string content lives here, allocated only when needed.
struct ContentExtra {
  std::vector<Any> anys;          // kAny
  std::vector<std::string> json;  // kJSON: JSON texts ("undefined" for undefined)
  Binary binary;                  // kBinary
  std::string key;                // kFormat key, kDoc guid
  std::string text;               // kEmbed / kFormat value as JSON text
  Any value;                      // kEmbed / kFormat value; kDoc options
  std::unique_ptr<Type> type;     // kType
};

struct Item {
  ID id;
  uint64_t length = 0;
  Item* left = nullptr;
  Item* right = nullptr;
  ID origin;
  ID right_origin;
  bool has_origin = false;
  bool has_right_origin = false;
  bool has_parent_sub = false;
  bool deleted = false;
  bool keep = false;
  bool marker = false;  // yjs Item.marker: some search marker points here (may be stale, as in yjs)
  uint8_t kind = kGC;
  // Unresolved parent of a decoded item: 0 none (copied from a neighbour), 1 root name, 2 item id.
  uint8_t parent_wire = 0;
  Type* parent = nullptr;
  ID parent_id;
  std::string parent_sub;
  // kString: valid UTF-8 (halves of a split surrogate pair are U+FFFD, as in
  // yjs); `length` counts its UTF-16 code units, as Yjs positions do.
  std::string str;
  std::unique_ptr<ContentExtra> extra;
  std::unique_ptr<std::string> parent_name;

  bool is_gc() const { return kind == kGC; }
  bool is_skip() const { return kind == kSkip; }
  bool is_item() const { return kind != kGC && kind != kSkip; }
  bool countable() const {
    return kind != kDeleted && kind != kFormat && kind != kGC && kind != kSkip;
  }
  uint64_t end() const { return id.clock + length; }
  ContentExtra& x() {
    if (!extra) extra = std::make_unique<ContentExtra>();
    return *extra;
  }
  Type* type() const { return extra ? extra->type.get() : nullptr; }
  // Byte offset in `str` of UTF-16 unit `unit` (see Utf8OffsetOfUnit).
  size_t StrOffset(uint64_t unit, bool* mid_pair) const {
    if (str.size() == length) {  // ASCII: bytes and units coincide
      *mid_pair = false;
      return unit;
    }
    return Utf8OffsetOfUnit(str, unit, mid_pair);
  }
  // `str` after byte `at`, where a cut between the halves of a surrogate pair
  // fell (see StrOffset): U+FFFD for the low half left there, as yjs slices.
  std::string StrAfterSplitPair(size_t at) const {
    std::string s = kReplacementUtf8;
    s.append(str, at + 4);
    return s;
  }
};

// Allocates items in chunks and recycles freed ones.
class ItemPool {
 public:
  ItemPool() = default;
  ItemPool(const ItemPool&) = delete;
  ~ItemPool();
  Item* New();
  void Free(Item* item);

 private:
  std::vector<void*> chunks_;
  std::vector<Item*> free_;
  size_t used_in_chunk_ = kChunk;
  static constexpr size_t kChunk = 1024;
};

// One client's structs sorted by clock, in chunks so that splitting an item in
// the middle of a long history costs O(chunk), not O(history).
class ClientStructs {
 public:
  struct Pos {
    uint32_t chunk = 0;
    uint32_t idx = 0;
    bool operator==(const Pos&) const = default;
  };
  bool empty() const { return chunks_.empty(); }
  Item* back() const { return chunks_.back().items.back(); }
  Item* front() const { return chunks_.front().items.front(); }
  uint64_t state() const { return empty() ? 0 : back()->end(); }
  void PushBack(Item* item);
  // Position of the struct containing `clock`; requires clock < state().
  Pos Find(uint64_t clock) const;
  Item* At(Pos p) const { return chunks_[p.chunk].items[p.idx]; }
  bool Next(Pos* p) const;
  bool Prev(Pos* p) const;
  Pos Last() const {
    return {static_cast<uint32_t>(chunks_.size() - 1),
            static_cast<uint32_t>(chunks_.back().items.size() - 1)};
  }
  Pos End() const { return {static_cast<uint32_t>(chunks_.size()), 0}; }
  bool Valid(Pos p) const { return p.chunk < chunks_.size(); }
  // Inserts after p; returns the position of the new item.
  Pos InsertAfter(Pos p, Item* item);
  // Erases the item at p; returns the position of its successor (may be End()).
  Pos Erase(Pos p);
  template <typename F>
  void ForEach(F&& f) const {
    for (const auto& c : chunks_)
      for (Item* i : c.items) f(i);
  }
  size_t size() const;

 private:
  // Clocks are kept beside the pointers so that a lookup touches no item.
  struct Chunk {
    std::vector<uint64_t> clocks;
    std::vector<Item*> items;
  };
  std::vector<uint64_t> firsts_;  // first clock of each chunk
  std::vector<Chunk> chunks_;
};

struct DeleteRange {
  uint64_t clock;
  uint64_t len;
};

// A small map kept as a vector: delete sets usually name one or two clients,
// and a transaction reuses the storage instead of allocating nodes.
template <typename V>
class FlatMap {
 public:
  using Entry = std::pair<uint64_t, V>;
  V& operator[](uint64_t k) {
    if (Entry* e = find(k); e != end()) return e->second;
    if (size_ == v_.size()) v_.emplace_back();
    v_[size_].first = k;
    v_[size_].second = V();
    if (size_ >= kLinear) {
      if (index_.empty())
        for (size_t n = 0; n < size_; ++n) index_.emplace(v_[n].first, n);
      index_.emplace(k, size_);
    }
    return v_[size_++].second;
  }
  Entry* find(uint64_t k) { return const_cast<Entry*>(static_cast<const FlatMap*>(this)->find(k)); }
  const Entry* find(uint64_t k) const {
    if (!index_.empty()) {
      auto it = index_.find(k);
      return it == index_.end() ? end() : &v_[it->second];
    }
    for (size_t n = 0; n < size_; ++n)
      if (v_[n].first == k) return &v_[n];
    return end();
  }
  const V& at(uint64_t k) const { return find(k)->second; }
  Entry* begin() { return v_.data(); }
  Entry* end() { return v_.data() + size_; }
  const Entry* begin() const { return v_.data(); }
  const Entry* end() const { return v_.data() + size_; }
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  // Keeps the entries' storage for reuse.
  void clear() {
    for (size_t n = 0; n < size_; ++n) {
      if constexpr (requires(V x) { x.clear(); }) v_[n].second.clear();
    }
    size_ = 0;
    index_.clear();
  }

 private:
  static constexpr size_t kLinear = 8;  // beyond this many clients, keep a hash index
  std::vector<Entry> v_;
  size_t size_ = 0;
  std::unordered_map<uint64_t, size_t> index_;
};

struct DeleteSet {
  FlatMap<std::vector<DeleteRange>> clients;
  void Add(uint64_t client, uint64_t clock, uint64_t len) {
    if (len > 0) clients[client].push_back({clock, len});
  }
  void SortAndMerge();
  bool Contains(ID id) const;
  bool empty() const { return clients.empty(); }
  void MergeFrom(const DeleteSet& other);
};

void WriteDeleteSet(Encoder& enc, const DeleteSet& ds);
Result<DeleteSet> ReadDeleteSet(Decoder& dec);

// A decoded update: structs per client in wire order (Skips kept) and its delete set.
struct DecodedUpdate {
  std::vector<std::pair<uint64_t, std::vector<Item*>>> clients;
  DeleteSet ds;
};
// Decodes with items from `pool`; on error everything allocated is freed.
Result<DecodedUpdate> DecodeUpdate(std::span<const uint8_t> data, ItemPool& pool);
void FreeDecoded(DecodedUpdate& u, ItemPool& pool);

// Writes one struct (item, GC or Skip) starting `offset` units into it.
void WriteStruct(Encoder& enc, const Item* s, uint64_t offset);
// Content helpers shared by the doc and the update tools.
void SpliceContent(Item* left, Item* right,
                   uint64_t offset);         // moves content after offset to right
bool MergeContent(Item* left, Item* right);  // appends right's content to left
Item* SliceStruct(Item* s, uint64_t diff,
                  ItemPool& pool);  // a copy of s without its first diff units
void CopyContent(const Item* from, Item* to);

// Writes per-client struct runs the way yjs's LazyStructWriter does.
class LazyStructWriter {
 public:
  void Write(const Item* s, uint64_t offset);
  void Finish(Encoder& out);

 private:
  void Flush();
  uint64_t client_ = 0;
  uint64_t written_ = 0;
  Encoder cur_;
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> done_;
};

}  // namespace vaultd::crdt
