#include <gtest/gtest.h>

#include "vaultd/configgen/daemon_config.h"

namespace vaultd::configgen {
namespace {

TEST(DaemonConfig, RendersTheDesignFormat) {
  DaemonConfig c;
  c.vault = "/vault";
  c.state_dir = "/home/kasm-user/.local/state/vaultd";
  c.user = "alice";
  c.relay_url = "ws://relay.internal:1234";
  c.relay_token_file = "/run/vaultd/relay-token";
  c.rooms.push_back({"engineering", "engineering", "engineering", "rw", std::nullopt});
  c.rooms.push_back({"deal-room-acme", "deals-acme", "deals/acme", "ro",
                     ParseRfc3339("2026-07-01T00:00:00Z").value()});
  EXPECT_EQ(RenderDaemonConfig(c),
            "# vaultd.yaml, written by `vaultd first-launch` at every session start "
            "(docs/config-gen.md).\n"
            "vault: /vault\n"
            "state_dir: /home/kasm-user/.local/state/vaultd\n"
            "user: alice\n"
            "relay:\n"
            "  url: ws://relay.internal:1234\n"
            "  token_file: /run/vaultd/relay-token\n"
            "rooms:\n"
            "  - name: engineering\n"
            "    room: engineering\n"
            "    path: engineering\n"
            "    mode: rw\n"
            "    expires_at: null\n"
            "  - name: deal-room-acme\n"
            "    room: deals-acme\n"
            "    path: deals/acme\n"
            "    mode: ro\n"
            "    expires_at: 2026-07-01T00:00:00Z\n"
            "limits: {text_max_bytes: 8388608, binary_max_bytes: 16777216}\n"
            "debounce_ms: 10\n"
            "log_level: info\n");
}

TEST(DaemonConfig, NoRelayNoTokenNoRooms) {
  DaemonConfig c;
  c.state_dir = "/s";
  c.user = "bob";
  std::string y = RenderDaemonConfig(c);
  EXPECT_NE(y.find("relay:\n  url: null\nrooms: []\n"), std::string::npos) << y;
  EXPECT_EQ(y.find("token_file"), std::string::npos);
}

TEST(DaemonConfig, ScalarsThatYamlWouldMisreadAreQuoted) {
  EXPECT_EQ(YamlScalar("alice"), "alice");
  EXPECT_EQ(YamlScalar("my notes"), "my notes");
  EXPECT_EQ(YamlScalar("ws://h:1/x?a=b"), "ws://h:1/x?a=b");
  for (const char* s : {"null",      "true", "no",   "~",   "10",  "-1", ".5",    "",
                        "a: b",      "#x",   "a #b", "- x", "[x]", "x:", "\"q\"", "it's",
                        "tab\there", "{x}",  "*a",   "&a",  "!t",  "@x", "%x",    "`x"})
    EXPECT_EQ(YamlScalar(s).front(), '"') << s;
  EXPECT_EQ(YamlScalar("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
}

}  // namespace
}  // namespace vaultd::configgen
