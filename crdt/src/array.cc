// Y.Array: insert, delete and read elements.
#include "doc_impl.h"
#include "handle_access.h"

namespace vaultd::crdt {

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
    return Status::InvalidArgument("delete of " + std::to_string(length) + " at " +
                                   std::to_string(index) + " exceeds array length " +
                                   std::to_string(type_->length));
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

std::optional<Output> ArrayRef::Get(uint64_t index) const {
  if (!type_) return std::nullopt;
  for (Item* i = type_->start; i; i = i->right) {
    if (i->deleted || !i->countable()) continue;
    if (index < i->length) return ItemOutput(doc_, i, index);
    index -= i->length;
  }
  return std::nullopt;
}

}  // namespace vaultd::crdt
