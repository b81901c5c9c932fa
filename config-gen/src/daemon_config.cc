// vaultd.yaml, written by hand so the bytes are stable and match DESIGN §5.
#include "vaultd/configgen/daemon_config.h"

#include <nlohmann/json.hpp>
#include <string_view>

namespace vaultd::configgen {
namespace {

// Plain scalars YAML 1.1 or 1.2 would read as null, a bool or a number.
bool LooksLikeNonString(const std::string& s) {
  static const char* const kWords[] = {
      "null", "Null", "NULL", "~",  "true", "True", "TRUE", "false", "False", "FALSE", "yes", "Yes",
      "YES",  "no",   "No",   "NO", "on",   "On",   "ON",   "off",   "Off",   "OFF",   "y",   "n"};
  for (const char* w : kWords)
    if (s == w) return true;
  // Anything starting like a number (1, -1, .5, 0x1f, 1e3, 12:30) is quoted.
  char c = s[0];
  if ((c >= '0' && c <= '9') || ((c == '-' || c == '+' || c == '.') && s.size() > 1)) return true;
  return false;
}

bool PlainSafe(const std::string& s) {
  if (s.empty() || LooksLikeNonString(s)) return false;
  // Indicators that may not start a plain scalar.
  if (std::string_view("-?:,[]{}#&*!|>'\"%@` ").find(s[0]) != std::string_view::npos) return false;
  if (s.back() == ' ' || s.back() == ':') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return false;
    if (c == '#' && s[i - 1] == ' ') return false;
    if (c == ':' && i + 1 < s.size() && s[i + 1] == ' ') return false;
    if (std::string_view(",[]{}\"'\\").find(static_cast<char>(c)) != std::string_view::npos)
      return false;
  }
  return true;
}

}  // namespace

std::string YamlScalar(const std::string& text) {
  if (PlainSafe(text)) return text;
  // A JSON string is a YAML double-quoted scalar (YAML 1.2 is a superset of JSON).
  return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string RenderDaemonConfig(const DaemonConfig& c) {
  std::string y;
  y += "# vaultd.yaml, written by `vaultd first-launch` at every session start "
       "(docs/config-gen.md).\n";
  y += "vault: " + YamlScalar(c.vault) + "\n";
  y += "state_dir: " + YamlScalar(c.state_dir) + "\n";
  y += "user: " + YamlScalar(c.user) + "\n";
  y += "relay:\n";
  y += "  url: " + (c.relay_url.empty() ? std::string("null") : YamlScalar(c.relay_url)) + "\n";
  if (!c.relay_token_file.empty()) y += "  token_file: " + YamlScalar(c.relay_token_file) + "\n";
  if (c.rooms.empty()) {
    y += "rooms: []\n";
  } else {
    y += "rooms:\n";
    for (const auto& r : c.rooms) {
      y += "  - name: " + YamlScalar(r.name) + "\n";
      y += "    room: " + YamlScalar(r.room) + "\n";
      y += "    path: " + YamlScalar(r.path) + "\n";
      y += "    mode: " + YamlScalar(r.mode) + "\n";
      y +=
          "    expires_at: " + (r.expires_at ? FormatRfc3339(*r.expires_at) : std::string("null")) +
          "\n";
    }
  }
  y += "limits: {text_max_bytes: " + std::to_string(c.text_max_bytes) +
       ", binary_max_bytes: " + std::to_string(c.binary_max_bytes) + "}\n";
  y += "debounce_ms: " + std::to_string(c.debounce_ms) + "\n";
  y += "log_level: " + YamlScalar(c.log_level) + "\n";
  return y;
}

}  // namespace vaultd::configgen
