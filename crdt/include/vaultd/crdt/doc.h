// A Yjs document: root types by name, local edits, updates in and out.
//
//   vaultd::crdt::Doc doc({.client_id = 1});
//   doc.GetText("t").Insert(0, "ab");                // one transaction
//   std::vector<uint8_t> update = doc.EncodeStateAsUpdate();
//   Status s = other.ApplyUpdate(update);            // any order, duplicates ok
//
// Every mutating call outside Transact() is its own transaction; inside
// Transact() they form one. Indices and lengths count UTF-16 code units, as
// in Yjs. Handles (TextRef, MapRef, ArrayRef) are cheap to copy and stay
// valid while the Doc lives (a handle to a nested type whose parent was
// deleted and garbage-collected reports itself as !valid()).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "vaultd/common/status.h"
#include "vaultd/crdt/any.h"

namespace vaultd::crdt {

class DocImpl;
struct Type;
// Builds handles over the block store; defined in src/ (the only way to make a
// handle from internals, so they stay out of this header's callers).
class HandleAccess;

// Yjs type refs (the numbers are the wire values of ContentType).
enum class TypeKind : uint8_t {
  kArray = 0,
  kMap = 1,
  kText = 2,
  kXmlElement = 3,
  kXmlFragment = 4,
  kXmlHook = 5,
  kXmlText = 6,
  kUnknown = 255,  // a root created by an update before anyone asked for it
};
const char* TypeKindName(TypeKind kind);

// A value to store into a map or array: an Any (a Binary Any becomes
// ContentBinary, as a Uint8Array does in yjs) or a new, empty nested type.
struct NewType {
  TypeKind kind;
};
using Input = std::variant<Any, NewType>;

// Text formatting attributes (Quill-style: a null value removes a format).
using Attributes = std::vector<std::pair<std::string, Any>>;

class TypeRef;
class TextRef;
class MapRef;
class ArrayRef;

// A value read from a map or array: an Any, or a nested type.
class Output {
 public:
  Output() = default;
  explicit Output(Any a) : any_(std::move(a)) {}
  bool is_type() const { return type_ != nullptr; }
  const Any& any() const { return any_; }
  TypeKind kind() const;  // kUnknown for an Any
  // The nested type as a handle of its kind. Asked for as another kind (or
  // when this is an Any) the handle is invalid (!valid(); its operations fail
  // with a Status), as Doc::GetText etc. do for a root of another kind.
  TextRef AsText() const;
  MapRef AsMap() const;
  ArrayRef AsArray() const;
  // The nested type whatever its kind (XML types too); invalid for an Any.
  TypeRef AsType() const;

 private:
  friend class HandleAccess;
  Output(DocImpl* doc, Type* type) : doc_(doc), type_(type) {}
  Any any_;
  DocImpl* doc_ = nullptr;
  Type* type_ = nullptr;
};

class TypeRef {
 public:
  TypeRef() = default;
  bool valid() const { return type_ != nullptr; }
  TypeKind kind() const;
  // Canonical JSON of this type's current value.
  std::string ToJson() const;
  // This type as a handle of its kind; asked for as another kind the handle
  // is invalid, as with Output::AsText etc.
  TextRef AsText() const;
  MapRef AsMap() const;
  ArrayRef AsArray() const;

 private:
  // Derived handles inherit this constructor, private to HandleAccess too.
  friend class HandleAccess;
  TypeRef(DocImpl* doc, Type* type) : doc_(doc), type_(type) {}

