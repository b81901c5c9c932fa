#include "vaultd/orchestrator_client/mountset.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "vaultd/common/fs.h"
#include "vaultd/orchestrator_client/http.h"

namespace vaultd::orchestrator_client {
namespace {

using nlohmann::json;

json ValidDoc() {
  return json::parse(R"({
    "schema": "vaultd.mountset/1", "user": "alice", "groups": ["engineering"],
    "policy_revision": "sha256:abc", "generated_at": "2026-11-28T16:00:00Z", "valid_until": null,
    "vault_root": "/vault",
    "mounts": [
      {"name": "engineering", "source": "/shared/engineering", "target": "engineering", "mode": "rw",
       "room": "engineering", "expires_at": null, "because": ["access[0]"]},
      {"name": "deal", "source": "/shared/deals/acme", "target": "deals/acme", "mode": "ro",
       "room": "deals-acme", "expires_at": "2026-12-01T00:00:00Z", "because": []}
    ],
    "sync": {"url": "ws://relay:1234"}, "warnings": [], "future_field": 1})");
}

TEST(MountSetParse, AcceptsTheContract) {
  auto r = ParseMountSet(ValidDoc().dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->user, "alice");
  ASSERT_EQ(r->mounts.size(), 2u);
  EXPECT_EQ(r->mounts[1].target, "deals/acme");
  EXPECT_EQ(FormatRfc3339(*r->mounts[1].expires_at), "2026-12-01T00:00:00Z");
  EXPECT_EQ(r->sync_url.value(), "ws://relay:1234");
  EXPECT_FALSE(r->valid_until);
}

TEST(MountSetParse, RejectsContractViolations) {
  auto err = [](const std::function<void(json&)>& mutate) {
    json d = ValidDoc();
    mutate(d);
    auto r = ParseMountSet(d.dump());
    EXPECT_FALSE(r.ok());
    return r.status().message();
  };
  EXPECT_EQ(err([](json& d) { d["schema"] = "vaultd.mountset/2"; }),
            "mount set: schema: unsupported schema 'vaultd.mountset/2' (want vaultd.mountset/1)");
  EXPECT_EQ(err([](json& d) { d.erase("schema"); }), "mount set: schema: missing");
  EXPECT_EQ(err([](json& d) { d["mounts"][0]["mode"] = "rwx"; }),
            "mount set: mounts[0].mode: must be ro or rw, got 'rwx'");
  EXPECT_EQ(err([](json& d) { d["mounts"][0]["target"] = "../etc"; }),
            "mount set: mounts[0].target: '../etc' is not a safe relative path");
  EXPECT_EQ(err([](json& d) { d["mounts"][0]["target"] = "/abs"; }),
            "mount set: mounts[0].target: '/abs' is not a safe relative path");
  EXPECT_EQ(err([](json& d) { d["mounts"][1]["target"] = "engineering/sub"; }),
            "mount set: mounts[1].target: 'engineering/sub' is nested inside 'engineering'");
  EXPECT_EQ(err([](json& d) { d["mounts"][1]["room"] = "engineering"; }),
            "mount set: mounts[1].room: duplicate 'engineering'");
  EXPECT_EQ(err([](json& d) {
              d["mounts"][1]["expires_at"] = "tomorrow";
            }).rfind("mount set: mounts[1].expires_at: ", 0),
            0u);
  EXPECT_EQ(err([](json& d) { d["vault_root"] = "vault"; }),
            "mount set: vault_root: must be a normalized absolute path, got 'vault'");
  EXPECT_EQ(err([](json& d) { d["groups"] = "engineering"; }),
            "mount set: groups: must be an array of strings");
  EXPECT_EQ(err([](json& d) { d = json::array(); }), "mount set: not a JSON object");
  EXPECT_FALSE(ParseMountSet("{\"schema\": ").ok());
}

TEST(Backoff, DoublesUpToTheCapWithFullJitter) {
  using std::chrono::milliseconds;
  EXPECT_EQ(BackoffDelay(1, milliseconds(200), milliseconds(5000), ~0ull).count(), ~0ull % 201);
  for (uint64_t r : {0ull, 1ull, 12345ull, ~0ull}) {
    EXPECT_LE(BackoffDelay(1, milliseconds(200), milliseconds(5000), r).count(), 200);
    EXPECT_LE(BackoffDelay(3, milliseconds(200), milliseconds(5000), r).count(), 800);
    EXPECT_LE(BackoffDelay(30, milliseconds(200), milliseconds(5000), r).count(), 5000);
  }
  EXPECT_EQ(BackoffDelay(3, milliseconds(200), milliseconds(5000), 800).count(), 800);
  EXPECT_EQ(BackoffDelay(3, milliseconds(200), milliseconds(5000), 801).count(), 0);
}

// A real TCP server on loopback answering each connection with the next canned reply.
class CannedServer {
 public:
  enum class Action { kRespond, kHang, kClose };
  struct Reply {
    Action action = Action::kRespond;
    std::string raw;
  };

  CannedServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    EXPECT_EQ(::listen(fd_, 16), 0);
    thread_ = std::thread([this] { Loop(); });
  }
  ~CannedServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
    for (int c : hung_) ::close(c);
  }
  void Push(Reply r) {
    std::lock_guard l(mu_);
    replies_.push_back(std::move(r));
  }
  void PushHttp(int status, const std::string& body) {
    Push({Action::kRespond, "HTTP/1.1 " + std::to_string(status) +
                                " X\r\nContent-Length: " + std::to_string(body.size()) +
                                "\r\nContent-Type: application/json\r\n\r\n" + body});
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1/mountset"; }
  std::vector<std::string> requests() {
    std::lock_guard l(mu_);
    return requests_;
  }

 private:
  void Loop() {
    for (;;) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0 || stop_) {
        if (c >= 0) ::close(c);
        return;
      }
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      Reply r;
      {
        std::lock_guard l(mu_);
        requests_.push_back(req);
        if (!replies_.empty()) {
          r = replies_.front();
          replies_.pop_front();
        } else {
          r = {Action::kClose, ""};
        }
      }
      if (r.action == Action::kHang) {
        hung_.push_back(c);
        continue;
      }
      if (r.action == Action::kRespond) (void)!::write(c, r.raw.data(), r.raw.size());
      ::close(c);
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::deque<Reply> replies_;
  std::vector<std::string> requests_;
  std::vector<int> hung_;
};

FetchOptions Options(const std::string& url, std::vector<std::chrono::milliseconds>* slept) {
  FetchOptions o;
  o.url = url;
  o.token = "tok-123";
  o.max_attempts = 3;
  o.connect_timeout = std::chrono::milliseconds(1000);
  o.read_timeout = std::chrono::milliseconds(300);
  o.jitter_seed = 42;
  o.sleep = [slept](std::chrono::milliseconds d) { slept->push_back(d); };
  return o;
}

TEST(FetchMountSet, SendsBearerAndRetriesServerErrors) {
  CannedServer server;
  server.PushHttp(503, "{\"error\":\"busy\"}");
  server.Push({CannedServer::Action::kClose, ""});
  server.PushHttp(200, ValidDoc().dump());
  std::vector<std::chrono::milliseconds> slept;
  auto r = FetchMountSet(Options(server.url(), &slept));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->user, "alice");
  ASSERT_EQ(server.requests().size(), 3u);
  EXPECT_NE(server.requests()[0].find("GET /v1/mountset HTTP/1.1\r\n"), std::string::npos);
  EXPECT_NE(server.requests()[0].find("Authorization: Bearer tok-123\r\n"), std::string::npos);
  ASSERT_EQ(slept.size(), 2u);
  EXPECT_LE(slept[0].count(), 200);
  EXPECT_LE(slept[1].count(), 400);
}

