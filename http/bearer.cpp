#include "http/bearer.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace tally {

namespace {

std::array<unsigned char, 32> sha256(std::string_view text) {
  std::array<unsigned char, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] + 32) : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] + 32) : b[i];
    if (x != y) return false;
  }
  return true;
}

} // namespace

std::optional<std::string_view> bearer_credentials(std::string_view authorization) {
  constexpr std::string_view scheme = "bearer";
  if (authorization.size() <= scheme.size() ||
      !equals_ignoring_case(authorization.substr(0, scheme.size()), scheme) ||
      authorization[scheme.size()] != ' ')
    return std::nullopt;
  auto rest = authorization.substr(scheme.size());
  auto start = rest.find_first_not_of(' ');
  if (start == std::string_view::npos) return std::nullopt;
  rest = rest.substr(start);
  auto end = rest.find_last_not_of(' ');
  rest = rest.substr(0, end + 1);
  if (rest.find(' ') != std::string_view::npos) return std::nullopt;
  return rest;
}

admin_token_check::admin_token_check(std::string_view configured)
  : enabled_(!configured.empty()), digest_(sha256(configured)) {}

bool admin_token_check::matches(std::string_view presented) const {
  // Hash first so the comparison always runs over 32 bytes, whatever was sent.
  auto presented_digest = sha256(presented);
  bool same = CRYPTO_memcmp(presented_digest.data(), digest_.data(), digest_.size()) == 0;
  return enabled_ && !presented.empty() && same;
}

} // namespace tally
