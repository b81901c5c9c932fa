// The client's name lookup keeps to the connect deadline, against a real
// resolver that never answers: a forked child gets its own mount and network
// namespaces, a UDP socket on 127.0.0.1:53 that reads nothing, and a
// resolv.conf (bind-mounted over /etc/resolv.conf) that points glibc at it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "forked_child.h"
#include "vaultd/orchestrator_client/http.h"

namespace vaultd::orchestrator_client {
namespace {

// In the child: returns what happened as JSON, or {"skip": why}.
nlohmann::json InSilentResolverNamespace(const std::string& resolv_conf) {
  auto err = [](const char* what) { return std::string(what) + ": " + std::strerror(errno); };
  if (::unshare(CLONE_NEWNS | CLONE_NEWNET) != 0)
    return {{"skip", err("unshare(CLONE_NEWNS|CLONE_NEWNET)")}};
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return {{"error", err("make-private")}};
  // A new network namespace has only lo, and it is down.
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s, SIOCGIFFLAGS, &ifr) != 0) return {{"error", err("SIOCGIFFLAGS lo")}};
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(s, SIOCSIFFLAGS, &ifr) != 0) return {{"error", err("SIOCSIFFLAGS lo up")}};
  ::close(s);
  int dns = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(53);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(dns, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return {{"error", err("bind udp 53")}};
  if (::mount(resolv_conf.c_str(), "/etc/resolv.conf", nullptr, MS_BIND, nullptr) != 0)
    return {{"error", err("bind-mount resolv.conf")}};
  auto queries_waiting = [&](int timeout_ms) {
    pollfd p{dns, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) > 0;
  };

  nlohmann::json out;
  // A numeric host is never looked up: connecting to a closed port is refused
  // at once and no query reaches the resolver.
  HttpRequest numeric;
  numeric.url = "http://127.0.0.1:1/v1/mountset";
  numeric.connect_timeout = std::chrono::milliseconds(300);
  auto r = HttpFetch(numeric);
  out["numeric"] = r.ok() ? std::string("ok") : r.status().message();
  out["numeric_queried"] = queries_waiting(0);

  HttpRequest named;
  named.url = "http://vaultd-dns-hang.test:8080/v1/mountset";
  named.connect_timeout = std::chrono::milliseconds(300);
  r = HttpFetch(named);
  out["named_code"] = r.ok() ? -1 : static_cast<int>(r.status().code());
  out["named"] = r.ok() ? std::string("ok") : r.status().message();
  // The lookup really went to the silent resolver (the query is already queued
  // there; the wait is only a bound).
  out["named_queried"] = queries_waiting(5000);
  return out;
}

TEST(HttpFetch, DnsLookupKeepsToTheConnectDeadline) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for unshare(CLONE_NEWNS|CLONE_NEWNET)";
  const std::string resolv = std::filesystem::temp_directory_path() /
                             ("vaultd-resolv-" + std::to_string(::getpid()) + ".conf");
  // A query waits 10 s for an answer that never comes; the client gives up at 300 ms.
  std::ofstream(resolv) << "nameserver 127.0.0.1\noptions timeout:10 attempts:1\n";
  test_util::ChildOutput child = test_util::RunInForkedChild([&](int out_fd) {
    // The abandoned lookup thread goes with the child when it exits.
    test_util::WriteAll(out_fd, InSilentResolverNamespace(resolv).dump());
  });
  std::filesystem::remove(resolv);
  ASSERT_TRUE(child.exited_ok) << child.text;
  auto out = nlohmann::json::parse(child.text);
  if (out.contains("skip")) GTEST_SKIP() << out["skip"].get<std::string>();
  ASSERT_FALSE(out.contains("error")) << out.dump();
  EXPECT_NE(out["numeric"].get<std::string>().find("connect to 127.0.0.1:1: Connection refused"),
            std::string::npos)
      << out.dump();
  EXPECT_FALSE(out["numeric_queried"].get<bool>()) << "a numeric host was sent to the resolver";
  EXPECT_EQ(out["named_code"], static_cast<int>(StatusCode::kUnavailable)) << out.dump();
  EXPECT_EQ(out["named"], "DNS lookup of 'vaultd-dns-hang.test' timed out after 300 ms")
      << out.dump();
  EXPECT_TRUE(out["named_queried"].get<bool>())
      << "the lookup never reached the resolver: " << out.dump();
}

}  // namespace
}  // namespace vaultd::orchestrator_client
