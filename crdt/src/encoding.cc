#include "vaultd/crdt/encoding.h"

#include <bit>
#include <cmath>
#include <cstring>

#include "vaultd/common/utf8.h"

namespace vaultd::crdt {

void Encoder::WriteVarUint(uint64_t v) {
  while (v > 0x7f) {
    buf_.push_back(static_cast<uint8_t>(0x80 | (v & 0x7f)));
    v >>= 7;
  }
  buf_.push_back(static_cast<uint8_t>(v));
}

void Encoder::WriteVarInt(double v) {
  bool negative = std::signbit(v);
  double mag = std::fabs(v);
  uint64_t n = mag >= 9007199254740992.0 ? kMaxSafeInteger : static_cast<uint64_t>(mag);
  buf_.push_back(static_cast<uint8_t>((n > 0x3f ? 0x80 : 0) | (negative ? 0x40 : 0) | (n & 0x3f)));
  n >>= 6;
  while (n > 0) {
    buf_.push_back(static_cast<uint8_t>((n > 0x7f ? 0x80 : 0) | (n & 0x7f)));
    n >>= 7;
  }
}

void Encoder::WriteFloat32(float v) {
  uint32_t bits = std::bit_cast<uint32_t>(v);
  for (int i = 3; i >= 0; --i) buf_.push_back(static_cast<uint8_t>(bits >> (i * 8)));
}

void Encoder::WriteFloat64(double v) {
  uint64_t bits = std::bit_cast<uint64_t>(v);
  for (int i = 7; i >= 0; --i) buf_.push_back(static_cast<uint8_t>(bits >> (i * 8)));
}

void Encoder::WriteBigInt64(int64_t v) {
  uint64_t bits = static_cast<uint64_t>(v);
  for (int i = 7; i >= 0; --i) buf_.push_back(static_cast<uint8_t>(bits >> (i * 8)));
}

void Encoder::WriteVarString(std::string_view utf8) {
  WriteVarUint(utf8.size());
  buf_.insert(buf_.end(), utf8.begin(), utf8.end());
}

void Encoder::WriteVarBytes(std::span<const uint8_t> bytes) {
  WriteVarUint(bytes.size());
  WriteBytes(bytes);
}

Status Decoder::Truncated() const {
  return Status::Corruption("unexpected end of input at byte " + std::to_string(pos_));
}

Result<uint8_t> Decoder::ReadUint8() {
  if (pos_ >= data_.size()) return Truncated();
  return data_[pos_++];
}

Result<uint64_t> Decoder::ReadVarUint() {
  uint64_t num = 0;
  int shift = 0;
  while (true) {
    if (pos_ >= data_.size()) return Truncated();
    uint8_t r = data_[pos_++];
    if (shift >= 53 && (r & 0x7f) != 0)
      return Status::Corruption("varUint larger than 2^53 at byte " + std::to_string(pos_));
    if (shift < 53) num |= static_cast<uint64_t>(r & 0x7f) << shift;
    if (num > kMaxSafeInteger)
      return Status::Corruption("varUint larger than 2^53 at byte " + std::to_string(pos_));
    if (r < 0x80) return num;
    shift += 7;
    if (shift > 70) return Status::Corruption("varUint too long at byte " + std::to_string(pos_));
  }
}

Result<uint64_t> Decoder::ReadLength() {
  VAULTD_ASSIGN_OR_RETURN(uint64_t n, ReadVarUint());
  if (n > remaining())
    return Status::Corruption("length " + std::to_string(n) + " exceeds the remaining " +
                              std::to_string(remaining()) + " bytes at byte " +
                              std::to_string(pos_));
  return n;
}

Result<double> Decoder::ReadVarInt() {
  VAULTD_ASSIGN_OR_RETURN(uint8_t r, ReadUint8());
  uint64_t num = r & 0x3f;
  bool negative = (r & 0x40) != 0;
  int shift = 6;
  while (r & 0x80) {
    VAULTD_ASSIGN_OR_RETURN(r, ReadUint8());
    if (shift >= 53 && (r & 0x7f) != 0)
      return Status::Corruption("varInt larger than 2^53 at byte " + std::to_string(pos_));
    if (shift < 53) num |= static_cast<uint64_t>(r & 0x7f) << shift;
    if (num > kMaxSafeInteger)
      return Status::Corruption("varInt larger than 2^53 at byte " + std::to_string(pos_));
    shift += 7;
    if (shift > 70) return Status::Corruption("varInt too long at byte " + std::to_string(pos_));
  }
  double v = static_cast<double>(num);
  return negative ? -v : v;
}

Result<float> Decoder::ReadFloat32() {
  VAULTD_ASSIGN_OR_RETURN(auto b, ReadBytes(4));
  uint32_t bits = 0;
  for (uint8_t x : b) bits = (bits << 8) | x;
  return std::bit_cast<float>(bits);
}

Result<double> Decoder::ReadFloat64() {
  VAULTD_ASSIGN_OR_RETURN(auto b, ReadBytes(8));
  uint64_t bits = 0;
  for (uint8_t x : b) bits = (bits << 8) | x;
  return std::bit_cast<double>(bits);
}

Result<int64_t> Decoder::ReadBigInt64() {
  VAULTD_ASSIGN_OR_RETURN(auto b, ReadBytes(8));
  uint64_t bits = 0;
  for (uint8_t x : b) bits = (bits << 8) | x;
  return static_cast<int64_t>(bits);
}

Result<std::span<const uint8_t>> Decoder::ReadBytes(size_t n) {
  if (n > remaining()) return Truncated();
  auto s = data_.subspan(pos_, n);
  pos_ += n;
  return s;
}

Result<std::span<const uint8_t>> Decoder::ReadVarBytes() {
  VAULTD_ASSIGN_OR_RETURN(uint64_t n, ReadLength());
  return ReadBytes(n);
}

Result<std::string> Decoder::ReadVarString() {
  size_t at = pos_;
  VAULTD_ASSIGN_OR_RETURN(auto b, ReadVarBytes());
  std::string s(reinterpret_cast<const char*>(b.data()), b.size());
  if (!vaultd::IsValidUtf8(s))
    return Status::Corruption("invalid UTF-8 in string at byte " + std::to_string(at));
  return s;
}

namespace {
// Decodes one code point; returns bytes consumed or 0 when invalid.
size_t DecodeUtf8(std::string_view s, size_t i, uint32_t* cp) {
  auto c = static_cast<uint8_t>(s[i]);
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t n;
  uint32_t min;
  if ((c & 0xe0) == 0xc0) {
    n = 2, *cp = c & 0x1f, min = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3, *cp = c & 0x0f, min = 0x800;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4, *cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    auto d = static_cast<uint8_t>(s[i + k]);
    if ((d & 0xc0) != 0x80) return 0;
    *cp = (*cp << 6) | (d & 0x3f);
  }
  if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff)) return 0;
  return n;
}
}  // namespace

