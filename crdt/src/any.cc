#include "vaultd/crdt/any.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>

namespace vaultd::crdt {

bool Any::operator==(const Any& o) const {
  if (v.index() != o.v.index()) return false;
  if (auto* a = std::get_if<std::shared_ptr<AnyArray>>(&v))
    return **a == *std::get<std::shared_ptr<AnyArray>>(o.v);
  if (auto* a = std::get_if<std::shared_ptr<AnyObject>>(&v))
    return **a == *std::get<std::shared_ptr<AnyObject>>(o.v);
  if (auto* d = std::get_if<double>(&v)) return *d == std::get<double>(o.v);
  return v == o.v;
}

void WriteAny(Encoder& enc, const Any& a) {
  switch (a.v.index()) {
    case 0:
      enc.WriteUint8(127);
      break;
    case 1:
      enc.WriteUint8(126);
      break;
    case 2:
      enc.WriteUint8(std::get<bool>(a.v) ? 120 : 121);
      break;
    case 3: {
      double d = std::get<double>(a.v);
      if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) <= 2147483647.0) {
        enc.WriteUint8(125);
        enc.WriteVarInt(d);
      } else if (std::isnan(d) || static_cast<double>(static_cast<float>(d)) != d) {
        enc.WriteUint8(123);
        enc.WriteFloat64(d);
      } else {
        enc.WriteUint8(124);
        enc.WriteFloat32(static_cast<float>(d));
      }
      break;
    }
    case 4:
      enc.WriteUint8(122);
      enc.WriteBigInt64(std::get<BigInt>(a.v).value);
      break;
    case 5:
      enc.WriteUint8(119);
      enc.WriteVarString(std::get<std::string>(a.v));
      break;
    case 6: {
      enc.WriteUint8(116);
      const auto& b = std::get<Binary>(a.v);
      enc.WriteVarBytes(b);
      break;
    }
    case 7: {
      const auto& arr = *std::get<std::shared_ptr<AnyArray>>(a.v);
      enc.WriteUint8(117);
      enc.WriteVarUint(arr.size());
      for (const auto& x : arr) WriteAny(enc, x);
      break;
    }
    case 8: {
      const auto& obj = *std::get<std::shared_ptr<AnyObject>>(a.v);
      enc.WriteUint8(118);
      enc.WriteVarUint(obj.size());
      for (const auto& [k, x] : obj) {
        enc.WriteVarString(k);
        WriteAny(enc, x);
      }
      break;
    }
  }
}

Result<Any> ReadAny(Decoder& dec, int depth) {
  if (depth > 200) return Status::Corruption("Any value nested too deeply");
  size_t at = dec.position();
  VAULTD_ASSIGN_OR_RETURN(uint8_t tag, dec.ReadUint8());
  switch (tag) {
    case 127:
      return Any();
    case 126:
      return Any(nullptr);
    case 125: {
      VAULTD_ASSIGN_OR_RETURN(double d, dec.ReadVarInt());
      return Any(d);
    }
    case 124: {
      VAULTD_ASSIGN_OR_RETURN(float f, dec.ReadFloat32());
      return Any(static_cast<double>(f));
    }
    case 123: {
      VAULTD_ASSIGN_OR_RETURN(double d, dec.ReadFloat64());
      return Any(d);
    }
    case 122: {
      VAULTD_ASSIGN_OR_RETURN(int64_t b, dec.ReadBigInt64());
      return Any(BigInt{b});
    }
    case 121:
      return Any(false);
    case 120:
      return Any(true);
    case 119: {
      VAULTD_ASSIGN_OR_RETURN(std::string s, dec.ReadVarString());
      return Any(std::move(s));
    }
    case 118: {
      VAULTD_ASSIGN_OR_RETURN(uint64_t n, dec.ReadLength());
      AnyObject obj;
      // A wire length is only a claim: reserve a bounded amount, or nested
      // objects each claiming the rest of the input would multiply it.
      obj.reserve(std::min<uint64_t>(n, Decoder::kMaxWireReserve));
      // JavaScript objects keep one value per key: a repeated key overwrites in
      // place. Looked up through a hash index, so many keys stay linear.
      std::unordered_map<std::string, size_t> index;
      for (uint64_t i = 0; i < n; ++i) {
        VAULTD_ASSIGN_OR_RETURN(std::string k, dec.ReadVarString());
        VAULTD_ASSIGN_OR_RETURN(Any x, ReadAny(dec, depth + 1));
        auto [it, inserted] = index.try_emplace(k, obj.size());
        if (!inserted)
          obj[it->second].second = std::move(x);
        else
          obj.emplace_back(std::move(k), std::move(x));
      }
      return Any(std::move(obj));
    }
    case 117: {
      VAULTD_ASSIGN_OR_RETURN(uint64_t n, dec.ReadLength());
      AnyArray arr;
      arr.reserve(std::min<uint64_t>(n, Decoder::kMaxWireReserve));
      for (uint64_t i = 0; i < n; ++i) {
        VAULTD_ASSIGN_OR_RETURN(Any x, ReadAny(dec, depth + 1));
        arr.push_back(std::move(x));
      }
      return Any(std::move(arr));
    }
    case 116: {
      VAULTD_ASSIGN_OR_RETURN(auto b, dec.ReadVarBytes());
      return Any(Binary(b.begin(), b.end()));
    }
    default:
      return Status::Corruption("unknown Any tag " + std::to_string(tag) + " at byte " +
                                std::to_string(at));
  }
}

void AppendJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\b':
        *out += "\\b";
        break;
      case '\f':
        *out += "\\f";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\u%04x", c);
          *out += buf;
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

void AppendJsonNumber(double d, std::string* out) {
  if (!std::isfinite(d)) {
    *out += "null";  // JSON.stringify(NaN) === "null"
    return;
  }
  if (d == 0) {
    *out += "0";
    return;
  }
  char buf[64];
  if (std::floor(d) == d && std::fabs(d) < 9007199254740992.0) {
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(d));
    out->append(buf, r.ptr);
    return;
  }
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  out->append(buf, r.ptr);
}

namespace {
template <typename F>
void AppendJsonArray(const AnyArray& arr, std::string* out, F&& item) {
  out->push_back('[');
  for (size_t i = 0; i < arr.size(); ++i) {
    if (i) out->push_back(',');
    item(arr[i], out);
  }
  out->push_back(']');
}
}  // namespace

void AppendCanonicalJson(const Any& a, std::string* out) {
  switch (a.v.index()) {
    case 0:
    case 1:
      *out += "null";
      break;
    case 2:
      *out += std::get<bool>(a.v) ? "true" : "false";
      break;
    case 3:
      AppendJsonNumber(std::get<double>(a.v), out);
      break;
    case 4:
      AppendJsonString(std::to_string(std::get<BigInt>(a.v).value), out);
      break;
    case 5:
      AppendJsonString(std::get<std::string>(a.v), out);
      break;
    case 6:
      *out += "{\"$binary\":";
      AppendJsonString(Base64Encode(std::get<Binary>(a.v)), out);
      out->push_back('}');
      break;
    case 7:
      AppendJsonArray(*std::get<std::shared_ptr<AnyArray>>(a.v), out, AppendCanonicalJson);
      break;
    case 8: {
      const auto& obj = *std::get<std::shared_ptr<AnyObject>>(a.v);
      std::vector<const std::pair<std::string, Any>*> sorted;
      for (const auto& p : obj) sorted.push_back(&p);  // undefined members print as null
      std::sort(sorted.begin(), sorted.end(), [](auto* x, auto* y) { return x->first < y->first; });
      out->push_back('{');
      bool first = true;
      for (auto* p : sorted) {
        if (!first) out->push_back(',');
        first = false;
        AppendJsonString(p->first, out);
        out->push_back(':');
        AppendCanonicalJson(p->second, out);
      }
      out->push_back('}');
      break;
    }
  }
}

