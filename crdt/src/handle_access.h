// The one door from the block store to the public handles: makes a TextRef,
// MapRef, ArrayRef, TypeRef or Output over a Type, and finds a Doc's DocImpl.
// The handles' constructors are private to this class, so code outside
// crdt/src can only get handles through Doc and the handles themselves.
#pragma once

#include <optional>

#include "doc_impl.h"
#include "vaultd/crdt/doc.h"

namespace vaultd::crdt {

class HandleAccess {
 public:
  template <typename Ref>
  static Ref Make(DocImpl* doc, Type* type) {
    return Ref(doc, type);
  }
  static Output MakeOutput(DocImpl* doc, Type* type) { return Output(doc, type); }
  static Type* TypeOf(const Output& output) { return output.type_; }
  static DocImpl* Impl(const Doc& doc) { return doc.impl_.get(); }
};

// The error of an operation on an invalid handle.
Status DeadType();
// Fills a new item with a value to store (an Any, or a new nested type).
void SetContent(DocImpl* d, Item* it, const Input& v);
// The value at offset `i` of an item, as a handle's read returns it.
std::optional<Output> ItemOutput(DocImpl* d, const Item* it, size_t i);

}  // namespace vaultd::crdt
