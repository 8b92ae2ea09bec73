#pragma once
// UUIDs name users, charges, ledger entries and (later) tenants and sessions.
// Boost.Uuid (header-only, part of libboost-dev) does the parsing and the
// random generation; this header only fixes the few calls we use.
#include <optional>
#include <string>
#include <string_view>

#include <boost/uuid/uuid.hpp>

namespace tally {

using uuid = boost::uuids::uuid;

/// Parses the canonical 8-4-4-4-12 hex form (case-insensitive); nothing else.
std::optional<uuid> parse_uuid(std::string_view text);

/// Lower-case canonical form.
std::string to_string(const uuid& id);

/// A random (version 4) UUID; thread-safe, seeded from the OS CSPRNG.
uuid random_uuid();

} // namespace tally