namespace {
// JSON.stringify semantics for the subset Any can hold.
void AppendJsText(const Any& a, std::string* out) {
  switch (a.v.index()) {
    case 0:
    case 1:
      *out += "null";
      break;
    case 2:
      *out += std::get<bool>(a.v) ? "true" : "false";
      break;
    case 3:
      AppendJsonNumber(std::get<double>(a.v), out);
      break;
    case 4:
      *out += std::to_string(std::get<BigInt>(a.v).value);
      break;
    case 5:
      AppendJsonString(std::get<std::string>(a.v), out);
      break;
    case 6: {
      // JSON.stringify(Uint8Array) is an object with index keys.
      const auto& b = std::get<Binary>(a.v);
      out->push_back('{');
      for (size_t i = 0; i < b.size(); ++i) {
        if (i) out->push_back(',');
        *out += "\"" + std::to_string(i) + "\":" + std::to_string(b[i]);
      }
      out->push_back('}');
      break;
    }
    case 7:
      AppendJsonArray(*std::get<std::shared_ptr<AnyArray>>(a.v), out, AppendJsText);
      break;
    case 8: {
      out->push_back('{');
      bool first = true;
      for (const auto& [k, x] : *std::get<std::shared_ptr<AnyObject>>(a.v)) {
        if (x.IsUndefined()) continue;
        if (!first) out->push_back(',');
        first = false;
        AppendJsonString(k, out);
        out->push_back(':');
        AppendJsText(x, out);
      }
      out->push_back('}');
      break;
    }
  }
}

}  // namespace

std::string ToJsonText(const Any& a) {
  if (a.IsUndefined()) return "undefined";
  std::string out;
  AppendJsText(a, &out);
  return out;
}

namespace {

constexpr int kMaxJsonDepth = 200;

// JavaScript orders array-index keys first (ascending), then insertion order.
bool IsArrayIndexKey(const std::string& k) {
  if (k.empty() || k.size() > 10) return false;
  if (k.size() > 1 && k[0] == '0') return false;
  for (char c : k)
    if (c < '0' || c > '9') return false;
  return std::stoull(k) < 4294967295ull;
}

using Json = nlohmann::json;

// SAX events (nlohmann's parser is iterative and builds no tree of its own):
// the base keeps the syntax error and bounds the nesting, in the same pass
// (values are freed and printed recursively, so depth must stay bounded).
struct JsonSaxBase {
  std::string error;
  int depth = 0;
  bool too_deep = false;
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    error = e.what();
    return false;
  }
  // Called on entering an object or array; false stops the parse.
  bool Enter() {
    if (++depth <= kMaxJsonDepth) return true;
    too_deep = true;
    return false;
  }
  void Leave() { --depth; }
};

// Runs one SAX parse of the whole text (nothing may follow the value).
template <typename Handler>
Status SaxParse(std::string_view text, Handler* handler) {
  if (Json::sax_parse(text.begin(), text.end(), handler, Json::input_format_t::json,
                      /*strict=*/true,
                      /*ignore_comments=*/false))
    return Status::Ok();
  if (handler->too_deep) return Status::Corruption("JSON content nested too deeply");
  return Status::Corruption("invalid JSON content: " + handler->error);
}

struct JsonChecker : JsonSaxBase {
  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(Json::number_integer_t) { return true; }
  bool number_unsigned(Json::number_unsigned_t) { return true; }
  bool number_float(Json::number_float_t, const Json::string_t&) { return true; }
  bool string(Json::string_t&) { return true; }
  bool binary(Json::binary_t&) { return false; }  // JSON text has no binary values
  bool start_object(std::size_t) { return Enter(); }
  bool key(Json::string_t&) { return true; }
  bool end_object() {
    Leave();
    return true;
  }
  bool start_array(std::size_t) { return Enter(); }
  bool end_array() {
    Leave();
    return true;
  }
};

// Builds the Any straight from the events. An object finds a repeated key
// through a hash index once it has more than a few keys, so many keys stay
// linear (a tree of nlohmann::ordered_json looks keys up by linear search).
class AnyBuilder : public JsonSaxBase {
 public:
  explicit AnyBuilder(const JsonParseOptions& options) : options_(options) {}

  bool null() { return Put(Any(nullptr)); }
  bool boolean(bool b) { return Put(Any(b)); }
  bool number_integer(Json::number_integer_t n) { return Put(Any(static_cast<double>(n))); }
  bool number_unsigned(Json::number_unsigned_t n) { return Put(Any(static_cast<double>(n))); }
  bool number_float(Json::number_float_t d, const Json::string_t&) { return Put(Any(d)); }
  bool string(Json::string_t& s) { return Put(Any(std::move(s))); }
  bool binary(Json::binary_t&) { return false; }
  bool start_object(std::size_t) {
    if (!Enter()) return false;
    frames_.emplace_back();
    frames_.back().object = true;
    return true;
  }
  bool key(Json::string_t& k) {
    frames_.back().key = std::move(k);
    return true;
  }
  bool end_object() {
    Leave();
    Frame f = std::move(frames_.back());
    frames_.pop_back();
    Status err;
    Any v = FinishObject(f, &err);
    return Put(std::move(v), std::move(err));
  }
  bool start_array(std::size_t) {
    if (!Enter()) return false;
    frames_.emplace_back();
    return true;
  }
  bool end_array() {
    Leave();
    Frame f = std::move(frames_.back());
    frames_.pop_back();
    Status err = f.errors.empty() ? Status::Ok() : f.errors.begin()->second;
    return Put(Any(std::move(f.arr)), std::move(err));
  }

