#include "http/credits_routes.hpp"

#include <charconv>

#include "http/gateway_call.hpp"
#include "http/idempotency_key.hpp"
#include "http/json_body.hpp"
#include "http/ledger_cursor.hpp"
#include "http/page_limit.hpp"
#include "http/query_string.hpp"
#include "http/request_context.hpp"
#include "http/request_handler.hpp"
#include "protocols/json_writer.hpp"
#include "protocols/reply.hpp"

namespace tally {

namespace {

std::string render_balance(const balance& value) {
  std::string out;
  out.reserve(64);
  json_writer json(out);
  json.begin_object();
  json.key("available").integer(value.available);
  json.key("reserved").integer(value.reserved);
  json.end_object();
  return out;
}

std::string render_charge(const charge_result& result) {
  std::string out;
  out.reserve(96);
  json_writer json(out);
  json.begin_object();
  json.key("id").string(to_string(result.id));
  json.key("amount").integer(result.amount);
  json.key("available").integer(result.available);
  json.end_object();
  return out;
}

std::string render_ledger(const ledger_page& page) {
  std::string out;
  out.reserve(32 + page.entries.size() * 200);
  json_writer json(out);
  json.begin_object();
  json.key("data").begin_array();
  for (const auto& entry : page.entries) {
    json.begin_object();
    json.key("id").string(to_string(entry.id));
    json.key("type").string(to_string(entry.type));
    json.key("amount").integer(entry.amount);
    json.key("available_after").integer(entry.available_after);
    json.key("reserved_after").integer(entry.reserved_after);
    json.key("reference").string(entry.reference);
    json.key("created_at").timestamp(entry.created_at);
    json.end_object();
  }
  json.end_array();
  json.key("next_cursor");
  if (page.next_before_seq) {
    json.string(encode_ledger_cursor(*page.next_before_seq));
  } else {
    json.null();
  }
  json.end_object();
  return out;
}

} // namespace

void get_balance(const std::shared_ptr<request_context>& context) {
  auto& ctx = *context;
  ask_gateway<balance>(
    context, [&](reply<balance> done) { ctx.handler.gate().get_balance(*ctx.caller, std::move(done)); },
    [context](outcome<balance> result) {
      if (!result) return answer_caller_failure(*context, result.error());
      context->answer_json(http::status::ok, render_balance(result.value()));
    });
}

void list_ledger(const std::shared_ptr<request_context>& context) {
  auto& ctx = *context;
  std::vector<field_error> errors;
  ledger_query query;
  query.limit = ledger_page_limit_default;
  if (auto limit = query_param(ctx.query, "limit")) {
    if (auto value = parse_page_limit(*limit, ledger_page_limit_max)) {
      query.limit = *value;
    } else {
      errors.push_back({"limit", "must be an integer from 1 to " +
                                   std::to_string(ledger_page_limit_max)});
    }
  }
  if (auto cursor = query_param(ctx.query, "cursor")) {
    if (auto seq = decode_ledger_cursor(*cursor)) {
      query.before_seq = *seq;
    } else {
      errors.push_back({"cursor", "is not a cursor this API returned"});
    }
  }
  if (auto type = query_param(ctx.query, "type")) {
    if (auto parsed = parse_ledger_type(*type)) {
      query.type = *parsed;
    } else {
      errors.push_back({"type", "must be one of grant, topup, debit, charge, reserve, capture, "
                                "release"});
    }
  }
  if (!errors.empty()) {
    ctx.answer_problem(problem_code::validation_failed, {}, errors);
    return;
  }
  ask_gateway<ledger_page>(
    context,
    [&](reply<ledger_page> done) { ctx.handler.gate().get_ledger(*ctx.caller, query, std::move(done)); },
    [context](outcome<ledger_page> result) {
      if (!result) return answer_caller_failure(*context, result.error());
      context->answer_json(http::status::ok, render_ledger(result.value()));
    });
}

void create_charge(const std::shared_ptr<request_context>& context) {
  auto& ctx = *context;
  field_validator fields(ctx.body);
  auto amount = fields.integer("amount", 1, charge_amount_max, /*required=*/true);
  auto description = fields.text("description", 0, charge_description_chars_max,
                                  /*required=*/false);
  if (!fields.ok()) {
    ctx.answer_problem(problem_code::validation_failed, {}, fields.errors());
    return;
  }
  charge_command command;
  command.amount = *amount;
  if (description) command.description = std::move(*description);
  command.idem.key = ctx.idempotency_key;
  command.idem.request_digest = request_digest("create_charge", {}, ctx.body.dump());
  using answer_type = mutation_reply<charge_result>;
  ask_gateway<answer_type>(
    context,
    [&](reply<answer_type> done) {
      ctx.handler.gate().charge(*ctx.caller, std::move(command), std::move(done));
    },
    [context](outcome<answer_type> result) {
      if (!result) return answer_caller_failure(*context, result.error());
      const auto& done = result.value();
      context->answer_json(http::status::created, render_charge(done.result), done.replayed);
    });
}

void credit_user(const std::shared_ptr<request_context>& context) {
  auto& ctx = *context;
  field_validator fields(ctx.body);
  auto amount = fields.integer("amount", -credit_amount_abs_max, credit_amount_abs_max,
                               /*required=*/true);
  if (amount && *amount == 0) fields.fail("amount", "must not be 0");
  auto reason = fields.text("reason", 1, credit_reason_chars_max, /*required=*/true);
  if (!fields.ok()) {
    ctx.answer_problem(problem_code::validation_failed, {}, fields.errors());
    return;
  }
  credit_command command;
  command.amount = *amount;
  command.reason = std::move(*reason);
  command.idem.key = ctx.idempotency_key;
  command.idem.request_digest =
    request_digest("credit_user", to_string(*ctx.path_user), ctx.body.dump());
  using answer_type = mutation_reply<credit_result>;
  ask_gateway<answer_type>(
    context,
    [&](reply<answer_type> done) {
      ctx.handler.gate().credit(*ctx.path_user, std::move(command), std::move(done));
    },
    [context](outcome<answer_type> result) {
      // Here user_not_found is the path's user: 404 USER_NOT_FOUND.
      if (!result) return context->answer_failure(result.error());
      const auto& done = result.value();
      balance view{done.result.available, done.result.reserved};
      context->answer_json(http::status::ok, render_balance(view), done.replayed);
    });
}

} // namespace tally
