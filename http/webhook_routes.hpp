#pragma once
// API.md "Payment webhooks": one free function per endpoint (router.hpp).
//
// The delivery endpoint reads its body raw (body_kind::none): the
// Stripe-Signature is verified over the exact bytes received, before the
// body is parsed at all; a refused signature records nothing. The secret
// and the signatures are never logged.
#include <memory>

namespace tally {

struct request_context;

/// POST /v1/webhooks/payments -> 200 {"status": "processed" | "duplicate" | "ignored"};
/// 400 INVALID_SIGNATURE; 422 for missing or invalid metadata or an unknown user;
/// 503 WEBHOOKS_NOT_CONFIGURED without a secret.
void receive_payment_webhook(const std::shared_ptr<request_context>& context);

/// GET /v1/admin/webhooks/payments/{event_id} -> 200 {"event_id", "status",
/// "deliveries", "first_seen_at", "processed_at"}; unknown -> 404 NOT_FOUND.
void get_payment_webhook(const std::shared_ptr<request_context>& context);

} // namespace tally
