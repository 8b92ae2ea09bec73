#include "http/generation_routes.hpp"

#include "http/gateway_call.hpp"
#include "http/generation_views.hpp"
#include "http/idempotency_key.hpp"
#include "http/json_body.hpp"
#include "http/page_limit.hpp"
#include "http/query_string.hpp"
#include "http/request_context.hpp"
#include "http/request_handler.hpp"

namespace tally {

namespace {

constexpr std::string_view idempotency_header = "Idempotency-Key";
constexpr const char* body_key_field = "idempotency_key";

/// The {generation_id} path parameter, or 400 INVALID_ID (answered).
std::optional<uuid> path_generation(request_context& ctx) {
  auto id = parse_uuid(ctx.match.param("generation_id"));
  if (!id) ctx.answer_problem(problem_code::invalid_id, "generation_id must be a UUID");
  return id;
}

/// The key from the header and/or the body field; both given and different
/// is 400 (answered, nullopt). An absent key is "".
std::optional<std::string> idempotency_key_of(request_context& ctx) {
  auto field = ctx.request.find(idempotency_header);
  auto header = parse_idempotency_key(field != ctx.request.end(),
                                      field != ctx.request.end() ? field->value() : std::string_view{});
  if (header.status == idempotency_key_status::invalid) {
    ctx.answer_problem(problem_code::invalid_idempotency_key);
    return std::nullopt;
  }
  auto in_body = ctx.body.find(body_key_field);
  if (in_body == ctx.body.end() || in_body->is_null()) return header.key;
  auto body = in_body->is_string()
                ? parse_idempotency_key(true, in_body->get_ref<const std::string&>())
                : idempotency_key_result{idempotency_key_status::invalid, {}};
  if (body.status != idempotency_key_status::ok) {
    ctx.answer_problem(problem_code::invalid_idempotency_key, "idempotency_key must be 1-255 printable characters");
    return std::nullopt;
  }
  if (header.status == idempotency_key_status::ok && header.key != body.key) {
    ctx.answer_problem(problem_code::invalid_idempotency_key,
                       "the Idempotency-Key header and the idempotency_key field differ");
    return std::nullopt;
  }
  return body.key;
}

} // namespace

void list_models(const std::shared_ptr<request_context>& context) {
  context->answer_json(http::status::ok, render_models(context->handler.config().catalog));
}

void create_generation(const std::shared_ptr<request_context>& context) {
  auto& ctx = *context;
  auto key = idempotency_key_of(ctx);
  if (!key) return;
  field_validator fields(ctx.body);
  auto model_id = fields.text("model_id", 1, 200, /*required=*/true);
  auto prompt = fields.text("prompt", 1, generation_prompt_chars_max, /*required=*/true);
  const auto& catalog = ctx.handler.config().catalog;
  const model_info* model = model_id ? catalog.find(*model_id) : nullptr;
  if (model_id && model == nullptr) fields.fail("model_id", "is not a model of GET /v1/models");
  std::vector<field_error> errors = fields.errors();
  auto params_field = ctx.body.find("params");
  const nlohmann::json* params = params_field == ctx.body.end() ? nullptr : &*params_field;
  std::optional<std::string> params_json;
  if (model != nullptr) {
    params_json = canonical_params(*model, params, errors);
  } else if (params != nullptr && !params->is_null() && !params->is_object()) {
    errors.push_back({"params", "must be an object"});
  }
  if (!errors.empty()) {
    ctx.answer_problem(problem_code::validation_failed, {}, errors);
    return;
  }
  generation_command command;
  command.model_id = model->id;
  command.prompt = std::move(*prompt);
  command.params_json = std::move(*params_json);
  command.price = model->price;
  command.idem.key = std::move(*key);
  // The key is not part of the request: the header and the body field name the same one.
  auto canonical = ctx.body;
  canonical.erase(body_key_field);
  command.idem.request_digest = request_digest("create_generation", {}, canonical.dump());
  using answer_type = mutation_reply<generation_created>;
  ask_gateway<answer_type>(
    context,
    [&](reply<answer_type> done) {
      ctx.handler.gate().create_generation(*ctx.caller, std::move(command), std::move(done));
    },
    [context](outcome<answer_type> result) {
      if (!result) return answer_caller_failure(*context, result.error());
      const auto& done = result.value();
      context->answer_json(http::status::accepted, render_generation_created(done.result), done.replayed);
    });
}

void get_generation(const std::shared_ptr<request_context>& context) {
  auto& ctx = *context;
  auto id = path_generation(ctx);
  if (!id) return;
  ask_gateway<generation_row>(
    context,
    [&](reply<generation_row> done) { ctx.handler.gate().get_generation(*ctx.caller, *id, std::move(done)); },
    [context](outcome<generation_row> result) {
      if (!result) return answer_caller_failure(*context, result.error());
      context->answer_json(http::status::ok, render_generation(result.value()));
    });
}

void list_generations(const std::shared_ptr<request_context>& context) {
  auto& ctx = *context;
  std::vector<field_error> errors;
  generation_query query;
  query.limit = generation_page_limit_default;
  if (auto limit = query_param(ctx.query, "limit")) {
    if (auto value = parse_page_limit(*limit, generation_page_limit_max))
      query.limit = *value;
    else
      errors.push_back({"limit", "must be an integer from 1 to " + std::to_string(generation_page_limit_max)});
  }
  if (auto cursor = query_param(ctx.query, "cursor")) {
    if (!decode_generation_cursor(*cursor, query)) errors.push_back({"cursor", "is not a cursor this API returned"});
  }
  if (auto status = query_param(ctx.query, "status")) {
    if (*status == "active")
      query.active_only = true;
    else if (auto parsed = parse_generation_status(*status))
      query.status = *parsed;
    else
      errors.push_back({"status", "must be one of pending, processing, completed, failed, cancelled, active"});
  }
  if (!errors.empty()) {
    ctx.answer_problem(problem_code::validation_failed, {}, errors);
    return;
  }
  ask_gateway<generation_page>(
    context,
    [&](reply<generation_page> done) { ctx.handler.gate().list_generations(*ctx.caller, query, std::move(done)); },
    [context](outcome<generation_page> result) {
      if (!result) return answer_caller_failure(*context, result.error());
      context->answer_json(http::status::ok, render_generation_page(result.value()));
    });
}

void cancel_generation(const std::shared_ptr<request_context>& context) {
  auto& ctx = *context;
  auto id = path_generation(ctx);
  if (!id) return;
  ask_gateway<generation_row>(
    context,
    [&](reply<generation_row> done) { ctx.handler.gate().cancel_generation(*ctx.caller, *id, std::move(done)); },
    [context](outcome<generation_row> result) {
      if (!result) return answer_caller_failure(*context, result.error());
      context->answer_json(http::status::ok, render_generation(result.value()));
    });
}

} // namespace tally
