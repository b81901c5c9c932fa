#include "vaultd/daemon/config.h"

#include <gtest/gtest.h>

namespace vaultd::daemon {
namespace {

const char* kGood = R"(vault: /vault
state_dir: /home/kasm-user/.local/state/vaultd
user: alice
relay:
  url: ws://relay.internal:1234
  token_file: /run/vaultd/relay-token
rooms:
  - name: engineering
    room: engineering
    path: engineering
    mode: rw
    expires_at: null
  - name: acme
    room: deals-acme
    path: deals/acme
    mode: ro
    expires_at: "2026-12-31T23:00:00Z"
limits: {text_max_bytes: 8388608, binary_max_bytes: 16777216}
debounce_ms: 10
log_level: info
)";

TEST(DaemonConfigTest, TheDesignedFormatParses) {
  auto c = ParseDaemonConfig(kGood, "vaultd.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->vault, "/vault");
  ASSERT_EQ(c->rooms.size(), 2u);
  EXPECT_EQ(c->rooms[1].path, "deals/acme");
  EXPECT_TRUE(c->rooms[1].read_only);
  EXPECT_TRUE(c->rooms[1].expires_at.has_value());
  EXPECT_FALSE(c->rooms[0].expires_at.has_value());
  EXPECT_EQ(c->RoomDir(c->rooms[1]), "/vault/deals/acme");
}

std::string ErrorOf(const std::string& yaml) {
  auto c = ParseDaemonConfig(yaml, "vaultd.yaml");
  return c.ok() ? "OK" : c.status().message();
}

TEST(DaemonConfigTest, ErrorsNameTheLineAndWhatIsAllowed) {
  std::string base = "vault: /vault\nstate_dir: /s\nuser: alice\nrelay:\n  url: ws://r\n";
  EXPECT_EQ(
      ErrorOf(base + "rooms:\n  - name: a\n    mdoe: rw\n"),
      "vaultd.yaml:8: unknown key 'mdoe' in a room (allowed: name, room, path, mode, expires_at)");
  EXPECT_EQ(ErrorOf(base + "rooms:\n  - name: a\n    mode: rx\n"),
            "vaultd.yaml:8: mode is 'rx'; allowed: rw, ro");
  EXPECT_EQ(ErrorOf(base + "user: bob\n"), "vaultd.yaml:6: duplicate key 'user' in the top level");
  EXPECT_EQ(ErrorOf(base + "debounce_ms: -1\n"),
            "vaultd.yaml:6: 'debounce_ms' in the top level is '-1'; allowed: a whole number from 0 "
            "to 10000");
  EXPECT_EQ(ErrorOf(base + "rooms:\n  - name: a\n    path: ../etc\n"),
            "vaultd.yaml:8: room path is '../etc'; allowed: a relative path inside the vault "
            "without '..'");
  EXPECT_EQ(
      ErrorOf(base + "rooms:\n  - name: a\n    path: deals\n  - name: b\n    path: deals/acme\n"),
      "vaultd.yaml:9: room path 'deals/acme' overlaps room 'a' at 'deals'; allowed: rooms that do "
      "not "
      "contain each other");
  EXPECT_EQ(ErrorOf("vault: relative\nstate_dir: /s\nuser: a\nrelay: {url: ws://r}\n"),
            "vaultd.yaml:1: vault is 'relative'; allowed: an absolute path");
  EXPECT_EQ(
      ErrorOf("vault: /v\nstate_dir: /s\nuser: a\nrelay: {url: http://r}\n"),
      "vaultd.yaml:4: relay url is 'http://r'; allowed: ws://HOST[:PORT][/PATH] or wss://...");
  EXPECT_EQ(ErrorOf(base + "log_level: loud\n"),
            "vaultd.yaml:6: log_level is 'loud'; allowed: debug, info, warn, error, off");
  EXPECT_EQ(ErrorOf("vault: [\n"), ErrorOf("vault: [\n"));
  EXPECT_NE(ErrorOf("vault: [\n").find("vaultd.yaml:"), std::string::npos);
  EXPECT_NE(ErrorOf("").find("vaultd.yaml:1: the file is empty"), std::string::npos);
}

}  // namespace
}  // namespace vaultd::daemon
