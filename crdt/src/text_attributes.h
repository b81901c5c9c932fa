// Quill-style attribute lists as Y.Text keeps them (a null value removes a format): lookup,
// update, and the running attributes while walking a text past its format items.
#pragma once

#include <algorithm>
#include <string>

#include "doc_impl.h"

namespace vaultd::crdt {

inline const Any* FindAttr(const Attributes& attrs, const std::string& key) {
  for (const auto& [k, v] : attrs)
    if (k == key) return &v;
  return nullptr;
}
inline void SetAttr(Attributes& attrs, const std::string& key, const Any& v) {
  for (auto& [k, x] : attrs)
    if (k == key) {
      x = v;
      return;
    }
  attrs.emplace_back(key, v);
}
inline void EraseAttr(Attributes& attrs, const std::string& key) {
  attrs.erase(
      std::remove_if(attrs.begin(), attrs.end(), [&](const auto& p) { return p.first == key; }),
      attrs.end());
}
inline Any AttrOrNull(const Attributes& attrs, const std::string& key) {
  const Any* a = FindAttr(attrs, key);
  if (!a || a->IsUndefined()) return Any(nullptr);
  return *a;
}
inline bool EqualAttrs(const Any& a, const Any& b) {
  if (a.IsUndefined() && b.IsNull()) return false;
  return a == b;
}
inline void UpdateCurrentAttrs(Attributes& attrs, const Item* format) {
  if (format->extra->value.IsNull())
    EraseAttr(attrs, format->extra->key);
  else
    SetAttr(attrs, format->extra->key, format->extra->value);
}

}  // namespace vaultd::crdt
