#pragma once
// Commands as data: every command an entity receives is a plain value type
// here, routed by the key of the entity that owns it. Each names its reply
// type (`result`) and the entity kind it is for (`kind`), so routing needs
// no code per command, and each has one field list (below) from which its
// msgpack and CAF codecs are derived. A command can therefore be encoded on
// one node, decoded on another and routed there unchanged (the cluster
// issue), which tests/actors/dispatch_test.cpp shows on one node.
//
// The reply goes to a `completion` held beside the command, never inside it.
#include <cstdint>
#include <cstddef>
#include <string>
#include <utility>
#include <variant>

#include "protocols/auth.hpp"
#include "protocols/credits.hpp"
#include "protocols/generations.hpp"
#include "protocols/outcome.hpp"
#include "protocols/reply.hpp"
#include "protocols/tenants.hpp"
#include "protocols/uuid.hpp"
#include "protocols/fields.hpp"
#include "protocols/webhook.hpp"

namespace tally {

/// The kinds of entity actor; each key space is separate.
enum class entity_kind : uint8_t {
  user,      ///< key: the user id
  identity,  ///< key: identity_id(kind, normalised value)
  tenant,    ///< key: the tenant id
  subdomain, ///< key: subdomain_key(name)
  webhook_event,  ///< key: webhook_event_key(event id)
};

// -- user commands (key: user id) ---------------------------------------------------

/// Committed balance, for a session.
struct balance_request {
  static constexpr entity_kind kind = entity_kind::user;
  using result = balance;
  uuid session{};
};

/// A committed ledger page, for a session.
struct ledger_request {
  static constexpr entity_kind kind = entity_kind::user;
  using result = ledger_page;
  uuid session{};
  ledger_query query;
};

/// Immediate charge, for a session.
struct charge_request {
  static constexpr entity_kind kind = entity_kind::user;
  using result = mutation_reply<charge_result>;
  static constexpr bool mutates = true;
  uuid session{};
  charge_command command;
};

/// Admin grant or debit (no session).
struct credit_request {
  static constexpr entity_kind kind = entity_kind::user;
  using result = mutation_reply<credit_result>;
  static constexpr bool mutates = true;
  credit_command command;
};

/// The user's profile and memberships, for a session.
struct me_request {
  static constexpr entity_kind kind = entity_kind::user;
  using result = me_view;
  uuid session{};
};

/// Revoke this session; true once committed.
struct logout_request {
  static constexpr entity_kind kind = entity_kind::user;
  using result = bool;
  static constexpr bool mutates = true;
  uuid session{};
  request_origin origin;
};

/// Rotate this session's refresh token (the token as presented).
struct refresh_request {
  static constexpr entity_kind kind = entity_kind::user;
  using result = session_grant;
  static constexpr bool mutates = true;
  uuid session{};
  std::string token;
  request_origin origin;
};

/// An identity logged this user in ("magic_link" / "code"): open a session.
struct open_session_request {
  static constexpr entity_kind kind = entity_kind::user;
  using result = session_grant;
  static constexpr bool mutates = true;
  std::string method;
  request_origin origin;
};

// -- generation commands (key: user id; API.md "Generations") ---------------------------

/// Reserve the price and create a pending generation, for a session.
struct create_generation_request {
  static constexpr entity_kind kind = entity_kind::user;
  using result = mutation_reply<generation_created>;
  static constexpr bool mutates = true;
  uuid session{};
  generation_command command;
};

/// One committed generation of the user, for a session.
struct get_generation_request {
  static constexpr entity_kind kind = entity_kind::user;
  using result = generation_row;
  uuid session{};
  uuid generation{};
};

/// A committed page of the user's generations, for a session.
struct list_generations_request {
  static constexpr entity_kind kind = entity_kind::user;
  using result = generation_page;
  uuid session{};
  generation_query query;
};

/// Cancel an active generation (release), for a session.
struct cancel_generation_request {
  static constexpr entity_kind kind = entity_kind::user;
  using result = generation_row;
  static constexpr bool mutates = true;
  uuid session{};
  uuid generation{};
};

/// The provider answered a generation (or its client gave up on it).
struct generation_answer_request {
  static constexpr entity_kind kind = entity_kind::user;
  using result = bool;
  static constexpr bool mutates = true;
  uuid generation{};
  provider_answer answer;
};

/// The sweep: fail and release the user's generations past timeout_at.
/// Sent at start-up too, so that activation fails what a crash left.
struct expire_generations_request {
  static constexpr entity_kind kind = entity_kind::user;
  using result = bool;
  static constexpr bool mutates = true;
  /// When the sweep asked (for the log line).
  timestamp_us requested_at = 0;
};

/// Is this session live? true, or session_revoked (the gateway asks before
/// a command for another kind of entity: tenants, subdomains).
struct check_session_request {
  static constexpr entity_kind kind = entity_kind::user;
  using result = bool;
  uuid session{};
};

/// A tenant committed this user's membership: /v1/auth/me lists it from
/// memory from now on (memory only; the store has it already).
struct membership_changed_request {
  static constexpr entity_kind kind = entity_kind::user;
  using result = bool;
  membership_view membership;
};

// -- identity commands (key: identity id) -----------------------------------------------

/// Issue a magic link for this normalised email.
struct magic_link_request {
  static constexpr entity_kind kind = entity_kind::identity;
  using result = login_challenge;
  static constexpr bool mutates = true;
  std::string email;
  request_origin origin;
};

/// Log in with a magic-link token (as presented).
struct verify_link_request {
  static constexpr entity_kind kind = entity_kind::identity;
  using result = session_grant;
  static constexpr bool mutates = true;
  std::string token;
  request_origin origin;
};

/// Issue (replace) the code of this E.164 phone.
struct code_request {
  static constexpr entity_kind kind = entity_kind::identity;
  using result = login_challenge;
  static constexpr bool mutates = true;
  std::string phone;
  request_origin origin;
};

/// Log in with this phone's code.
struct verify_code_request {
  static constexpr entity_kind kind = entity_kind::identity;
  using result = session_grant;
  static constexpr bool mutates = true;
  std::string phone;
  std::string code;
  request_origin origin;
};

/// The user this email belongs to, if any (POST /v1/tenants/{id}/members).
struct find_user_request {
  static constexpr entity_kind kind = entity_kind::identity;
  using result = user_lookup;
  static constexpr bool mutates = true;  // activation may create the identity row
  std::string email;
};

// -- tenant commands (key: tenant id) --------------------------------------------------
//
// `caller` is the user whose session the gateway checked; the tenant actor
// decides what that user's role allows (actors/tenant_decisions.hpp).

/// POST /v1/tenants: the caller becomes owner.
struct create_tenant_request {
  static constexpr entity_kind kind = entity_kind::tenant;
  using result = tenant_view;
  static constexpr bool mutates = true;
  uuid caller{};
  std::string name;
};

/// GET /v1/tenants/{id}, for a member.
struct get_tenant_request {
  static constexpr entity_kind kind = entity_kind::tenant;
  using result = tenant_view;
  uuid caller{};
};

/// POST /v1/tenants/{id}/members: `user` is the email's user (nil: none).
struct add_member_request {
  static constexpr entity_kind kind = entity_kind::tenant;
  using result = tenant_view;
  static constexpr bool mutates = true;
  uuid caller{};
  uuid user{};
  std::string role;
};

/// POST /v1/tenants/{id}/modules/activate (validated: catalog, syntax).
struct activate_module_request {
  static constexpr entity_kind kind = entity_kind::tenant;
  using result = tenant_view;
  static constexpr bool mutates = true;
  uuid caller{};
  std::string module;
  std::string subdomain;
};

/// POST /v1/tenants/{id}/modules/deactivate.
struct deactivate_module_request {
  static constexpr entity_kind kind = entity_kind::tenant;
  using result = tenant_view;
  static constexpr bool mutates = true;
  uuid caller{};
};

/// The subdomain actor's answer to this tenant's reservation `attempt`
/// (granted, or `refusal`), sent back as a command like any other.
struct reservation_answer_request {
  static constexpr entity_kind kind = entity_kind::tenant;
  using result = bool;
  static constexpr bool mutates = true;
  uint64_t attempt = 0;
  std::string subdomain;
  bool granted = false;
  failure refusal;
};

/// A subdomain actor whose reservation for this tenant lapsed asks what
/// became of it: "reserving" (the activation is still in flight), "held"
/// (it committed) or "none" (it failed, or this incarnation never made it:
/// a reload bumped the epoch, so an older write can no longer commit).
struct verify_reservation_request {
  static constexpr entity_kind kind = entity_kind::tenant;
  using result = subdomain_claim;
  std::string subdomain;
};

// -- subdomain commands (key: subdomain_key(name)) ------------------------------------------

/// GET /v1/subdomains/{name}.
struct subdomain_status_request {
  static constexpr entity_kind kind = entity_kind::subdomain;
  using result = subdomain_view;
  std::string name;
};

/// Reserve the name for `tenant` (in memory), or subdomain_taken.
struct reserve_subdomain_request {
  static constexpr entity_kind kind = entity_kind::subdomain;
  using result = subdomain_reservation;
  std::string name;
  uuid tenant{};
};

/// `tenant` committed its hold on the name: the reservation is now held.
struct confirm_subdomain_request {
  static constexpr entity_kind kind = entity_kind::subdomain;
  using result = bool;
  std::string name;
  uuid tenant{};
};

/// `tenant` no longer wants or holds the name (a failed activation, or a
/// committed deactivation): it is free.
struct release_subdomain_request {
  static constexpr entity_kind kind = entity_kind::subdomain;
  using result = bool;
  std::string name;
  uuid tenant{};
};

/// A payment top-up, at most once per payment object: committed with the
/// object's payment_row and the event's record (protocols/webhook.hpp).
/// Replies after the commit whatever the ack mode.
struct topup_request {
  static constexpr entity_kind kind = entity_kind::user;
  using result = topup_result;
  static constexpr bool mutates = true;
  std::string object_id;
  int64_t credits = 0;
  /// The event's record as it stands once processed.
  webhook_event_row event;
};

// -- webhook-event commands (key: webhook_event_key(event id)) ---------------------------

/// One verified delivery of a payment event.
struct webhook_delivery_request {
  static constexpr entity_kind kind = entity_kind::webhook_event;
  using result = webhook_outcome;
  static constexpr bool mutates = true;
  webhook_delivery delivery;
};

/// The user's answer to the top-up this event asked for (sent by the event
/// to itself through the registry, so it reaches the current incarnation).
struct webhook_settle_request {
  static constexpr entity_kind kind = entity_kind::webhook_event;
  using result = bool;
  static constexpr bool mutates = true;
  /// Which top-up this answers: the asking incarnation and its counter (a
  /// stale answer, e.g. to an incarnation that was killed, is ignored).
  uint64_t activation = 0;
  uint64_t attempt = 0;
  bool ok = false;
  topup_result topped_up;  ///< when ok
  failure why;             ///< when not ok
};

/// The event's dedupe record (admin).
struct webhook_event_request {
  static constexpr entity_kind kind = entity_kind::webhook_event;
  using result = webhook_event_view;
  std::string event_id;
};

/// The commands of each kind: a new command is a struct above, its field
/// list below, and one alternative here.
using user_command = std::variant<balance_request, ledger_request, charge_request, credit_request,
                                  me_request, logout_request, refresh_request, open_session_request,
                                  create_generation_request, get_generation_request,
                                  list_generations_request, cancel_generation_request,
                                  generation_answer_request, expire_generations_request,
                                  check_session_request, membership_changed_request,
                                  topup_request>;
using identity_command =
  std::variant<magic_link_request, verify_link_request, code_request, verify_code_request,
               find_user_request>;
using tenant_command =
  std::variant<create_tenant_request, get_tenant_request, add_member_request,
               activate_module_request, deactivate_module_request, reservation_answer_request,
               verify_reservation_request>;
using subdomain_command =
  std::variant<subdomain_status_request, reserve_subdomain_request, confirm_subdomain_request,
               release_subdomain_request>;

using webhook_event_command =
  std::variant<webhook_delivery_request, webhook_settle_request, webhook_event_request>;

/// Every command, by kind: the alternative's index is its entity_kind, so a
/// new kind is one alternative here (and its table line in actors/).
using entity_command =
  std::variant<user_command, identity_command, tenant_command, subdomain_command,
               webhook_event_command>;

/// The command variant of one kind.
template <entity_kind Kind>
using command_of_kind = std::variant_alternative_t<static_cast<size_t>(Kind), entity_command>;

/// Wraps a command into the entity_command of its kind.
template <class Command>
entity_command to_entity_command(Command command) {
  constexpr auto index = static_cast<size_t>(Command::kind);
  return entity_command{std::in_place_index<index>, command_of_kind<Command::kind>{std::move(command)}};
}

/// A command addressed to the entity that owns it: (kind, key) routes it.
struct envelope {
  uuid key{};
  entity_command command;

