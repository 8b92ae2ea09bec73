#pragma once
// Which record types are written by key, and by which key. A row type with
// a coalesce_key overload keeps one row per key in a batch (the last one
// wins, at the position of the first): the write queue coalesces by it
// (prepared_batch.cpp) and the Postgres writer relies on it, because
// Postgres refuses an upsert that touches one key twice in a statement and
// a conditional UPDATE .. FROM applies only one of two rows for a key.
// A type without an overload is append-only: every row is kept, in order.
#include <string>
#include <type_traits>
#include <utility>

#include "protocols/caf_types.hpp"
#include "protocols/records.hpp"

namespace tally {

/// One balance per user: the newest one is the user's state after the batch.
inline const uuid& coalesce_key(const balance_write& row) { return row.user_id; }
/// One identity row per identity, fenced on its owner epoch.
inline const uuid& coalesce_key(const identity_row& row) { return row.id; }
/// Issued, then marked used: upserted by token hash.
inline const std::string& coalesce_key(const magic_link_row& row) { return row.token_hash; }
/// A new code replaces the identity's old one.
inline const uuid& coalesce_key(const login_code_row& row) { return row.identity_id; }
/// Rotations and revocations upsert the session by id.
inline const uuid& coalesce_key(const session_row& row) { return row.id; }
/// Each status change upserts the generation by id.
inline const uuid& coalesce_key(const generation_row& row) { return row.id; }

/// True for the row types written by key (those with a coalesce_key).
template <class Row, class = void>
struct is_coalesced : std::false_type {};

template <class Row>
struct is_coalesced<Row, std::void_t<decltype(coalesce_key(std::declval<const Row&>()))>> : std::true_type {};

template <class Row>
constexpr bool is_coalesced_v = is_coalesced<Row>::value;

/// The key type of a coalesced row type.
template <class Row>
using coalesce_key_t = std::decay_t<decltype(coalesce_key(std::declval<const Row&>()))>;

/// Hashes a coalescing key: uuid_hash for ids, std::hash otherwise.
template <class Key>
using coalesce_key_hash = std::conditional_t<std::is_same_v<Key, uuid>, uuid_hash, std::hash<Key>>;

} // namespace tally
