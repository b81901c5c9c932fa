// The public Doc: roots, transactions, updates in and out, JSON, update handlers.
#include <algorithm>
#include <random>

#include "doc_impl.h"
#include "handle_access.h"
#include "vaultd/crdt/update.h"

namespace vaultd::crdt {

namespace {
uint64_t RandomClientId() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  uint64_t id;
  do {
    id = rng() & 0xffffffffu;
  } while (id == 0);
  return id;
}
}  // namespace

Doc::Doc(DocOptions o)
    : impl_(std::make_unique<DocImpl>(o.client_id ? *o.client_id : RandomClientId(), o.gc)) {}
Doc::~Doc() = default;

uint64_t Doc::client_id() const { return impl_->client_id; }
bool Doc::gc() const { return impl_->gc; }

TextRef Doc::GetText(const std::string& name) {
  return HandleAccess::Make<TextRef>(impl_.get(), impl_->GetOrCreateRoot(name, TypeKind::kText));
}
MapRef Doc::GetMap(const std::string& name) {
  return HandleAccess::Make<MapRef>(impl_.get(), impl_->GetOrCreateRoot(name, TypeKind::kMap));
}
ArrayRef Doc::GetArray(const std::string& name) {
  return HandleAccess::Make<ArrayRef>(impl_.get(), impl_->GetOrCreateRoot(name, TypeKind::kArray));
}

std::vector<std::pair<std::string, TypeKind>> Doc::Roots() const {
  std::vector<std::pair<std::string, TypeKind>> out;
  for (const auto& [name, t] : impl_->share) out.emplace_back(name, t->kind);
  return out;
}

TypeKind Doc::InferKind(const std::string& name) const {
  auto it = impl_->share.find(name);
  if (it == impl_->share.end()) return TypeKind::kUnknown;
  return impl_->Infer(it->second.get());
}

void Doc::Transact(const std::function<void()>& fn, std::string_view origin) {
  impl_->Transact(true, origin, fn);
}

Status Doc::ApplyUpdate(std::span<const uint8_t> update, std::string_view origin) {
  return impl_->ApplyUpdate(update, origin);
}

Result<std::vector<uint8_t>> Doc::EncodeStateAsUpdate(std::span<const uint8_t> sv) const {
  return impl_->EncodeStateAsUpdate(sv);
}

std::map<uint64_t, uint64_t> Doc::StateVector() const {
  std::map<uint64_t, uint64_t> sv;
  for (const auto& [client, cs] : impl_->clients)
    if (!cs.empty()) sv[client] = cs.state();
  return sv;
}

std::vector<uint8_t> Doc::EncodeStateVector() const {
  return crdt::EncodeStateVector(StateVector());
}

bool Doc::HasPending() const { return !impl_->pending.empty() || !impl_->pending_ds.empty(); }

std::string Doc::ToJson(const std::map<std::string, TypeKind>& kinds) const {
  std::string out = "{";
  bool first = true;
  std::map<std::string, const Type*> roots;
  for (const auto& [name, t] : impl_->share) roots[name] = t.get();
  for (const auto& [name, kind] : kinds)
    if (!roots.count(name)) roots[name] = nullptr;
  for (const auto& [name, t] : roots) {
    auto k = kinds.find(name);
    std::string value;
    if (k != kinds.end()) {
      if (t)
        impl_->AppendTypeJson(t, k->second, &value);
      else
        value += k->second == TypeKind::kMap ? "{}" : k->second == TypeKind::kText ? "\"\"" : "[]";
    } else {
      impl_->AppendTypeJson(t, impl_->Infer(t), &value);
      std::string_view v = value;
      if (v == "{}" || v == "[]" || v == "\"\"") continue;  // drop empty roots
    }
    if (!first) out += ",";
    first = false;
    AppendJsonString(name, &out);
    out += ":" + value;
  }
  return out + "}";
}

int Doc::OnUpdate(UpdateHandler handler) {
  int id = impl_->next_handler++;
  impl_->handlers.emplace_back(id, std::move(handler));
  return id;
}

void Doc::RemoveHandler(int id) {
  auto& h = impl_->handlers;
  h.erase(std::remove_if(h.begin(), h.end(), [&](const auto& p) { return p.first == id; }),
          h.end());
}

}  // namespace vaultd::crdt
