// Chunked-decoding benchmark for the orchestrator client's HttpFetch: a loopback
// server sends an N-byte body as N one-byte chunks (6 wire bytes per body byte,
// the worst framing), and, as the anchor measured in the same run, the same
// body with Content-Length. Linear decoding keeps the time per body byte flat
// as N doubles; the old decoder re-parsed the whole body after every read.
//
//   build/bin/bench_http_chunked [--max-chunks N] [--repeat R]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "vaultd/orchestrator_client/http.h"

using namespace vaultd::orchestrator_client;
using Steady = std::chrono::steady_clock;

namespace {

// Serves `raw` to `count` connections, one after another.
class Server {
 public:
  Server(std::string raw, int count) : raw_(std::move(raw)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 16) != 0) {
      std::perror("bench server");
      std::exit(1);
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, count] {
      for (int i = 0; i < count; ++i) {
        int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        char buf[4096];
        std::string req;
        while (req.find("\r\n\r\n") == std::string::npos) {
          ssize_t n = ::read(c, buf, sizeof buf);
          if (n <= 0) break;
          req.append(buf, static_cast<size_t>(n));
        }
        size_t off = 0;
        while (off < raw_.size()) {
          ssize_t n = ::write(c, raw_.data() + off, raw_.size() - off);
          if (n <= 0) break;
          off += static_cast<size_t>(n);
        }
        ::close(c);
      }
    });
  }
  ~Server() {
    thread_.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

 private:
  std::string raw_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

// Median milliseconds of `repeat` fetches of `raw`, checking the body each time.
double FetchMs(const std::string& raw, const std::string& expected, int repeat) {
  Server server(raw, repeat);
  std::vector<double> ms;
  for (int i = 0; i < repeat; ++i) {
    HttpRequest req;
    req.url = server.url();
    req.read_timeout = std::chrono::milliseconds(120'000);
    req.max_response_bytes = 64u << 20;
    auto t0 = Steady::now();
    auto r = HttpFetch(req);
    ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - t0).count());
    if (!r.ok() || r->body != expected) {
      std::fprintf(stderr, "fetch failed: %s\n",
                   r.ok() ? "body differs" : r.status().ToString().c_str());
      std::exit(1);
    }
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  size_t max_chunks = 1'600'000;
  int repeat = 5;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help")) {
      std::printf(
          "bench_http_chunked [--max-chunks N] [--repeat R]\n"
          "Times HttpFetch of N one-byte chunks (N = 100,000 doubling up to --max-chunks, default\n"
          "1,600,000) beside the same body sent with Content-Length; median of R runs (default "
          "5).\n");
      return 0;
    }
    if (i + 1 < argc && !std::strcmp(argv[i], "--max-chunks"))
      max_chunks = std::strtoull(argv[++i], nullptr, 10);
    else if (i + 1 < argc && !std::strcmp(argv[i], "--repeat"))
      repeat = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "bench_http_chunked: unknown argument '%s' (see --help)\n", argv[i]);
      return 2;
    }
  }
  std::printf("%10s %12s %14s %14s %16s %18s\n", "chunks", "wire bytes", "chunked ms", "anchor ms",
              "chunked ns/byte", "chunked/anchor");
  for (size_t n = 100'000; n <= max_chunks; n *= 2) {
    std::string body, chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (size_t i = 0; i < n; ++i) {
      char c = static_cast<char>('a' + i % 26);
      body.push_back(c);
      chunked += "1\r\n";
      chunked.push_back(c);
      chunked += "\r\n";
    }
    chunked += "0\r\n\r\n";
    std::string plain =
        "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(n) + "\r\n\r\n" + body;
    double c = FetchMs(chunked, body, repeat);
    double a = FetchMs(plain, body, repeat);
    std::printf("%10zu %12zu %14.2f %14.2f %16.1f %18.1f\n", n, chunked.size(), c, a,
                c * 1e6 / double(n), c / a);
  }
  return 0;
}
