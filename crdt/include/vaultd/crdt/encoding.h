// lib0 binary primitives (the encoding layer under Yjs update format v1).
//
// Numbers follow lib0: varUint is little-endian base-128 up to 2^53 - 1;
// varInt keeps the sign in bit 6 of the first byte (so -0 survives); floats
// and bigints are big-endian. Strings are length-prefixed UTF-8. Decoding
// never reads past the input and never allocates more than the input could
// hold: every length is checked against the bytes that remain.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vaultd/common/base64.h"
#include "vaultd/common/status.h"
#include "vaultd/common/utf8.h"

namespace vaultd::crdt {

inline constexpr uint64_t kMaxSafeInteger = (uint64_t{1} << 53) - 1;

class Encoder {
 public:
  void WriteUint8(uint8_t v) { buf_.push_back(v); }
  void WriteVarUint(uint64_t v);
  // lib0 writeVarInt: sign from the double, so -0.0 is written as negative zero.
  void WriteVarInt(double v);
  void WriteFloat32(float v);
  void WriteFloat64(double v);
  void WriteBigInt64(int64_t v);
  void WriteVarString(std::string_view utf8);
  void WriteVarBytes(std::span<const uint8_t> bytes);
  void WriteBytes(std::span<const uint8_t> bytes) {
    buf_.insert(buf_.end(), bytes.begin(), bytes.end());
  }

  const std::vector<uint8_t>& data() const { return buf_; }
  std::vector<uint8_t> Take() { return std::move(buf_); }
  size_t size() const { return buf_.size(); }

 private:
  std::vector<uint8_t> buf_;
};

class Decoder {
 public:
  explicit Decoder(std::span<const uint8_t> data) : data_(data) {}

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  bool AtEnd() const { return pos_ >= data_.size(); }

  Result<uint8_t> ReadUint8();
  Result<uint64_t> ReadVarUint();
  // A varUint that must also fit the remaining input when used as a count of
  // items that each take at least one byte.
  Result<uint64_t> ReadLength();
  // The most elements to reserve up front for a count read from the wire: the
  // count is only a claim, and nested containers each claiming the rest of the
  // input would multiply it. Containers grow past this as elements really parse.
  static constexpr uint64_t kMaxWireReserve = 1024;
  Result<double> ReadVarInt();
  Result<float> ReadFloat32();
  Result<double> ReadFloat64();
  Result<int64_t> ReadBigInt64();
  // Valid UTF-8 only (lib0 decodes with a fatal TextDecoder).
  Result<std::string> ReadVarString();
  Result<std::span<const uint8_t>> ReadVarBytes();
  Result<std::span<const uint8_t>> ReadBytes(size_t n);
  std::span<const uint8_t> Rest() const { return data_.subspan(pos_); }

 private:
  Status Truncated() const;
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

// UTF-16 helpers: Yjs counts lengths and positions in UTF-16 code units; the
// text itself is kept and written as UTF-8.
// U+FFFD in UTF-8: what a half of a surrogate pair alone becomes (as
// TextEncoder writes a lone surrogate).
inline constexpr char kReplacementUtf8[] = "\xef\xbf\xbd";
using vaultd::IsValidUtf8;  // common/utf8.h
using vaultd::Utf16Length;  // common/utf8.h
// Byte offset in valid UTF-8 text of UTF-16 code unit `unit` (<= its UTF-16
// length). When `unit` falls between the two halves of a surrogate pair,
// returns the start of that character's 4-byte sequence and sets *mid_pair.
size_t Utf8OffsetOfUnit(std::string_view utf8, uint64_t unit, bool* mid_pair);
// The UTF-8 of UTF-16 code unit `unit` of valid UTF-8 text, alone: a half of
// a surrogate pair alone is U+FFFD (as TextEncoder writes it).
std::string Utf8OfUnit(std::string_view utf8, uint64_t unit);

// Base64 (standard alphabet, padded) of bytes, over common/base64.h.
inline std::string Base64Encode(std::span<const uint8_t> bytes) {
  return vaultd::Base64Encode(
      std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}
inline bool Base64Decode(std::string_view text, std::vector<uint8_t>* out) {
  auto d = vaultd::Base64Decode(text);
  if (!d) return false;
  out->assign(d->begin(), d->end());
  return true;
}

}  // namespace vaultd::crdt
