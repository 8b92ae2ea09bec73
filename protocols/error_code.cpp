#include "protocols/error_code.hpp"

namespace tally {

std::string to_string(error_code code) {
  switch (code) {
    case error_code::none: return "none";
    case error_code::insufficient_credits: return "insufficient_credits";
    case error_code::idempotency_key_reused: return "idempotency_key_reused";
    case error_code::idempotency_key_in_use: return "idempotency_key_in_use";
    case error_code::user_not_found: return "user_not_found";
    case error_code::overloaded: return "overloaded";
    case error_code::store_unavailable: return "store_unavailable";
    case error_code::validation_failed: return "validation_failed";
    case error_code::internal: return "internal";
    case error_code::shutting_down: return "shutting_down";
    case error_code::unauthenticated: return "unauthenticated";
    case error_code::invalid_token: return "invalid_token";
    case error_code::token_expired: return "token_expired";
    case error_code::invalid_code: return "invalid_code";
    case error_code::code_locked: return "code_locked";
    case error_code::code_expired: return "code_expired";
    case error_code::refresh_token_reused: return "refresh_token_reused";
    case error_code::session_revoked: return "session_revoked";
    case error_code::rate_limited: return "rate_limited";
    case error_code::generation_not_found: return "generation_not_found";
    case error_code::invalid_state: return "invalid_state";
    case error_code::max_active_generations: return "max_active_generations";
    case error_code::provider_unavailable: return "provider_unavailable";
    case error_code::forbidden: return "forbidden";
    case error_code::tenant_not_found: return "tenant_not_found";
    case error_code::already_member: return "already_member";
    case error_code::module_already_active: return "module_already_active";
    case error_code::subdomain_taken: return "subdomain_taken";
    case error_code::not_shard_owner: return "not_shard_owner";
    case error_code::shard_unavailable: return "shard_unavailable";
  }
  return "unknown";
}

} // namespace tally
