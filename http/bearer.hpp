#pragma once
// "Authorization: Bearer <credentials>" and the admin token check. The admin
// token is compared in constant time over SHA-256 digests, so neither its
// content nor its length leaks through response timing.
#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace tally {

/// The credentials after "Bearer " (scheme case-insensitive); nullopt when
/// the header is absent, another scheme, or empty.
std::optional<std::string_view> bearer_credentials(std::string_view authorization);

/// Checks presented admin tokens against the configured one.
class admin_token_check {
public:
  /// An empty `configured` token turns the admin API off: nothing matches.
  explicit admin_token_check(std::string_view configured);

  bool matches(std::string_view presented) const;

private:
  bool enabled_ = false;
  std::array<unsigned char, 32> digest_{};
};

} // namespace tally
