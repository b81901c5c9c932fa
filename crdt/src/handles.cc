// What the handles share: kind names, the error of a dead handle, values into and out of items,
// and the kind checks of TypeRef and Output.
#include "doc_impl.h"
#include "handle_access.h"

namespace vaultd::crdt {

const char* TypeKindName(TypeKind kind) {
  switch (kind) {
    case TypeKind::kArray:
      return "array";
    case TypeKind::kMap:
      return "map";
    case TypeKind::kText:
      return "text";
    case TypeKind::kXmlElement:
      return "xmlelement";
    case TypeKind::kXmlFragment:
      return "xmlfragment";
    case TypeKind::kXmlHook:
      return "xmlhook";
    case TypeKind::kXmlText:
      return "xmltext";
    default:
      return "unknown";
  }
}

Status DeadType() {
  return Status::InvalidArgument(
      "no such type: the handle was asked for as another kind than the type has, or the type was "
      "deleted and garbage-collected");
}

void SetContent(DocImpl* d, Item* it, const Input& v) {
  if (auto* nt = std::get_if<NewType>(&v)) {
    it->kind = kType;
    auto t = std::make_unique<Type>();
    t->kind = nt->kind;
    t->markers_enabled = nt->kind == TypeKind::kText || nt->kind == TypeKind::kArray;
    t->doc = d;
    it->x().type = std::move(t);
    it->length = 1;
    return;
  }
  const Any& a = std::get<Any>(v);
  if (auto* b = std::get_if<Binary>(&a.v)) {
    it->kind = kBinary;
    it->x().binary = *b;
  } else {
    it->kind = kAny;
    it->x().anys.push_back(a);
  }
  it->length = 1;
}

std::optional<Output> ItemOutput(DocImpl* d, const Item* it, size_t i) {
  switch (it->kind) {
    case kAny:
      return Output(it->extra->anys[i]);
    case kJSON: {
      auto r = ParseJsonText(it->extra->json[i]);
      return Output(r.ok() ? *r : Any());
    }
    case kBinary:
      return Output(Any(it->extra->binary));
    case kType:
      return HandleAccess::MakeOutput(d, it->extra->type.get());
    case kString:
      return Output(Any(Utf8OfUnit(it->str, i)));
    case kEmbed:
      return Output(it->extra->value);
    default:
      return Output(Any());
  }
}

TypeKind TypeRef::kind() const { return type_ ? type_->kind : TypeKind::kUnknown; }

std::string TypeRef::ToJson() const {
  std::string out;
  if (!type_ || !type_->doc) return "null";
  doc_->AppendTypeJson(type_, type_->kind == TypeKind::kUnknown ? doc_->Infer(type_) : type_->kind,
                       &out);
  return out;
}

TypeKind Output::kind() const { return type_ ? type_->kind : TypeKind::kUnknown; }
TypeRef Output::AsType() const { return HandleAccess::Make<TypeRef>(doc_, type_); }
TextRef Output::AsText() const { return AsType().AsText(); }
MapRef Output::AsMap() const { return AsType().AsMap(); }
ArrayRef Output::AsArray() const { return AsType().AsArray(); }

// A handle of the wrong kind would run e.g. text edits on a map's items.
TextRef TypeRef::AsText() const {
  return kind() == TypeKind::kText ? HandleAccess::Make<TextRef>(doc_, type_) : TextRef();
}
MapRef TypeRef::AsMap() const {
  return kind() == TypeKind::kMap ? HandleAccess::Make<MapRef>(doc_, type_) : MapRef();
}
ArrayRef TypeRef::AsArray() const {
  return kind() == TypeKind::kArray ? HandleAccess::Make<ArrayRef>(doc_, type_) : ArrayRef();
}

}  // namespace vaultd::crdt
