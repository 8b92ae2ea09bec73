#include "http/idempotency_key.hpp"

#include <stdexcept>

#include <openssl/evp.h>

namespace tally {

namespace {

bool printable(char c) {
  auto byte = static_cast<unsigned char>(c);
  return byte >= 0x20 && byte <= 0x7e;
}

idempotency_key_result invalid() {
  return {idempotency_key_status::invalid, {}};
}

} // namespace

idempotency_key_result parse_idempotency_key(bool present, std::string_view header) {
  if (!present) return {idempotency_key_status::missing, {}};
  std::string key;
  if (header.size() >= 2 && header.front() == '"' && header.back() == '"') {
    // RFC 8941 sf-string: printable ASCII; '\' escapes only '"' and '\'.
    auto inner = header.substr(1, header.size() - 2);
    key.reserve(inner.size());
    for (size_t i = 0; i < inner.size(); ++i) {
      char c = inner[i];
      if (c == '\\') {
        if (i + 1 == inner.size()) return invalid();
        char next = inner[++i];
        if (next != '"' && next != '\\') return invalid();
        key += next;
      } else if (c == '"' || !printable(c)) {
        return invalid();
      } else {
        key += c;
      }
    }
  } else if (!header.empty() && (header.front() == '"' || header.back() == '"')) {
    // Half a quoted string (`"abc`, `abc"`, `"`): which key was meant is a guess.
    return invalid();
  } else {
    for (char c : header)
      if (!printable(c)) return invalid();
    key.assign(header);
  }
  if (key.empty() || key.size() > idempotency_key_chars_max) return invalid();
  return {idempotency_key_status::ok, std::move(key)};
}

std::string request_digest(std::string_view endpoint_name, std::string_view path_user,
                           std::string_view canonical_body) {
  static constexpr char hex_digits[] = "0123456789abcdef";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_MD_CTX* hash = EVP_MD_CTX_new();
  bool ok = hash && EVP_DigestInit_ex(hash, EVP_sha256(), nullptr) == 1 &&
            EVP_DigestUpdate(hash, endpoint_name.data(), endpoint_name.size()) == 1 &&
            EVP_DigestUpdate(hash, "\n", 1) == 1 &&
            EVP_DigestUpdate(hash, path_user.data(), path_user.size()) == 1 &&
            EVP_DigestUpdate(hash, "\n", 1) == 1 &&
            EVP_DigestUpdate(hash, canonical_body.data(), canonical_body.size()) == 1 &&
            EVP_DigestFinal_ex(hash, digest, &length) == 1;
  EVP_MD_CTX_free(hash);
  if (!ok) throw std::runtime_error("SHA-256 failed");
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex += hex_digits[digest[i] >> 4];
    hex += hex_digits[digest[i] & 0xf];
  }
  return hex;
}

} // namespace tally
