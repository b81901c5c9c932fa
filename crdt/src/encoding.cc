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
  if (mid || at >= s.size()) return kReplacementUtf8;
  auto c = static_cast<unsigned char>(s[at]);
  size_t len = vaultd::Utf8SequenceLength(c);
  if (len == 4) return kReplacementUtf8;  // the high half of a pair, alone
  return std::string(s.substr(at, len));
}

}  // namespace vaultd::crdt
