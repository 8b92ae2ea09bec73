#pragma once
// Secrets: CSPRNG bytes, hashes and constant-time comparison, on OpenSSL.
// Every token, code and signature Tally checks goes through
// constant_time_equal, so no comparison leaks how many bytes matched.
#include <cstddef>
#include <string>
#include <string_view>

namespace tally {

/// Bytes of a SHA-256 digest and of an HMAC-SHA256.
inline constexpr size_t sha256_bytes = 32;

/// `count` bytes from OpenSSL's CSPRNG (RAND_bytes). Throws
/// std::runtime_error if the generator fails: no secret is ever made from
/// anything weaker.
std::string random_bytes(size_t count);

/// `digits` decimal digits, each uniform (rejection sampling over CSPRNG
/// bytes, so no digit is more likely than another).
std::string random_digits(size_t digits);

/// Raw 32-byte SHA-256 of `data`.
std::string sha256(std::string_view data);

/// Lower-case hex of SHA-256(data): how token hashes are stored.
std::string sha256_hex(std::string_view data);

/// Raw 32-byte HMAC-SHA256 of `data` under `key`.
std::string hmac_sha256(std::string_view key, std::string_view data);

/// Lower-case hex of `bytes`.
std::string to_hex(std::string_view bytes);

/// True if a and b are equal. Lengths are compared first (they are public:
/// hashes have a fixed length); the bytes in constant time (CRYPTO_memcmp).
bool constant_time_equal(std::string_view a, std::string_view b);

} // namespace tally