  entity_kind kind() const { return static_cast<entity_kind>(command.index()); }
};

/// Every reply an entity sends (or its failure).
using reply_body = std::variant<failure, balance, ledger_page, mutation_reply<charge_result>,
                                mutation_reply<credit_result>, me_view, bool, session_grant,
                                login_challenge, mutation_reply<generation_created>,
                                generation_row, generation_page, tenant_view, subdomain_view,
                                subdomain_reservation, user_lookup, webhook_outcome,
                                webhook_event_view, topup_result, subdomain_claim>;

/// Where the reply to a command goes: the completion of the caller (the
/// HTTP request) that is waiting for it, one alternative per result type.
/// It is the one value in an entity's messages that is not data: it
/// carries a callback, and stays inside the process that holds the caller.
using completion = std::variant<reply<balance>, reply<ledger_page>,
                                reply<mutation_reply<charge_result>>,
                                reply<mutation_reply<credit_result>>, reply<me_view>, reply<bool>,
                                reply<session_grant>, reply<login_challenge>,
                                reply<mutation_reply<generation_created>>, reply<generation_row>,
                                reply<generation_page>, reply<tenant_view>,
                                reply<subdomain_view>, reply<subdomain_reservation>,
                                reply<user_lookup>, reply<webhook_outcome>,
                                reply<webhook_event_view>, reply<topup_result>, reply<subdomain_claim>>;

/// Answers whatever a completion waits for with a failure.
inline void fail(completion& done, const failure& why) {
  std::visit([&why](auto& waiting) { waiting(why); }, done);
}

/// The reply a command's completion holds (the sender paired them: dispatch).
template <class Command>
reply<typename Command::result> reply_for(completion& done) {
  auto* waiting = std::get_if<reply<typename Command::result>>(&done);
  return waiting != nullptr ? std::move(*waiting) : reply<typename Command::result>{};
}

/// Whether a command may write (a drain waits for entities sent one).
template <class Command, class = void>
struct mutates : std::false_type {};
template <class Command>
struct mutates<Command, std::void_t<decltype(Command::mutates)>>
  : std::bool_constant<Command::mutates> {};

/// Whether this command may write: a drain waits for the entity.
inline bool may_write(const entity_command& command) {
  return std::visit(
    [](const auto& of_kind) {
      return std::visit([](const auto& c) { return mutates<std::decay_t<decltype(c)>>::value; },
                        of_kind);
    },
    command);
}

// -- field lists ----------------------------------------------------------------------------
TALLY_FIELDS(balance_request, x.session)
TALLY_FIELDS(ledger_request, x.session, x.query)
TALLY_FIELDS(charge_request, x.session, x.command)
TALLY_FIELDS(credit_request, x.command)
TALLY_FIELDS(me_request, x.session)
TALLY_FIELDS(logout_request, x.session, x.origin)
TALLY_FIELDS(refresh_request, x.session, x.token, x.origin)
TALLY_FIELDS(open_session_request, x.method, x.origin)
TALLY_FIELDS(magic_link_request, x.email, x.origin)
TALLY_FIELDS(verify_link_request, x.token, x.origin)
TALLY_FIELDS(code_request, x.phone, x.origin)
TALLY_FIELDS(verify_code_request, x.phone, x.code, x.origin)
TALLY_FIELDS(create_generation_request, x.session, x.command)
TALLY_FIELDS(get_generation_request, x.session, x.generation)
TALLY_FIELDS(list_generations_request, x.session, x.query)
TALLY_FIELDS(cancel_generation_request, x.session, x.generation)
TALLY_FIELDS(generation_answer_request, x.generation, x.answer)
TALLY_FIELDS(expire_generations_request, x.requested_at)
TALLY_FIELDS(check_session_request, x.session)
TALLY_FIELDS(membership_changed_request, x.membership)
TALLY_FIELDS(find_user_request, x.email)
TALLY_FIELDS(create_tenant_request, x.caller, x.name)
TALLY_FIELDS(get_tenant_request, x.caller)
TALLY_FIELDS(add_member_request, x.caller, x.user, x.role)
TALLY_FIELDS(activate_module_request, x.caller, x.module, x.subdomain)
TALLY_FIELDS(deactivate_module_request, x.caller)
TALLY_FIELDS(reservation_answer_request, x.attempt, x.subdomain, x.granted, x.refusal)
TALLY_FIELDS(verify_reservation_request, x.subdomain)
TALLY_FIELDS(subdomain_status_request, x.name)
TALLY_FIELDS(reserve_subdomain_request, x.name, x.tenant)
TALLY_FIELDS(confirm_subdomain_request, x.name, x.tenant)
TALLY_FIELDS(release_subdomain_request, x.name, x.tenant)
TALLY_FIELDS(envelope, x.key, x.command)
TALLY_FIELDS(topup_request, x.object_id, x.credits, x.event)
TALLY_FIELDS(webhook_delivery_request, x.delivery)
TALLY_FIELDS(webhook_settle_request, x.activation, x.attempt, x.ok, x.topped_up, x.why)
TALLY_FIELDS(webhook_event_request, x.event_id)

} // namespace tally
