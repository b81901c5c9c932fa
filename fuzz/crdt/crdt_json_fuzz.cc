#include <string>
#include <string_view>

#include "crdt_fuzz.h"
#include "vaultd/crdt/any.h"

namespace vaultd::crdt::fuzz {

void FuzzJson(std::span<const uint8_t> data) {
  std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  auto plain = ParseJsonText(text);
  FUZZ_CHECK(ValidateJsonText(text).ok() == plain.ok(),
             "ValidateJsonText and ParseJsonText disagree");
  auto transport = ParseJsonText(text, {.js_key_order = true, .transport = true});
  // The transport only adds meaning (and errors) to well-formed JSON.
  FUZZ_CHECK(plain.ok() || !transport.ok(), "the transport accepts what plain JSON refuses");
  if (plain.ok() && !plain->IsUndefined()) {
    // JSON.stringify of a parsed value parses back to the same value.
    std::string again = ToJsonText(*plain);
    auto back = ParseJsonText(again);
    FUZZ_CHECK(back.ok(), "ToJsonText of a parsed value is not JSON");
    FUZZ_CHECK(*back == *plain, "JSON text round trip changed the value");
    FUZZ_CHECK(ToJsonText(*back) == again, "ToJsonText is not stable");
  }
}

}  // namespace vaultd::crdt::fuzz
