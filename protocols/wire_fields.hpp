#pragma once
// The one serialisation definition of every value that travels between
// actors: for each type, the list of its fields, in order. Two codecs are
// derived from it and nothing else:
//   - msgpack (protocols/wire.hpp): what leaves the process — stored
//     idempotent responses today, node-to-node commands (cluster) next;
//   - CAF inspect (actors' caf_types.hpp): so these types are ordinary,
//     inspectable CAF message types, not CAF_ALLOW_UNSAFE_MESSAGE_TYPE.
// A field added to a struct must be added to its list here, or it is not
// sent; tests/protocols/wire_test.cpp round-trips every type with its fields
// set to non-default values and checks them after decoding.
//
// No msgpack and no CAF here: this header is cheap to include.
#include <type_traits>
#include <utility>

#include "protocols/auth.hpp"
#include "protocols/credits.hpp"
#include "protocols/outcome.hpp"
#include "protocols/records.hpp"

/// Declares the field list of `type`: `TALLY_FIELDS(balance, x.available,
/// x.reserved)`. Expands to `fields(x, f)` overloads (const and mutable)
/// that call `f` once with every field.
#define TALLY_FIELDS(type, ...)                                                \
  template <class F>                                                           \
  decltype(auto) fields(type& x, F&& f) {                                      \
    return f(__VA_ARGS__);                                                     \
  }                                                                            \
  template <class F>                                                           \
  decltype(auto) fields(const type& x, F&& f) {                                \
    return f(__VA_ARGS__);                                                     \
  }

namespace tally {

// -- credits ----------------------------------------------------------------------
TALLY_FIELDS(balance, x.available, x.reserved)
TALLY_FIELDS(ledger_entry, x.id, x.seq, x.type, x.amount, x.available_after, x.reserved_after,
             x.reference, x.created_at)
TALLY_FIELDS(ledger_query, x.limit, x.before_seq, x.type)
TALLY_FIELDS(ledger_page, x.entries, x.next_before_seq)
TALLY_FIELDS(idempotency, x.key, x.request_digest)
TALLY_FIELDS(charge_command, x.amount, x.description, x.idem)
TALLY_FIELDS(charge_result, x.id, x.amount, x.available)
TALLY_FIELDS(credit_command, x.amount, x.reason, x.idem)
TALLY_FIELDS(credit_result, x.available, x.reserved)

template <class Result, class F>
decltype(auto) fields(mutation_reply<Result>& x, F&& f) {
  return f(x.result, x.replayed);
}
template <class Result, class F>
decltype(auto) fields(const mutation_reply<Result>& x, F&& f) {
  return f(x.result, x.replayed);
}

// -- failures -----------------------------------------------------------------------
TALLY_FIELDS(failure, x.code, x.detail, x.retry_after_s)

// -- auth -----------------------------------------------------------------------------
TALLY_FIELDS(caller, x.user, x.session)
TALLY_FIELDS(request_origin, x.request_id, x.client_ip)
TALLY_FIELDS(user_view, x.id, x.email, x.phone, x.created_at)
TALLY_FIELDS(session_grant, x.session, x.refresh_token, x.user)
TALLY_FIELDS(login_challenge, x.expires_in_s, x.debug_secret)
TALLY_FIELDS(membership_view, x.tenant, x.name, x.role)
TALLY_FIELDS(me_view, x.user, x.tenants)

// -- records (reads and writes of the store) -------------------------------------------
TALLY_FIELDS(user_row, x.id, x.email, x.phone, x.created_at)
TALLY_FIELDS(idempotency_record, x.user_id, x.key, x.request_digest, x.status, x.response,
             x.created_at)
TALLY_FIELDS(user_snapshot, x.user, x.bal, x.ledger_seq, x.owner_epoch, x.recent_idempotency,
             x.older_idempotency_in_store)
TALLY_FIELDS(balance_write, x.user_id, x.owner_epoch, x.bal, x.ledger_seq, x.updated_at)
TALLY_FIELDS(ledger_write, x.user_id, x.entry, x.description)
TALLY_FIELDS(identity_row, x.id, x.kind, x.value, x.user_id, x.request_limit_tat, x.owner_epoch,
             x.created_at)
TALLY_FIELDS(login_code_row, x.identity_id, x.code_hash, x.created_at, x.expires_at, x.failures,
             x.next_attempt_at, x.locked)
TALLY_FIELDS(magic_link_row, x.token_hash, x.identity_id, x.created_at, x.expires_at, x.used_at)
TALLY_FIELDS(session_row, x.id, x.user_id, x.refresh_hash, x.previous_refresh_hash, x.rotated_at,
             x.created_at, x.expires_at, x.revoked_at)
TALLY_FIELDS(refresh_token_row, x.token_hash, x.session_id, x.user_id, x.issued_at)
TALLY_FIELDS(outbox_row, x.id, x.channel, x.destination, x.body, x.created_at)
TALLY_FIELDS(audit_row, x.id, x.created_at, x.event, x.request_id, x.user_id, x.session_id,
             x.client_ip, x.detail)
TALLY_FIELDS(identity_snapshot, x.identity, x.code)
TALLY_FIELDS(write_batch, x.balances, x.ledger, x.idempotency, x.new_users, x.identities,
             x.magic_links, x.login_codes, x.sessions, x.refresh_tokens, x.outbox, x.audit)

/// True for the types declared above (and any later TALLY_FIELDS type).
namespace wire_detail {
/// Stands in for a visitor when asking whether `fields(x, f)` exists.
struct field_probe {
  template <class... Ts>
  int operator()(Ts&...) const {
    return 0;
  }
};
} // namespace wire_detail

template <class T, class = void>
struct has_fields : std::false_type {};

template <class T>
struct has_fields<T, std::void_t<decltype(fields(std::declval<T&>(), wire_detail::field_probe{}))>>
  : std::true_type {};

template <class T>
constexpr bool has_fields_v = has_fields<T>::value;

/// The enums that travel: encoded as their underlying integer.
template <class T>
constexpr bool is_wire_enum_v = std::is_same_v<T, ledger_type> || std::is_same_v<T, identity_kind>
                                || std::is_same_v<T, error_code>;

} // namespace tally
