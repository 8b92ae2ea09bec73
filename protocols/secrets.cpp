#include "protocols/secrets.hpp"

#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

namespace tally {

std::string random_bytes(size_t count) {
  std::string bytes(count, '\0');
  if (count > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(count)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return bytes;
}

std::string random_digits(size_t digits) {
  // 250 = the largest multiple of 10 that fits a byte: bytes >= 250 are
  // redrawn so that each digit has probability exactly 1/10.
  constexpr unsigned accepted_below = 250;
  std::string result;
  result.reserve(digits);
  while (result.size() < digits) {
    for (unsigned char byte : random_bytes(digits)) {
      if (byte >= accepted_below) continue;
      result.push_back(static_cast<char>('0' + byte % 10));
      if (result.size() == digits) break;
    }
  }
  return result;
}

std::string sha256(std::string_view data) {
  std::string digest(sha256_bytes, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(digest.data()));
  return digest;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string text;
  text.reserve(bytes.size() * 2);
  for (unsigned char byte : bytes) {
    text.push_back(digits[byte >> 4]);
    text.push_back(digits[byte & 0x0f]);
  }
  return text;
}

std::string sha256_hex(std::string_view data) {
  return to_hex(sha256(data));
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::string mac(sha256_bytes, '\0');
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       reinterpret_cast<unsigned char*>(mac.data()), &length);
  mac.resize(length);
  return mac;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace tally
