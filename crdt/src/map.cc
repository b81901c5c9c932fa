// Y.Map: set, delete and read keys.
#include <algorithm>

#include "doc_impl.h"
#include "handle_access.h"

namespace vaultd::crdt {

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

std::vector<std::pair<std::string, Output>> MapRef::Entries() const {
  std::vector<std::pair<std::string, Output>> out;
  if (!type_) return out;
  for (const auto& [k, v] : type_->map)
    if (!v->deleted) out.emplace_back(k, *ItemOutput(doc_, v, v->length - 1));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

}  // namespace vaultd::crdt