TEST(FetchMountSet, ErrorsSayWhatFailed) {
  std::vector<std::chrono::milliseconds> slept;
  {
    CannedServer server;
    server.PushHttp(401, "{\"error\":\"invalid_token\"}");
    auto r = FetchMountSet(Options(server.url(), &slept));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
    EXPECT_EQ(r.status().message(), "fetching the mount set from " + server.url() +
                                        " (attempt 1/3): HTTP 401: {\"error\":\"invalid_token\"}");
    EXPECT_EQ(server.requests().size(), 1u);  // never retried
  }
  {
    CannedServer server;
    server.PushHttp(200, "{not json");
    auto r = FetchMountSet(Options(server.url(), &slept));
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
    EXPECT_NE(r.status().message().find("not valid JSON"), std::string::npos);
  }
  {
    CannedServer server;
    json d = ValidDoc();
    d["schema"] = "other/1";
    server.PushHttp(200, d.dump());
    auto r = FetchMountSet(Options(server.url(), &slept));
    EXPECT_NE(r.status().message().find("unsupported schema 'other/1'"), std::string::npos);
  }
  {
    CannedServer server;
    server.Push({CannedServer::Action::kHang, ""});
    server.Push({CannedServer::Action::kHang, ""});
    server.Push({CannedServer::Action::kHang, ""});
    slept.clear();
    auto r = FetchMountSet(Options(server.url(), &slept));
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(r.status().message().find(
                  "(attempt 3/3): timed out after 300 ms reading the response from"),
              std::string::npos)
        << r.status().message();
    EXPECT_EQ(slept.size(), 2u);
  }
  int closed_port;
  {
    CannedServer server;
    closed_port = std::stoi(server.url().substr(17, 5));
  }
  auto refused = FetchMountSet(
      Options("http://127.0.0.1:" + std::to_string(closed_port) + "/v1/mountset", &slept));
  EXPECT_NE(refused.status().message().find("connect to 127.0.0.1:" + std::to_string(closed_port) +
                                            ": Connection refused"),
            std::string::npos)
      << refused.status().message();
  auto dns = FetchMountSet(Options("http://no-such-host.invalid:8080/v1/mountset", &slept));
  // "failed: ..." from the resolver, or "timed out after 1000 ms" where the resolver is slower than
  // the connect timeout: either way the message names the step.
  EXPECT_NE(dns.status().message().find("DNS lookup of 'no-such-host.invalid' "), std::string::npos)
      << dns.status().message();
  auto https = FetchMountSet(Options("https://orchestrator/v1/mountset", &slept));
  EXPECT_EQ(https.status().code(), StatusCode::kInvalidArgument);
}

TEST(HttpUrl, Parses) {
  auto u = ParseHttpUrl("http://[::1]:8080/a?b=c").value();
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.target, "/a?b=c");
  EXPECT_EQ(ParseHttpUrl("http://h").value().target, "/");
  EXPECT_EQ(ParseHttpUrl("http://h").value().port, 80);
  EXPECT_FALSE(ParseHttpUrl("http://h:99999/").ok());
  EXPECT_FALSE(ParseHttpUrl("http://h:/").ok());
  EXPECT_FALSE(ParseHttpUrl("http://u:p@h/").ok());
  EXPECT_FALSE(ParseHttpUrl("http://h/a b").ok());
  EXPECT_FALSE(ParseHttpUrl("ftp://h/").ok());
}

// One fetch from a server answering `raw`, the response bytes as given.
Result<HttpResponse> FetchCanned(const std::string& raw,
                                 size_t max_response_bytes = HttpRequest{}.max_response_bytes) {
  CannedServer server;
  server.Push({CannedServer::Action::kRespond, raw});
  HttpRequest req;
  req.url = server.url();
  req.max_response_bytes = max_response_bytes;
  return HttpFetch(req);
}

const std::string kChunkedHead = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

TEST(HttpFetch, ChunkedBodies) {
  auto r = FetchCanned(kChunkedHead + "5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "hello world");
  EXPECT_EQ(r->Header("transfer-encoding"), "chunked");
}

// 200,000 one-byte chunks (every byte value, CR and LF included, some with
// chunk extensions): 1.2 MB on the wire for a 200,000-byte body. The cap is on
// the decoded body, so it fits a 256 KiB cap although its framing does not;
// the decoder sees each byte once, whatever the reads split.
TEST(HttpFetch, ManyTinyChunksWithinTheCap) {
  constexpr size_t kChunks = 200'000;
  std::string expected, raw = kChunkedHead;
  for (size_t i = 0; i < kChunks; ++i) {
    char c = static_cast<char>((i * 7 + i / 256) & 0xff);
    expected.push_back(c);
    raw += i % 1000 == 0 ? "1;n=" + std::to_string(i) + "\r\n" : std::string("1\r\n");
    raw.push_back(c);
    raw += "\r\n";
  }
  raw += "0\r\n\r\n";
  ASSERT_GT(raw.size(), 6 * kChunks);
  auto r = FetchCanned(raw, 256 * 1024);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->body.size(), kChunks);
  EXPECT_TRUE(r->body == expected) << "decoded bytes differ";
}