  Result<Any> Take() {
    if (!result_error_.ok()) return result_error_;
    return std::move(result_);
  }

 private:
  struct Frame {
    bool object = false;
    AnyArray arr;
    AnyObject obj;
    std::unordered_map<std::string, size_t> index;  // key -> slot in obj, once obj is not small
    std::string key;                                // the key of the value being read
    // Transport errors of the values in this container, by slot. Only a value
    // that stays in its slot counts, and an enclosing escape (e.g. $undefined)
    // drops them: the same error a walk over the finished tree would report.
    std::map<size_t, Status> errors;
  };

  static size_t ObjectSlot(Frame& f) {
    constexpr size_t kScanKeys = 16;
    if (f.obj.size() < kScanKeys) {
      for (size_t i = 0; i < f.obj.size(); ++i)
        if (f.obj[i].first == f.key) return i;
    } else {
      if (f.index.empty())
        for (size_t i = 0; i < f.obj.size(); ++i) f.index.emplace(f.obj[i].first, i);
      auto [it, inserted] = f.index.try_emplace(f.key, f.obj.size());
      if (!inserted) return it->second;
    }
    f.obj.emplace_back(std::move(f.key), Any());
    return f.obj.size() - 1;
  }

  bool Put(Any v, Status err = Status::Ok()) {
    if (frames_.empty()) {
      result_ = std::move(v);
      result_error_ = std::move(err);
      return true;
    }
    Frame& f = frames_.back();
    size_t slot;
    if (f.object) {
      slot = ObjectSlot(f);
      f.obj[slot].second = std::move(v);
    } else {
      slot = f.arr.size();
      f.arr.push_back(std::move(v));
    }
    if (err.ok())
      f.errors.erase(slot);
    else
      f.errors[slot] = std::move(err);
    return true;
  }

  Any FinishObject(Frame& f, Status* err) {
    if (options_.transport && f.obj.size() == 1) {
      const auto& [k, x] = f.obj[0];
      const std::string* s = std::get_if<std::string>(&x.v);
      if (k == "$binary" && s) {
        std::vector<uint8_t> b;
        if (!Base64Decode(*s, &b)) *err = Status::InvalidArgument("bad base64 in $binary");
        return Any(Binary(std::move(b)));
      }
      if (k == "$undefined") return Any();
      if (k == "$bigint") {
        if (s) {
          try {
            return Any(BigInt{std::stoll(*s)});
          } catch (const std::exception&) {
          }
        }
        *err = Status::InvalidArgument("bad $bigint");
        return Any();
      }
    }
    if (!f.errors.empty()) *err = f.errors.begin()->second;
    if (options_.js_key_order) {
      AnyObject ints, rest;
      for (auto& p : f.obj) (IsArrayIndexKey(p.first) ? ints : rest).push_back(std::move(p));
      std::stable_sort(ints.begin(), ints.end(), [](const auto& a, const auto& b) {
        return std::stoull(a.first) < std::stoull(b.first);
      });
      for (auto& p : rest) ints.push_back(std::move(p));
      return Any(std::move(ints));
    }
    return Any(std::move(f.obj));
  }

  const JsonParseOptions options_;
  std::vector<Frame> frames_;
  Any result_;
  Status result_error_;
};

}  // namespace

Result<Any> ParseJsonText(std::string_view text, const JsonParseOptions& options) {
  if (text == "undefined") return Any();
  try {
    AnyBuilder builder(options);
    VAULTD_RETURN_IF_ERROR(SaxParse(text, &builder));
    return builder.Take();
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("invalid JSON content: ") + e.what());
  }
}

Status ValidateJsonText(std::string_view text) {
  if (text == "undefined") return Status::Ok();
  JsonChecker checker;
  return SaxParse(text, &checker);
}

}  // namespace vaultd::crdt
