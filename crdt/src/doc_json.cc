// Canonical JSON of types and items, and the kind inference for roots an update created.
#include <algorithm>

#include "doc_impl.h"

namespace vaultd::crdt {

TypeKind DocImpl::Infer(const Type* t) const {
  if (t->kind != TypeKind::kUnknown) return t->kind;
  if (!t->map.empty()) return TypeKind::kMap;
  for (const Item* i = t->start; i; i = i->right)
    if (i->kind == kString || i->kind == kFormat || i->kind == kEmbed) return TypeKind::kText;
  return TypeKind::kArray;  // list content of other kinds, or nothing at all
}

void DocImpl::AppendItemValueJson(const Item* it, size_t i, std::string* out) const {
  switch (it->kind) {
    case kAny:
      AppendCanonicalJson(it->extra->anys[i], out);
      break;
    case kJSON: {
      auto r = ParseJsonText(it->extra->json[i]);
      AppendCanonicalJson(r.ok() ? *r : Any(), out);
      break;
    }
    case kBinary:
      AppendCanonicalJson(Any(it->extra->binary), out);
      break;
    case kType:
      AppendTypeJson(it->extra->type.get(), it->extra->type->kind, out);
      break;
    case kString:
      AppendJsonString(Utf8OfUnit(it->str, i), out);
      break;
    case kEmbed:
      AppendCanonicalJson(it->extra->value, out);
      break;
    default:
      *out += "null";
  }
}

void DocImpl::AppendTypeJson(const Type* t, TypeKind kind, std::string* out) const {
  switch (kind) {
    case TypeKind::kText:
    case TypeKind::kXmlText: {
      std::string s;
      for (const Item* i = t->start; i; i = i->right)
        if (!i->deleted && i->kind == kString) s += i->str;
      AppendJsonString(s, out);
      return;
    }
    case TypeKind::kMap: {
      std::vector<std::pair<std::string, const Item*>> entries;
      for (const auto& [k, v] : t->map)
        if (!v->deleted) entries.emplace_back(k, v);
      std::sort(entries.begin(), entries.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
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

}  // namespace vaultd::crdt