TEST(HttpFetch, ChunkedBodyOverTheCapOrWithAnEndlessSizeLineIsRefused) {
  auto over = FetchCanned(kChunkedHead + "200\r\n" + std::string(512, 'a') + "\r\n200\r\n" +
                              std::string(512, 'b') + "\r\n0\r\n\r\n",
                          1000);
  EXPECT_EQ(over.status().code(), StatusCode::kCorruption);
  EXPECT_NE(over.status().message().find("chunked body exceeds the limit of 1000 bytes"),
            std::string::npos)
      << over.status().ToString();
  auto endless =
      FetchCanned(kChunkedHead + "1;x=" + std::string(100'000, 'x') + "\r\na\r\n0\r\n\r\n");
  EXPECT_EQ(endless.status().code(), StatusCode::kCorruption);
  EXPECT_NE(endless.status().message().find("chunk size line longer than 4096 bytes"),
            std::string::npos)
      << endless.status().ToString();
  auto no_crlf = FetchCanned(kChunkedHead + "3\r\nabcX\r\n0\r\n\r\n");
  EXPECT_NE(no_crlf.status().message().find("chunk not followed by CRLF"), std::string::npos)
      << no_crlf.status().ToString();
}

TEST(MountSetCache, FallsBackOnlyWhenTheOrchestratorIsUnreachable) {
  const std::string dir =
      std::filesystem::temp_directory_path() / ("ms-cache-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string cache = dir + "/mountset.json";
  std::vector<std::chrono::milliseconds> slept;
  int port;
  {
    CannedServer server;
    port = std::stoi(server.url().substr(17, 5));
    server.PushHttp(200, ValidDoc().dump());
    auto r = FetchMountSetWithCache(Options(server.url(), &slept), cache);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_FALSE(r->from_cache);
  }
  EXPECT_EQ(LoadMountSetCache(cache).value().user, "alice");
  // Orchestrator gone: the cached set is used, and the reason is kept.
  auto down = FetchMountSetWithCache(
      Options("http://127.0.0.1:" + std::to_string(port) + "/v1/mountset", &slept), cache);
  ASSERT_TRUE(down.ok()) << down.status().ToString();
  EXPECT_TRUE(down->from_cache);
  EXPECT_NE(down->fetch_error.find("Connection refused"), std::string::npos);
  // Offline, a mount whose window has closed since the cache was written is dropped.
  const std::string down_url = "http://127.0.0.1:" + std::to_string(port) + "/v1/mountset";
  auto before = FetchMountSetWithCache(Options(down_url, &slept), cache,
                                       ParseRfc3339("2026-11-30T00:00:00Z").value());
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->doc.mounts.size(), 2u);
  auto after = FetchMountSetWithCache(Options(down_url, &slept), cache,
                                      ParseRfc3339("2026-12-01T00:00:00Z").value());
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->doc.mounts.size(), 1u);
  EXPECT_EQ(after->doc.mounts[0].name, "engineering");
  EXPECT_NE(after->fetch_error.find("1 cached mount(s) dropped"), std::string::npos);
  // A refusal is not papered over.
  {
    CannedServer server;
    server.PushHttp(401, "{}");
    auto r = FetchMountSetWithCache(Options(server.url(), &slept), cache);
    EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  }
  // A corrupt cache is reported, not used.
  ASSERT_TRUE(WriteFileAtomic(cache, "{\"schema\":\"x\"}").ok());
  auto corrupt = FetchMountSetWithCache(
      Options("http://127.0.0.1:" + std::to_string(port) + "/", &slept), cache);
  EXPECT_FALSE(corrupt.ok());
  EXPECT_NE(corrupt.status().message().find("no usable cache"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vaultd::orchestrator_client
