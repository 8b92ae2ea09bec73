#pragma once
// How auth values are spelled in both dialects' columns, shared by the
// SQLite and Postgres stores.
#include <cstdint>
#include <optional>
#include <string_view>

#include "protocols/auth.hpp"
#include "protocols/uuid.hpp"

namespace tally {

/// Deleted expired auth rows are kept this long past their expiry or
/// revocation (store::delete_expired_auth: "more than a day ago"), so a late
/// presentation still gets TOKEN_EXPIRED / SESSION_REVOKED, not INVALID_TOKEN.
inline constexpr timestamp_us expired_auth_retention_us = int64_t{24} * 60 * 60 * 1'000'000;

/// identities.kind: 'email' or 'phone' (the CHECK constraint's values).
constexpr std::string_view identity_kind_column(identity_kind kind) {
  return kind == identity_kind::email ? "email" : "phone";
}

inline std::optional<identity_kind> parse_identity_kind_column(std::string_view text) {
  if (text == "email") return identity_kind::email;
  if (text == "phone") return identity_kind::phone;
  return std::nullopt;
}

} // namespace tally
