#include "http/webhook_routes.hpp"

#include <prometheus/counter.h>

#include "http/gateway_call.hpp"
#include "http/json_body.hpp"
#include "http/request_context.hpp"
#include "http/request_handler.hpp"
#include "http/webhook_payload.hpp"
#include "protocols/json_writer.hpp"
#include "protocols/stripe_signature.hpp"

namespace tally {

namespace {

constexpr std::string_view signature_header = "Stripe-Signature";

std::string render_status(webhook_status status) {
  std::string out;
  json_writer json(out);
  json.begin_object();
  json.key("status").string(to_string(status));
  json.end_object();
  return out;
}

std::string render_event(const webhook_event_row& row) {
  std::string out;
  out.reserve(192);
  json_writer json(out);
  json.begin_object();
  json.key("event_id").string(row.event_id);
  json.key("status").string(to_string(row.status));
  json.key("deliveries").integer(row.deliveries);
  json.key("first_seen_at").timestamp(row.first_seen_at);
  json.key("processed_at");
  if (row.processed_at != 0)
    json.timestamp(row.processed_at);
  else
    json.null();
  json.end_object();
  return out;
}

void count_delivery(request_context& ctx, std::string_view outcome) {
  auto& registry = ctx.handler.registry();
  registry.webhook_deliveries.Add({{"outcome", std::string(outcome)}}).Increment();
  if (outcome == to_string(webhook_status::duplicate)) registry.webhook_duplicates.Increment();
}

std::string_view signature_detail(std::string_view reason) {
  if (reason == "missing") return "The Stripe-Signature header is missing";
  if (reason == "malformed") return "The Stripe-Signature header is malformed";
  if (reason == "stale") return "The signature's timestamp is outside the accepted window";
  return "No signature in Stripe-Signature matches this body";
}

/// 400 INVALID_SIGNATURE, counted by reason; the header is not echoed.
void refuse_signature(request_context& ctx, std::string_view reason) {
  ctx.handler.registry().webhook_signature_failures.Add({{"reason", std::string(reason)}}).Increment();
  count_delivery(ctx, "invalid_signature");
  ctx.answer_problem(problem_code::invalid_signature, signature_detail(reason));
}

std::vector<field_error> as_field_errors(const std::vector<webhook_problem>& problems) {
  std::vector<field_error> errors;
  errors.reserve(problems.size());
  for (const auto& problem : problems) errors.push_back({problem.field, problem.message});
  return errors;
}

} // namespace

void receive_payment_webhook(const std::shared_ptr<request_context>& context) {
  auto& ctx = *context;
  const auto& webhook = ctx.handler.config().webhook;
  if (webhook.secret.empty()) {
    ctx.answer_problem(problem_code::webhooks_not_configured);
    return;
  }
  // 1. The signature, over the raw bytes, before anything reads the body.
  auto header = ctx.request.find(signature_header);
  if (header == ctx.request.end()) {
    refuse_signature(ctx, "missing");
    return;
  }
  auto received_at = now_us();
  auto verdict = verify_stripe_signature(header->value(), ctx.request.body(), webhook.secret,
                                         received_at / 1'000'000, webhook.tolerance.count());
  if (verdict != signature_verdict::valid) {
    refuse_signature(ctx, to_string(verdict));
    return;
  }
  // 2. The body: JSON, and an event we can key.
  if (!is_json_content_type(ctx.request[http::field::content_type])) {
    ctx.answer_problem(problem_code::unsupported_media_type);
    return;
  }
  auto parsed = parse_json(ctx.request.body());
  if (parsed.error != json_body_error::none) {
    ctx.answer_problem(problem_code::malformed_json);
    return;
  }
  if (!parsed.value.is_object()) {
    ctx.answer_problem(problem_code::validation_failed, {}, {{"body", "must be a JSON object"}});
    return;
  }
  auto payload = read_webhook_payload(parsed.value, received_at);
  if (!payload.errors.empty()) {
    count_delivery(ctx, "rejected");
    ctx.answer_problem(problem_code::validation_failed, {}, payload.errors);
    return;
  }
  // 3. The event's entity: dedupe, then the user's top-up.
  ask_gateway<webhook_outcome>(
    context,
    [&](reply<webhook_outcome> done) {
      ctx.handler.gate().deliver_webhook(std::move(payload.delivery), std::move(done));
    },
    [context](outcome<webhook_outcome> result) {
      auto& ctx = *context;
      if (!result) {
        count_delivery(ctx, "failed");
        ctx.answer_failure(result.error());
        return;
      }
      const auto& answer = result.value();
      count_delivery(ctx, to_string(answer.status));
      if (answer.status == webhook_status::rejected) {
        ctx.answer_problem(problem_code::validation_failed, {}, as_field_errors(answer.problems));
        return;
      }
      ctx.answer_json(http::status::ok, render_status(answer.status));
    });
}

void get_payment_webhook(const std::shared_ptr<request_context>& context) {
  auto& ctx = *context;
  std::string event_id(ctx.match.param("event_id"));
  if (event_id.size() > webhook_id_chars_max) {
    ctx.answer_problem(problem_code::not_found, "No payment event with this id");
    return;
  }
  ask_gateway<webhook_event_view>(
    context,
    [&](reply<webhook_event_view> done) {
      ctx.handler.gate().get_webhook_event(std::move(event_id), std::move(done));
    },
    [context](outcome<webhook_event_view> result) {
      auto& ctx = *context;
      if (!result) return ctx.answer_failure(result.error());
      if (!result.value().found) {
        ctx.answer_problem(problem_code::not_found, "No payment event with this id");
        return;
      }
      ctx.answer_json(http::status::ok, render_event(result.value().row));
    });
}

} // namespace tally
