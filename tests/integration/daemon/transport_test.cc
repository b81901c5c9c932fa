// The libwebsockets transport against real servers on loopback: the real
// y-websocket relay (@y/websocket-server under node), a ws echo server, a TCP
// listener that never answers, and a closed port. Every test ends with
// Shutdown and a uv_run that must return (nothing of the transport left on
// the loop) and a uv_loop_close that must succeed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "vaultd/crdt/doc.h"
#include "vaultd/crdt/sync.h"
#include "vaultd/daemon/transport.h"

extern char** environ;

namespace vaultd::daemon {
namespace {

using Clock = std::chrono::steady_clock;
using crdt::Bytes;

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// A loopback port nothing listens on right now.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

// A node server on a free loopback port, killed when this goes away.
class NodeServer {
 public:
  // `script`: a path; `node_path`: NODE_PATH for CommonJS scripts ("" = none).
  static std::unique_ptr<NodeServer> Start(const std::string& script,
                                           const std::string& node_path = "") {
    auto s = std::unique_ptr<NodeServer>(new NodeServer);
    s->port_ = FreePort();
    std::vector<std::string> env = {"HOST=127.0.0.1", "PORT=" + std::to_string(s->port_)};
    if (!node_path.empty()) env.push_back("NODE_PATH=" + node_path);
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string node = VAULTD_NODE;
    std::string arg = script;
    char* argv[] = {node.data(), arg.data(), nullptr};
    s->pid_ = fork();
    if (s->pid_ == 0) {
      // The server dies with the test, also when a timeout kills the test.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      execve(node.c_str(), argv, envp.data());
      _exit(127);
    }
    if (s->pid_ < 0) {
      ADD_FAILURE() << "cannot start " << node << " " << script;
      return nullptr;
    }
    const auto start = Clock::now();
    while (!Accepts(s->port_)) {
      int status;
      if (waitpid(s->pid_, &status, WNOHANG) == s->pid_) {
        s->pid_ = -1;
        ADD_FAILURE() << script << " exited before listening";
        return nullptr;
      }
      if (MsSince(start) > 30000) {
        ADD_FAILURE() << script << " did not listen on port " << s->port_ << " within 30 s";
        return nullptr;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return s;
  }
  ~NodeServer() { Kill(); }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void Stop() { kill(pid_, SIGSTOP); }
  std::string Url(const std::string& path) const {
    return "ws://127.0.0.1:" + std::to_string(port_) + "/" + path;
  }
  int port() const { return port_; }

 private:
  NodeServer() = default;
  pid_t pid_ = -1;
  int port_ = 0;
};

std::string RelayScript() {
  return std::string(VAULTD_SOURCE_DIR) +
         "/tests/node/node_modules/@y/websocket-server/src/server.js";
}
std::string EchoScript() {
  return std::string(VAULTD_SOURCE_DIR) + "/tests/integration/daemon/echo_server.cjs";
}
std::string NodeModules() { return std::string(VAULTD_SOURCE_DIR) + "/tests/node/node_modules"; }

// One y-websocket client: a connection, a Yjs doc and its sync session.
struct Peer {
  crdt::Doc doc;
  crdt::SyncSession sync{doc};
  std::unique_ptr<Connection> conn;
  bool opened = false;
  int closes = 0;
  std::string close_reason;
  std::vector<Bytes> messages;
  int relay_step1 = 0;
  int relay_step2 = 0;
  int relay_updates = 0;
  size_t largest = 0;
  std::function<void(Peer&, std::span<const uint8_t>)> on_message_hook;

  ConnectionCallbacks Callbacks() {
    ConnectionCallbacks cb;
    cb.on_open = [this] {
      opened = true;
      for (const Bytes& f : sync.Start()) EXPECT_TRUE(conn->Send(f).ok());
    };
    cb.on_message = [this](std::span<const uint8_t> m) {
      messages.emplace_back(m.begin(), m.end());
      largest = std::max(largest, m.size());
      if (!m.empty() && m[0] == 0) {
        auto msg = crdt::DecodeSyncMessage(m.subspan(1));
        if (msg.ok()) {
          relay_step1 += msg->type == crdt::SyncMessageType::kStep1;
          relay_step2 += msg->type == crdt::SyncMessageType::kStep2;
          relay_updates += msg->type == crdt::SyncMessageType::kUpdate;
        }
      }
      auto out = sync.Receive(m);
      ASSERT_TRUE(out.ok()) << out.status().ToString();
      for (const Bytes& f : *out) EXPECT_TRUE(conn->Send(f).ok());
      if (on_message_hook) on_message_hook(*this, m);
    };
    cb.on_close = [this](const std::string& reason) {
      ++closes;
      close_reason = reason;
    };
    return cb;
  }

  // Inserts text at the end and sends the update.
  void Type(const std::string& text) {
    std::optional<Bytes> update;
    int h = doc.OnUpdate(
        [&](std::span<const uint8_t> u, const auto&) { update.emplace(u.begin(), u.end()); });
    ASSERT_TRUE(doc.GetText("t").Insert(doc.GetText("t").Length(), text).ok());
    doc.RemoveHandler(h);
    ASSERT_TRUE(update.has_value());
    ASSERT_TRUE(conn->Send(crdt::SyncSession::UpdateFrame(*update)).ok());
  }
  std::string Text() { return doc.GetText("t").ToString(); }
};

class TransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    uv_timer_init(&loop_, &tick_);
  }

