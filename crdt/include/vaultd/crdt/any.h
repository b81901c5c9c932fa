// lib0 "Any": the JSON-like values Yjs stores in maps and arrays.
//
// Numbers are doubles, as in JavaScript; encoding picks the tag the way
// lib0's writeAny does (varInt for integers up to 2^31-1, else float32 when
// exact, else float64), so a decoded value re-encodes exactly as yjs would.
// Objects keep their key order (JavaScript's Object.keys order matters for
// byte-exact output).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "vaultd/common/status.h"
#include "vaultd/crdt/encoding.h"

namespace vaultd::crdt {

struct Any;
using AnyArray = std::vector<Any>;
using AnyObject = std::vector<std::pair<std::string, Any>>;

struct Undefined {
  bool operator==(const Undefined&) const = default;
};
struct BigInt {
  int64_t value = 0;
  bool operator==(const BigInt&) const = default;
};
using Binary = std::vector<uint8_t>;

struct Any {
  using Value = std::variant<Undefined, std::nullptr_t, bool, double, BigInt, std::string, Binary,
                             std::shared_ptr<AnyArray>, std::shared_ptr<AnyObject>>;
  Value v;

  Any() = default;
  Any(std::nullptr_t) : v(nullptr) {}
  Any(bool b) : v(b) {}
  Any(double d) : v(d) {}
  Any(int i) : v(static_cast<double>(i)) {}
  Any(BigInt b) : v(b) {}
  Any(std::string s) : v(std::move(s)) {}
  Any(const char* s) : v(std::string(s)) {}
  Any(Binary b) : v(std::move(b)) {}
  Any(AnyArray a) : v(std::make_shared<AnyArray>(std::move(a))) {}
  Any(AnyObject o) : v(std::make_shared<AnyObject>(std::move(o))) {}

  bool IsUndefined() const { return std::holds_alternative<Undefined>(v); }
  bool IsNull() const { return std::holds_alternative<std::nullptr_t>(v); }
  bool operator==(const Any& o) const;
};

void WriteAny(Encoder& enc, const Any& a);
// `depth` bounds nesting so hostile input cannot exhaust the stack.
Result<Any> ReadAny(Decoder& dec, int depth = 0);

// Canonical JSON (keys sorted by UTF-8 bytes, binary as {"$binary":b64},
// undefined as null, bigint as its decimal string).
void AppendCanonicalJson(const Any& a, std::string* out);
void AppendJsonString(std::string_view s, std::string* out);
void AppendJsonNumber(double d, std::string* out);
// JSON.stringify of an Any (used by ContentJSON / ContentEmbed / ContentFormat).
std::string ToJsonText(const Any& a);
// How ParseJsonText reads an object beyond plain JSON.parse.
struct JsonParseOptions {
  // Put an object's integer-like keys ("0".."4294967294") first, ascending,
  // then the other keys in text order — the key order of a JavaScript object.
  bool js_key_order = false;
  // Read the value transport of `ydoc driver` / `ydoc edit` (docs/crdt.md): a
  // one-member object {"$binary":"<base64>"} is a Binary, {"$undefined":...}
  // undefined, {"$bigint":"<decimal>"} a BigInt.
  bool transport = false;
};
// JSON.parse into an Any; "undefined" gives undefined. Object keys keep their
// text order; a repeated key overwrites the earlier value in place, as in
// JavaScript. Time is linear in the text; nesting deeper than 200 is rejected.
Result<Any> ParseJsonText(std::string_view text, const JsonParseOptions& options = {});
// Ok exactly when ParseJsonText(text) would be, without building the value
// (for content that is only checked and kept as text: ContentJSON, awareness).
Status ValidateJsonText(std::string_view text);

}  // namespace vaultd::crdt