bool Utf8ToUtf16(std::string_view s, std::u16string* out) {
  out->clear();
  out->reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    size_t n = DecodeUtf8(s, i, &cp);
    if (n == 0) return false;
    i += n;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out->push_back(static_cast<char16_t>(0xd800 + (cp >> 10)));
      out->push_back(static_cast<char16_t>(0xdc00 + (cp & 0x3ff)));
    } else {
      out->push_back(static_cast<char16_t>(cp));
    }
  }
  return true;
}

std::u16string Utf8ToUtf16Lossy(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    size_t n = DecodeUtf8(s, i, &cp);
    if (n == 0) {
      out.push_back(0xfffd);
      ++i;
      continue;
    }
    i += n;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xd800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xdc00 + (cp & 0x3ff)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
  }
  return out;
}

void AppendUtf16AsUtf8(std::u16string_view u, std::string* out) {
  for (size_t i = 0; i < u.size(); ++i) {
    uint32_t cp = u[i];
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < u.size() && u[i + 1] >= 0xdc00 &&
        u[i + 1] <= 0xdfff) {
      cp = 0x10000 + ((cp - 0xd800) << 10) + (u[i + 1] - 0xdc00);
      ++i;
    } else if (cp >= 0xd800 && cp <= 0xdfff) {
      cp = 0xfffd;
    }
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }
}

std::string Utf16ToUtf8(std::u16string_view u) {
  std::string out;
  out.reserve(u.size());
  AppendUtf16AsUtf8(u, &out);
  return out;
}

size_t Utf8OffsetOfUnit(std::string_view s, uint64_t unit, bool* mid_pair) {
  *mid_pair = false;
  size_t i = 0;
  uint64_t n = 0;
  while (n < unit && i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = vaultd::Utf8SequenceLength(c);
    if (len == 4) {
      if (n + 1 == unit) {
        *mid_pair = true;
        return i;
      }
      n += 2;
    } else {
      n += 1;
    }
    i += len;
  }
  return i;
}

std::string Utf8OfUnit(std::string_view s, uint64_t unit) {
  bool mid = false;
  size_t at = Utf8OffsetOfUnit(s, unit, &mid);
  if (mid || at >= s.size()) return "\xef\xbf\xbd";
  auto c = static_cast<unsigned char>(s[at]);
  size_t len = vaultd::Utf8SequenceLength(c);
  if (len == 4) return "\xef\xbf\xbd";  // the high half of a pair, alone
  return std::string(s.substr(at, len));
}

}  // namespace vaultd::crdt
