#pragma once
// The fixed secrets the fuzz targets configure, so seeds (fuzz/corpus) can
// carry valid tokens that reach the authenticated endpoints.
#include <string_view>

namespace tally::fuzz {

inline constexpr std::string_view jwt_secret = "fuzz-jwt-secret";
inline constexpr std::string_view admin_token = "fuzz-admin-token";

} // namespace tally::fuzz
