// The one door from the block store to the public handles: makes a TextRef,
// MapRef, ArrayRef, TypeRef or Output over a Type, and finds a Doc's DocImpl.
// The handles' constructors are private to this class, so code outside
// crdt/src can only get handles through Doc and the handles themselves.
#pragma once

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

}  // namespace vaultd::crdt
