// SHA-256 (OpenSSL EVP), hex-encoded lower case.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "vaultd/common/status.h"

namespace vaultd {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view data);
  // The 32-byte digest; the hasher cannot be updated afterwards.
  std::string FinalRaw();
  std::string FinalHex();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string Sha256Hex(std::string_view data);
std::string HexEncode(std::string_view bytes);
// Streams the file; does not load it into memory.
Result<std::string> Sha256FileHex(const std::string& path);

}  // namespace vaultd
