#pragma once
// CORS (API.md, Conventions): origins come from configuration only and are
// matched exactly. An allowed origin is named back (never "*"); a disallowed
// one gets no CORS headers at all.
#include <string>
#include <string_view>
#include <vector>

namespace tally {

/// Headers a browser may send on a cross-origin request.
inline constexpr std::string_view cors_allow_headers =
  "Content-Type, Authorization, X-Request-ID, X-Tenant-ID, Idempotency-Key";
/// Response headers a browser script may read.
inline constexpr std::string_view cors_expose_headers =
  "X-Request-ID, Idempotent-Replayed, Retry-After";
/// Seconds a browser may cache a preflight answer.
inline constexpr std::string_view cors_max_age_s = "600";

/// The configured origins and the checks against them.
class cors_policy {
public:
  explicit cors_policy(std::vector<std::string> origins);

  /// True when `origin` (the Origin header) is configured. An empty origin
  /// (no header) is never allowed.
  bool allows(std::string_view origin) const;

  bool enabled() const { return !origins_.empty(); }

private:
  std::vector<std::string> origins_;
};

} // namespace tally