  void TearDown() override {
    if (transport_) transport_->Shutdown();
    transport_.reset();
    peers_.clear();
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    // Must return: nothing of the transport may keep the loop alive.
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "handles left on the loop";
  }

  void MakeTransport(TransportOptions options = {}) {
    auto t = NewLwsTransport(&loop_, options);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    transport_ = std::move(*t);
  }

  Peer& Connect(const std::string& url) {
    peers_.push_back(std::make_unique<Peer>());
    Peer& p = *peers_.back();
    auto c = transport_->Connect(url, p.Callbacks());
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (c.ok()) p.conn = std::move(*c);
    return p;
  }

  // Runs the loop until `done` or the deadline; a 10 ms tick keeps each
  // uv_run(ONCE) short so the condition is checked often.
  bool RunUntil(const std::function<bool()>& done, int timeout_ms = 30000) {
    uv_timer_start(
        &tick_, [](uv_timer_t*) {}, 10, 10);
    const auto start = Clock::now();
    bool ok = done();
    while (!ok && MsSince(start) < timeout_ms) {
      uv_run(&loop_, UV_RUN_ONCE);
      ok = done();
    }
    uv_timer_stop(&tick_);
    return ok;
  }

  uv_loop_t loop_;
  uv_timer_t tick_;
  std::unique_ptr<Transport> transport_;
  std::vector<std::unique_ptr<Peer>> peers_;
};

TEST_F(TransportTest, ConnectsAndExchangesSyncStepsWithTheRelay) {
  auto relay = NodeServer::Start(RelayScript());
  ASSERT_TRUE(relay);
  MakeTransport();
  Peer& p = Connect(relay->Url("room-sync?token=secret"));
  ASSERT_TRUE(RunUntil([&] { return p.sync.synced() && p.relay_step1 > 0; }))
      << "closes=" << p.closes << " " << p.close_reason;
  EXPECT_TRUE(p.opened);
  EXPECT_TRUE(p.conn->is_open());
  EXPECT_EQ(p.relay_step2, 1);
  EXPECT_EQ(p.closes, 0);
}

TEST_F(TransportTest, TwoConnectionsInOneRoomSeeEachOthersUpdates) {
  auto relay = NodeServer::Start(RelayScript());
  ASSERT_TRUE(relay);
  MakeTransport();
  Peer& a = Connect(relay->Url("shared"));
  Peer& b = Connect(relay->Url("shared"));
  Peer& other = Connect(relay->Url("another-room"));
  ASSERT_TRUE(RunUntil([&] { return a.sync.synced() && b.sync.synced() && other.sync.synced(); }));
  a.Type("hello from a. ");
  ASSERT_TRUE(RunUntil([&] { return b.Text() == "hello from a. "; })) << b.Text();
  b.Type("hello from b.");
  ASSERT_TRUE(RunUntil([&] { return a.Text() == "hello from a. hello from b."; })) << a.Text();
  // The relay echoes our own updates too.
  ASSERT_TRUE(RunUntil([&] { return a.relay_updates >= 2 && b.relay_updates >= 2; }));
  EXPECT_EQ(other.relay_updates, 0);
  EXPECT_EQ(other.Text(), "");
}

TEST_F(TransportTest, FiveMegabyteMessageGoesThroughWholeBothWays) {
  auto relay = NodeServer::Start(RelayScript());
  ASSERT_TRUE(relay);
  MakeTransport();
  Peer& a = Connect(relay->Url("big"));
  Peer& b = Connect(relay->Url("big"));
  ASSERT_TRUE(RunUntil([&] { return a.sync.synced() && b.sync.synced(); }));
  std::string big(5 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 97) big[i] = static_cast<char>('a' + (i / 97) % 26);
  const auto start = Clock::now();
  a.Type(big);
  EXPECT_GE(a.conn->queued_bytes(), big.size());
  ASSERT_TRUE(RunUntil([&] { return b.Text().size() == big.size(); }, 60000));
  EXPECT_EQ(b.Text(), big);
  EXPECT_GE(b.largest, big.size());
  // The relay's echo of it came back to the sender in one piece as well.
  ASSERT_TRUE(RunUntil([&] { return a.largest >= big.size(); }, 60000));
  EXPECT_EQ(a.conn->queued_bytes(), 0u);
  std::printf("5 MiB update a -> relay -> b and echo: %lld ms\n",
              static_cast<long long>(MsSince(start)));
}

TEST_F(TransportTest, MessagesAreEchoedWholeAndInOrderAndTextIsDropped) {
  auto echo = NodeServer::Start(EchoScript(), NodeModules());
  ASSERT_TRUE(echo);
  MakeTransport();
  std::vector<Bytes> sent;
  for (size_t i = 0; i < 40; ++i) {
    const size_t n = i == 0 ? 0 : (i * 7919 * 13) % 300000;
    Bytes m(n);
    for (size_t j = 0; j < n; ++j) m[j] = static_cast<uint8_t>(i * 31 + j);
    sent.push_back(std::move(m));
  }
  std::vector<Bytes> got;
  ConnectionCallbacks cb;
  std::unique_ptr<Connection> conn;
  cb.on_open = [&] {
    for (const Bytes& m : sent) EXPECT_TRUE(conn->Send(m).ok());
  };
  cb.on_message = [&](std::span<const uint8_t> m) { got.emplace_back(m.begin(), m.end()); };
  cb.on_close = [&](const std::string& r) { ADD_FAILURE() << "closed: " << r; };
  auto c = transport_->Connect(echo->Url("echo"), cb);
  ASSERT_TRUE(c.ok());
  conn = std::move(*c);
  ASSERT_TRUE(RunUntil([&] { return got.size() >= sent.size(); }));
  ASSERT_EQ(got.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) EXPECT_TRUE(got[i] == sent[i]) << "message " << i;
  EXPECT_EQ(conn->queued_bytes(), 0u);
  conn.reset();
}

TEST_F(TransportTest, PingsGoOutBetweenTheFragmentsOfLargeMessages) {
  auto echo = NodeServer::Start(EchoScript(), NodeModules());
  ASSERT_TRUE(echo);
  // Pings every 500 ms while 24 MiB go out in 64 KiB fragments and come back.
  MakeTransport({.idle_timeout_ms = 1000});
  std::vector<Bytes> sent;
  for (int i = 0; i < 3; ++i) sent.emplace_back(8 << 20, static_cast<uint8_t>(i + 1));
  std::vector<Bytes> got;
  std::string closed;
  ConnectionCallbacks cb;
  std::unique_ptr<Connection> conn;
  cb.on_open = [&] {
    for (const Bytes& m : sent) EXPECT_TRUE(conn->Send(m).ok());
  };
  cb.on_message = [&](std::span<const uint8_t> m) { got.emplace_back(m.begin(), m.end()); };
  cb.on_close = [&](const std::string& r) { closed = r; };
  auto c = transport_->Connect(echo->Url("big-echo"), cb);
  ASSERT_TRUE(c.ok());
  conn = std::move(*c);
  ASSERT_TRUE(RunUntil([&] { return got.size() >= sent.size() || !closed.empty(); }, 120000));
  EXPECT_EQ(closed, "");
  ASSERT_EQ(got.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) EXPECT_TRUE(got[i] == sent[i]) << "message " << i;
}

TEST_F(TransportTest, OversizedMessageClosesTheConnectionWithAReason) {
  auto relay = NodeServer::Start(RelayScript());
  ASSERT_TRUE(relay);
  MakeTransport({.max_message_bytes = 100000});
  Peer& a = Connect(relay->Url("limits"));
  Peer& b = Connect(relay->Url("limits"));
  ASSERT_TRUE(RunUntil([&] { return a.sync.synced() && b.sync.synced(); }));
  a.Type(std::string(200000, 'y'));
  ASSERT_TRUE(RunUntil([&] { return a.closes > 0 && b.closes > 0; }));
  EXPECT_NE(b.close_reason.find("larger than the limit of 100000 bytes"), std::string::npos)
      << b.close_reason;
  EXPECT_FALSE(b.conn->is_open());
  EXPECT_FALSE(b.conn->Send(Bytes{1}).ok());
}

TEST_F(TransportTest, ClosedPortEndsInOnCloseWithAReason) {
  MakeTransport();
  const int port = FreePort();
  const auto start = Clock::now();
  Peer& p = Connect("ws://127.0.0.1:" + std::to_string(port) + "/room");
  EXPECT_EQ(p.closes, 0) << "on_close must not run inside Connect";
  ASSERT_TRUE(RunUntil([&] { return p.closes > 0; }, 20000));
  std::printf("closed port: on_close after %lld ms: %s\n", static_cast<long long>(MsSince(start)),
              p.close_reason.c_str());
  EXPECT_FALSE(p.opened);
  EXPECT_NE(p.close_reason.find("cannot connect to 127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << p.close_reason;
  RunUntil([] { return false; }, 300);
  EXPECT_EQ(p.closes, 1);
}

TEST_F(TransportTest, ServerThatAcceptsAndNeverAnswersHitsTheConnectTimeout) {
  // The kernel completes the TCP handshake from the backlog; nobody answers.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 8), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  MakeTransport({.connect_timeout_ms = 1000});
  const auto start = Clock::now();
  Peer& p = Connect("ws://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/room");
  ASSERT_TRUE(RunUntil([&] { return p.closes > 0; }, 20000));
  const auto elapsed = MsSince(start);
  std::printf("stalled handshake: on_close after %lld ms: %s\n", static_cast<long long>(elapsed),
              p.close_reason.c_str());
  EXPECT_GE(elapsed, 900);
  EXPECT_NE(p.close_reason.find("no WebSocket handshake within 1000 ms"), std::string::npos)
      << p.close_reason;
  EXPECT_FALSE(p.opened);
  close(fd);
}

TEST_F(TransportTest, RelayThatStallsAfterTheHandshakeHitsTheIdleTimeout) {
  auto relay = NodeServer::Start(RelayScript());
  ASSERT_TRUE(relay);
  MakeTransport({.idle_timeout_ms = 1500});
  Peer& p = Connect(relay->Url("stall"));
  ASSERT_TRUE(RunUntil([&] { return p.sync.synced(); }));
  relay->Stop();  // SIGSTOP: the socket stays open, nothing answers
  const auto start = Clock::now();
  ASSERT_TRUE(RunUntil([&] { return p.closes > 0; }, 20000));
  std::printf("stalled relay: on_close after %lld ms: %s\n", static_cast<long long>(MsSince(start)),
              p.close_reason.c_str());
  EXPECT_NE(p.close_reason.find("stalled"), std::string::npos) << p.close_reason;
  EXPECT_EQ(p.closes, 1);
}

TEST_F(TransportTest, QuietConnectionIsKeptOpenByPings) {
  auto relay = NodeServer::Start(RelayScript());
  ASSERT_TRUE(relay);
  MakeTransport({.idle_timeout_ms = 2000});
  Peer& p = Connect(relay->Url("quiet"));
  ASSERT_TRUE(RunUntil([&] { return p.sync.synced(); }));
  // Three idle periods without a message: only pongs keep it open.
  RunUntil([&] { return p.closes > 0; }, 6000);
  EXPECT_EQ(p.closes, 0) << p.close_reason;
  EXPECT_TRUE(p.conn->is_open());
}

TEST_F(TransportTest, RelayKilledEndsInOnClose) {
  auto relay = NodeServer::Start(RelayScript());
  ASSERT_TRUE(relay);
  MakeTransport();
  Peer& p = Connect(relay->Url("killed"));
  ASSERT_TRUE(RunUntil([&] { return p.sync.synced(); }));
  relay->Kill();
  ASSERT_TRUE(RunUntil([&] { return p.closes > 0; }, 20000));
  EXPECT_FALSE(p.conn->is_open());
  EXPECT_FALSE(p.close_reason.empty());
  std::printf("relay killed: %s\n", p.close_reason.c_str());
  RunUntil([] { return false; }, 300);
  EXPECT_EQ(p.closes, 1);
}

TEST_F(TransportTest, CloseEndsTheConnectionAndCallsOnCloseOnceLater) {
  auto relay = NodeServer::Start(RelayScript());
  ASSERT_TRUE(relay);
  MakeTransport();
  Peer& p = Connect(relay->Url("close"));
  ASSERT_TRUE(RunUntil([&] { return p.sync.synced(); }));
  p.conn->Close();
  EXPECT_EQ(p.closes, 0) << "on_close must not run inside Close";
  EXPECT_FALSE(p.conn->is_open());
  EXPECT_FALSE(p.conn->Send(Bytes{0}).ok());
  ASSERT_TRUE(RunUntil([&] { return p.closes > 0; }));
  EXPECT_EQ(p.close_reason, "closed by the daemon");
  p.conn->Close();
  RunUntil([] { return false; }, 300);
  EXPECT_EQ(p.closes, 1);
}

TEST_F(TransportTest, DestroyingAConnectionInsideItsCallbackStopsAllCallbacks) {
  auto relay = NodeServer::Start(RelayScript());
  ASSERT_TRUE(relay);
  MakeTransport();
  Peer& a = Connect(relay->Url("destroy"));
  Peer& b = Connect(relay->Url("destroy"));
  ASSERT_TRUE(RunUntil([&] { return a.sync.synced() && b.sync.synced(); }));
  size_t a_messages = 0;
  a.on_message_hook = [&](Peer& self, std::span<const uint8_t>) {
    a_messages = self.messages.size();
    self.conn.reset();  // from inside on_message
  };
  b.Type("one");
  ASSERT_TRUE(RunUntil([&] { return a.conn == nullptr; }));
  // More traffic in the room: b sees it, a's callbacks stay silent.
  b.Type(" two");
  ASSERT_TRUE(RunUntil([&] { return b.relay_updates >= 2; }));
  EXPECT_EQ(a.messages.size(), a_messages);
  EXPECT_EQ(a.closes, 0);
}

TEST_F(TransportTest, ShutdownWithOpenConnectionsClosesEachOnceAndLeavesTheLoop) {
  auto relay = NodeServer::Start(RelayScript());
  ASSERT_TRUE(relay);
  MakeTransport();
  Peer& a = Connect(relay->Url("shutdown"));
  Peer& b = Connect(relay->Url("shutdown"));
  Peer& pending = Connect("ws://127.0.0.1:" + std::to_string(FreePort()) + "/never");
  ASSERT_TRUE(RunUntil([&] { return a.sync.synced() && b.sync.synced(); }));
  // A reconnect attempted from on_close is refused cleanly.
  std::optional<Status> reconnect;
  a.conn.reset();
  peers_.push_back(std::make_unique<Peer>());
  Peer& c = *peers_.back();
  ConnectionCallbacks cb = c.Callbacks();
  cb.on_close = [&](const std::string& reason) {
    ++c.closes;
    c.close_reason = reason;
    auto again = transport_->Connect(relay->Url("shutdown"), {});
    reconnect = again.ok() ? Status::Ok() : again.status();
  };
  auto conn = transport_->Connect(relay->Url("shutdown"), cb);
  ASSERT_TRUE(conn.ok());
  c.conn = std::move(*conn);
  ASSERT_TRUE(RunUntil([&] { return c.sync.synced(); }));

  transport_->Shutdown();
  EXPECT_EQ(a.closes, 0);  // destroyed before: never called
  EXPECT_EQ(b.closes, 1);
  EXPECT_EQ(b.close_reason, "transport shut down");
  EXPECT_EQ(c.closes, 1);
  EXPECT_LE(pending.closes, 1);
  ASSERT_TRUE(reconnect.has_value());
  EXPECT_FALSE(reconnect->ok());
  EXPECT_FALSE(b.conn->Send(Bytes{0}).ok());
  // The transport goes first, the connections after it; then the loop must end.
  transport_.reset();
  EXPECT_FALSE(b.conn->is_open());
  b.conn->Close();
  const auto start = Clock::now();
  peers_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);
  std::printf("loop ended %lld ms after shutdown\n", static_cast<long long>(MsSince(start)));
  EXPECT_EQ(uv_loop_close(&loop_), 0);
  // TearDown must not close again.
  ASSERT_EQ(uv_loop_init(&loop_), 0);
  uv_timer_init(&loop_, &tick_);
}

TEST_F(TransportTest, ShutdownFromInsideACallbackThenTheLoopEnds) {
  auto relay = NodeServer::Start(RelayScript());
  ASSERT_TRUE(relay);
  MakeTransport();
  Peer& a = Connect(relay->Url("inside"));
  Peer& b = Connect(relay->Url("inside"));
  bool shut = false;
  a.on_message_hook = [&](Peer&, std::span<const uint8_t>) {
    if (!shut && a.sync.synced()) {
      shut = true;
      transport_->Shutdown();  // from inside on_message
    }
  };
  ASSERT_TRUE(RunUntil([&] { return shut; }));
  EXPECT_EQ(a.closes, 1);
  EXPECT_EQ(b.closes, 1);
  EXPECT_EQ(a.close_reason, "transport shut down");
  // TearDown: the loop must still end and the loop close cleanly.
}

TEST_F(TransportTest, WssToAPlainServerFailsTheTlsHandshakeWithAReason) {
  auto echo = NodeServer::Start(EchoScript(), NodeModules());
  ASSERT_TRUE(echo);
  MakeTransport({.connect_timeout_ms = 5000});
  Peer& p = Connect("wss://127.0.0.1:" + std::to_string(echo->port()) + "/tls");
  ASSERT_TRUE(RunUntil([&] { return p.closes > 0; }, 20000));
  std::printf("wss to a plain server: %s\n", p.close_reason.c_str());
  EXPECT_FALSE(p.opened);
  EXPECT_NE(p.close_reason.find("cannot connect to 127.0.0.1:"), std::string::npos)
      << p.close_reason;
}

TEST_F(TransportTest, InvalidUrlsAreRefusedAtConnect) {
  MakeTransport();
  for (const char* bad : {"http://127.0.0.1/", "ws://", "ws://h:99999/", "tcp://h:1"}) {
    auto c = transport_->Connect(bad, {});
    EXPECT_FALSE(c.ok()) << bad;
  }
}

}  // namespace
}  // namespace vaultd::daemon