 protected:
  DocImpl* doc_ = nullptr;
  Type* type_ = nullptr;
};

// One element of a text's delta: `insert` is a string Any for a run of text,
// the embed's Any, or a nested type; `attributes` the formatting in force.
struct TextDeltaOp {
  Output insert;
  Attributes attributes;
};

class TextRef : public TypeRef {
 public:
  using TypeRef::TypeRef;
  // Without attributes the insert inherits the formatting at `index`.
  Status Insert(uint64_t index, std::string_view utf8, const Attributes* attrs = nullptr);
  Status InsertEmbed(uint64_t index, const Any& embed, const Attributes* attrs = nullptr);
  Status Delete(uint64_t index, uint64_t length);
  Status Format(uint64_t index, uint64_t length, const Attributes& attrs);
  // The text without format items and embeds (Y.Text#toString).
  std::string ToString() const;
  uint64_t Length() const;  // UTF-16 code units (embeds count 1)
  // Y.Text#toDelta: runs of text with the same attributes, embeds, nested types.
  std::vector<TextDeltaOp> Delta() const;
  // Delta() as JSON: [{"insert":..., "attributes":{...}}, ...] (a nested type
  // as its JSON value).
  std::string DeltaJson() const;
};

class MapRef : public TypeRef {
 public:
  using TypeRef::TypeRef;
  Status Set(const std::string& key, const Input& value);
  Status Delete(const std::string& key);
  std::optional<Output> Get(const std::string& key) const;
  std::vector<std::string> Keys() const;  // sorted
  // The live entries, sorted by key.
  std::vector<std::pair<std::string, Output>> Entries() const;
};

class ArrayRef : public TypeRef {
 public:
  using TypeRef::TypeRef;
  Status Insert(uint64_t index, const std::vector<Input>& values);
  Status Delete(uint64_t index, uint64_t length);
  uint64_t Length() const;
  std::optional<Output> Get(uint64_t index) const;
};

// What one transaction changed, per root type — enough for the daemon to
// know which files changed.
struct RootChange {
  std::string root;
  TypeKind kind = TypeKind::kUnknown;
  bool self_changed = false;             // the root's own text/array content or map entries changed
  std::vector<std::string> keys;         // root map: keys set or deleted (sorted, unique)
  std::vector<std::string> nested_keys;  // root map: keys whose nested type changed inside (sorted)
};
struct TransactionEvent {
  bool local = true;
  std::string origin;
  std::vector<RootChange> changes;  // sorted by root name
};

struct DocOptions {
  std::optional<uint64_t> client_id;  // unset = a random 32-bit id, like yjs
  bool gc = true;                     // replace deleted content by tombstones
};

class Doc {
 public:
  explicit Doc(DocOptions options = {});
  ~Doc();
  Doc(const Doc&) = delete;
  Doc& operator=(const Doc&) = delete;

  uint64_t client_id() const;
  bool gc() const;

  // Root types; created on first use. Asking for a root that an update created
  // with unknown kind fixes its kind; asking for a root of another kind than it
  // has gives an invalid handle (!valid(); its operations fail), where yjs throws.
  TextRef GetText(const std::string& name);
  MapRef GetMap(const std::string& name);
  ArrayRef GetArray(const std::string& name);
  // Names and kinds of existing roots (kind kUnknown: never asked for; use InferKind).
  std::vector<std::pair<std::string, TypeKind>> Roots() const;
  // For an unknown root: keyed items -> map, string content -> text, else array.
  TypeKind InferKind(const std::string& name) const;

  // Runs `fn` as one transaction (nested calls join the outer one).
  void Transact(const std::function<void()>& fn, std::string_view origin = {});

  // Applies a v1 update. Structs whose dependencies are missing wait (pending)
  // and are applied when a later update supplies them; duplicates are no-ops.
  // A malformed update is rejected whole: the document is unchanged.
  Status ApplyUpdate(std::span<const uint8_t> update, std::string_view origin = "remote");
  // Everything the state vector `sv` lacks (empty = everything), plus pending structs.
  Result<std::vector<uint8_t>> EncodeStateAsUpdate(std::span<const uint8_t> sv = {}) const;
  std::vector<uint8_t> EncodeStateVector() const;
  std::map<uint64_t, uint64_t> StateVector() const;
  bool HasPending() const;

  // Canonical JSON of the whole document: one member per root, `kinds` fixes
  // root kinds (others inferred), empty inferred roots dropped.
  std::string ToJson(const std::map<std::string, TypeKind>& kinds = {}) const;

  // Called after every transaction that changed something, with the v1
  // update it produced (what yjs's doc.on('update') emits) and what changed.
  using UpdateHandler = std::function<void(std::span<const uint8_t>, const TransactionEvent&)>;
  int OnUpdate(UpdateHandler handler);
  void RemoveHandler(int id);

 private:
  friend class HandleAccess;
  std::unique_ptr<DocImpl> impl_;
};

}  // namespace vaultd::crdt
