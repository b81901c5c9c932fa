#include "vaultd/daemon/ws_url.h"

#include <gtest/gtest.h>

#include <string>

namespace vaultd::daemon {
namespace {

TEST(WsUrlTest, PlainUrlGetsDefaultPortAndPath) {
  auto u = ParseWsUrl("ws://relay.internal");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->host, "relay.internal");
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->path, "/");
}

TEST(WsUrlTest, PortPathAndQueryAreKept) {
  auto u = ParseWsUrl("wss://relay.example.com:8443/rooms/eng?token=a%2Bb");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "relay.example.com");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->path, "/rooms/eng?token=a%2Bb");
  EXPECT_EQ(ParseWsUrl("wss://h")->port, 443);
  EXPECT_EQ(ParseWsUrl("ws://h?x=1")->path, "/?x=1");
}

TEST(WsUrlTest, Ipv6LiteralIsInBrackets) {
  auto u = ParseWsUrl("ws://[::1]:1234/r");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 1234);
  EXPECT_FALSE(ParseWsUrl("ws://::1:1234/r").ok());
}

TEST(WsUrlTest, OtherSchemesAndMalformedUrlsAreRefusedNamingTheUrl) {
  for (const char* bad :
       {"http://relay/", "relay:1234", "", "ws://", "ws://:80/", "ws://h:/", "ws://h:0/",
        "ws://h:65536/", "ws://h:12a/", "ws://user:pw@h/", "ws://h/a b", "ws://h/#frag",
        "ws://h\n/", "ws://[::1/", "ws://[::1]x/", "ws://h%41/", "WS://h/"}) {
    auto u = ParseWsUrl(bad);
    EXPECT_FALSE(u.ok()) << bad;
    if (!u.ok()) {
      EXPECT_EQ(u.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(u.status().message().find(std::string("'") + bad + "'"), std::string::npos)
          << u.status().message();
    }
  }
}

TEST(WsUrlTest, RoomUrlAppendsRoomAndEncodedToken) {
  EXPECT_EQ(*RoomUrl("ws://relay:1234", "engineering", ""), "ws://relay:1234/engineering");
  EXPECT_EQ(*RoomUrl("ws://relay:1234/", "engineering", ""), "ws://relay:1234/engineering");
  EXPECT_EQ(*RoomUrl("wss://relay/yjs", "deals/acme", "a+b/c=="),
            "wss://relay/yjs/deals/acme?token=a%2Bb%2Fc%3D%3D");
  EXPECT_EQ(*RoomUrl("ws://relay", "my room?#", ""), "ws://relay/my%20room%3F%23");
}

TEST(WsUrlTest, RoomUrlRefusesQueryInRelayUrlAndEmptyRoom) {
  EXPECT_FALSE(RoomUrl("ws://relay/?token=x", "r", "").ok());
  EXPECT_FALSE(RoomUrl("ws://relay", "", "").ok());
  EXPECT_FALSE(RoomUrl("http://relay", "r", "").ok());
}

}  // namespace
}  // namespace vaultd::daemon
