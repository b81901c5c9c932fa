#include "vaultd/daemon/ws_url.h"

#include <cctype>
#include <string>

namespace vaultd::daemon {
namespace {

Status Bad(std::string_view url, std::string_view why) {
  return Status::InvalidArgument("relay URL '" + std::string(url) + "': " + std::string(why));
}

bool IsUnreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

// Percent-encodes everything but unreserved characters and `keep`.
std::string Encode(std::string_view s, std::string_view keep) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (IsUnreserved(c) || keep.find(static_cast<char>(c)) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

Result<WsUrl> ParseWsUrl(std::string_view url) {
  WsUrl out;
  std::string_view rest;
  if (url.starts_with("ws://")) {
    rest = url.substr(5);
  } else if (url.starts_with("wss://")) {
    out.tls = true;
    rest = url.substr(6);
  } else {
    return Bad(url, "only ws:// and wss:// are allowed");
  }
  for (unsigned char c : url) {
    if (c <= 0x20 || c == 0x7f) return Bad(url, "whitespace or a control character");
  }
  if (url.find('#') != std::string_view::npos) return Bad(url, "a fragment ('#') is not allowed");

  const size_t end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end);
  std::string_view path = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (authority.find('@') != std::string_view::npos) {
    return Bad(url, "user info ('user@') is not allowed; put a token in the query");
  }

  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Bad(url, "unterminated '[' in the host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Bad(url, "expected ':' after ']'");
      port = after.substr(1);
      if (port.empty()) return Bad(url, "empty port");
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return Bad(url, "empty port");
    if (host.find(':') != std::string_view::npos) {
      return Bad(url, "an IPv6 address must be in brackets");
    }
  }
  if (host.empty()) return Bad(url, "no host");
  for (unsigned char c : host) {
    if (!std::isalnum(c) && c != '-' && c != '.' && c != '_' && c != ':') {
      return Bad(url, "invalid character in the host");
    }
  }
  out.host = std::string(host);

  if (port.empty()) {
    out.port = out.tls ? 443 : 80;
  } else {
    uint32_t p = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || p > 65535) return Bad(url, "the port is not a number in 1..65535");
      p = p * 10 + static_cast<uint32_t>(c - '0');
    }
    if (p == 0 || p > 65535) return Bad(url, "the port is not a number in 1..65535");
    out.port = static_cast<uint16_t>(p);
  }

  out.path = path.empty() ? "/" : std::string(path);
  if (out.path[0] == '?') out.path.insert(0, "/");
  return out;
}

Result<std::string> RoomUrl(std::string_view relay_url, std::string_view room,
                            std::string_view token) {
  Result<WsUrl> parsed = ParseWsUrl(relay_url);
  if (!parsed.ok()) return parsed.status();
  if (relay_url.find('?') != std::string_view::npos) {
    return Bad(relay_url, "the relay URL must not have a query; the token is added per room");
  }
  if (room.empty())
    return Status::InvalidArgument("empty room name for relay '" + std::string(relay_url) + "'");
  std::string url(relay_url);
  while (url.ends_with('/')) url.pop_back();
  url += '/';
  url += Encode(room, "/!$&'()*+,;=:@");
  if (!token.empty()) {
    url += "?token=";
    url += Encode(token, "");
  }
  return url;
}

}  // namespace vaultd::daemon
