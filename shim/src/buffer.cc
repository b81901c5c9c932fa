// Buf (a growable byte buffer) with the journal's escaping, and its checksum.
#include <cstdio>

#include "internal.h"

namespace vaultd::move::internal {

bool Buf::Reserve(size_t n) {
  if (!ok) return false;
  if (n + 1 <= cap) return true;
  size_t ncap = cap ? cap : 256;
  while (ncap < n + 1) ncap *= 2;
  void* p = realloc(data, ncap);
  if (!p) {
    ok = false;
    return false;
  }
  data = static_cast<char*>(p);
  cap = ncap;
  return true;
}

void Buf::Append(const char* s, size_t n) {
  if (!Reserve(len + n)) return;
  memcpy(data + len, s, n);
  len += n;
  data[len] = '\0';
}

void Buf::AppendU64(uint64_t v) {
  char tmp[24];
  char* p = tmp + sizeof tmp;
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  Append(p, static_cast<size_t>(tmp + sizeof tmp - p));
}

void Buf::AppendI64(int64_t v) {
  if (v < 0) {
    AppendChar('-');
    // The magnitude of INT64_MIN does not fit an int64_t: negate as unsigned.
    AppendU64(0 - static_cast<uint64_t>(v));
  } else {
    AppendU64(static_cast<uint64_t>(v));
  }
}

void Buf::AppendHex64(uint64_t v) {
  char tmp[20];
  int n = snprintf(tmp, sizeof tmp, "%016llx", static_cast<unsigned long long>(v));
  Append(tmp, static_cast<size_t>(n));
}

void Buf::AppendEscaped(const char* s) {
  static const char kHex[] = "0123456789abcdef";
  const unsigned char* run = reinterpret_cast<const unsigned char*>(s);
  const unsigned char* p = run;
  for (; *p; ++p) {
    if (*p <= 0x20 || *p == 0x7f || *p == '%') {
      Append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
      char e[3] = {'%', kHex[*p >> 4], kHex[*p & 15]};
      Append(e, 3);
      run = p + 1;
    }
  }
  Append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
}

const char* Buf::c_str() {
  if (!Reserve(len)) return "";
  data[len] = '\0';
  return data;
}

uint64_t Fnv1a64(const char* data, size_t len, uint64_t h) {
  for (size_t i = 0; i < len; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= 0x100000001b3ull;
  }
  return h;
}

static int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool Unescape(char* s) {
  char* w = s;
  for (char* r = s; *r; ++r) {
    if (*r == '%') {
      int hi = HexVal(r[1]);
      int lo = hi < 0 ? -1 : HexVal(r[2]);
      if (hi < 0 || lo < 0) return false;
      int v = hi * 16 + lo;
      if (v == 0) return false;
      *w++ = static_cast<char>(v);
      r += 2;
    } else {
      *w++ = *r;
    }
  }
  *w = '\0';
  return true;
}

int64_t ToNs(const struct statx_timestamp& t) {
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}
}  // namespace vaultd::move::internal
