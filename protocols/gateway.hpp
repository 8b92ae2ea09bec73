#pragma once
// The one narrow door from http/ to the actors. http/ holds a gateway& and
// never sees CAF; actors/caf_gateway.cpp implements it by sending messages
// (never blocking the calling Asio thread). Each reply is delivered exactly
// once on a CAF worker thread; the caller posts it back to its own executor.
//
// http/ validates and normalises input before calling (422 happens there):
// emails are trimmed + lower-cased and valid, phones are E.164, codes are 6
// digits. Tokens arrive as presented; the actors judge them.
#include <string>

#include "protocols/auth.hpp"
#include "protocols/credits.hpp"
#include "protocols/generations.hpp"
#include "protocols/reply.hpp"
#include "protocols/store_health.hpp"
#include "protocols/tenants.hpp"
#include "protocols/uuid.hpp"
#include "protocols/webhook.hpp"

namespace tally {

class gateway {
public:
  virtual ~gateway() = default;

  // -- credits (the caller comes from a verified access token) -----------------
  //
  // Every call taking a `caller` fails with session_revoked when the
  // caller's session is revoked, expired or unknown: the user actor checks
  // it on every command, before anything else.

  /// Committed balance of the caller.
  virtual void get_balance(const caller& who, reply<balance> done) = 0;

  /// A page of the caller's committed ledger, newest first.
  virtual void get_ledger(const caller& who, ledger_query query, reply<ledger_page> done) = 0;

  /// Immediate debit; replies after the commit (durable ack) or, with
  /// ack=memory, after the in-memory apply.
  virtual void charge(const caller& who, charge_command command,
                      reply<mutation_reply<charge_result>> done) = 0;

  /// Admin grant or debit (admin token: no session).
  virtual void credit(const uuid& user, credit_command command,
                      reply<mutation_reply<credit_result>> done) = 0;

  // -- auth -----------------------------------------------------------------------

  /// Issues a magic link for a normalised email (outbox; debug token in dev).
  /// rate_limited (per email, per client IP) with retry_after_s.
  virtual void request_magic_link(std::string email, request_origin origin,
                                  reply<login_challenge> done) = 0;

  /// Logs in with a magic-link token: invalid_token (unknown, malformed,
  /// used), token_expired. Creates the user on the identity's first login.
  virtual void verify_magic_link(std::string token, request_origin origin,
                                 reply<session_grant> done) = 0;

  /// Issues (replaces) the 6-digit code of an E.164 phone.
  virtual void request_code(std::string phone, request_origin origin,
                            reply<login_challenge> done) = 0;

  /// Logs in with a phone code: invalid_code, code_locked, code_expired,
  /// rate_limited (back-off) with retry_after_s.
  virtual void verify_code(std::string phone, std::string code, request_origin origin,
                           reply<session_grant> done) = 0;

  /// Rotates a refresh token: invalid_token, refresh_token_reused (the
  /// session is revoked), session_revoked, rate_limited.
  virtual void refresh(std::string refresh_token, request_origin origin,
                       reply<session_grant> done) = 0;

  /// The caller's user and memberships.
  virtual void me(const caller& who, reply<me_view> done) = 0;

  /// Revokes the caller's session; true once the revocation is committed.
  virtual void logout(const caller& who, request_origin origin, reply<bool> done) = 0;

  // -- generations (API.md "Generations") ----------------------------------------

  /// Reserves the price and creates a pending generation; replies after the
  /// commit. rate_limited, max_active_generations, insufficient_credits,
  /// provider_unavailable (nothing reserved), idempotency_key_*.
  virtual void create_generation(const caller& who, generation_command command,
                                 reply<mutation_reply<generation_created>> done) = 0;

  /// One committed generation of the caller; generation_not_found otherwise.
  virtual void get_generation(const caller& who, uuid generation, reply<generation_row> done) = 0;

  /// A page of the caller's committed generations, newest first.
  virtual void list_generations(const caller& who, generation_query query,
                                reply<generation_page> done) = 0;

  /// Cancels an active generation (releasing its price) and answers it
  /// after the commit; invalid_state when already finished,
  /// generation_not_found when not the caller's.
  virtual void cancel_generation(const caller& who, uuid generation, reply<generation_row> done) = 0;

  // -- tenants (API.md "Tenants and modules") ---------------------------------------
  //
  // The caller's session is checked first (session_revoked; a token whose
  // user is gone: unauthenticated); then the tenant actor decides what the
  // caller's role allows (forbidden), and tenant_not_found for an unknown id.

  /// Creates a tenant owned by the caller (name validated: 1..100 chars).
  virtual void create_tenant(const caller& who, std::string name, reply<tenant_view> done) = 0;

  /// The tenant, for a member.
  virtual void get_tenant(const caller& who, const uuid& tenant, reply<tenant_view> done) = 0;

  /// Adds the user of a normalised `email` as `role` (admin or member):
  /// user_not_found, already_member.
  virtual void add_member(const caller& who, const uuid& tenant, std::string email,
                          std::string role, reply<tenant_view> done) = 0;

  /// Activates a catalog module on a valid subdomain: module_already_active,
  /// subdomain_taken. Replies after the one commit of module, hold and trial.
  virtual void activate_module(const caller& who, const uuid& tenant, std::string module,
                               std::string subdomain, reply<tenant_view> done) = 0;

  /// Deactivates the module, frees the subdomain, cancels the subscription:
  /// invalid_state without an active module.
  virtual void deactivate_module(const caller& who, const uuid& tenant,
                                 reply<tenant_view> done) = 0;

  /// Whether a valid subdomain name is free.
  virtual void subdomain_status(const caller& who, std::string name,
                                reply<subdomain_view> done) = 0;

  // -- payment webhooks (the signature is checked in http/) ------------------------

  /// One verified delivery: processed (after the top-up committed),
  /// duplicate, ignored or rejected, each after its record committed.
  virtual void deliver_webhook(webhook_delivery delivery, reply<webhook_outcome> done) = 0;

  /// An event's dedupe record (admin); `found` false when there is none.
  virtual void get_webhook_event(std::string event_id, reply<webhook_event_view> done) = 0;

  /// Live view of the write-behind pipeline, for /readyz.
  virtual const store_health& health() const = 0;
};

} // namespace tally
