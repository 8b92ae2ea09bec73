#include "http/auth_routes.hpp"

#include "http/auth_validation.hpp"
#include "http/auth_views.hpp"
#include "http/gateway_call.hpp"
#include "http/json_body.hpp"
#include "http/jwt_verifier.hpp"
#include "http/request_context.hpp"
#include "http/request_handler.hpp"

namespace tally {

namespace {

constexpr std::string_view json_content_type = "application/json";
/// RFC 6749 §5.1: responses carrying tokens must not be cached. A dev-mode
/// challenge carries its token or code too.
constexpr std::string_view no_store = "no-store";

/// A required string field: nullptr (and an error) when absent, null or not
/// a string.
const std::string* string_field(field_validator& fields, const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) {
    fields.fail(name, "is required");
    return nullptr;
  }
  if (!it->is_string()) {
    fields.fail(name, "must be a string");
    return nullptr;
  }
  return &it->get_ref<const std::string&>();
}

/// Whether a presented token is worth asking the actors about: API.md says
/// an empty token is 401 INVALID_TOKEN (not 422), and no token of ours is
/// longer than presented_token_chars_max.
bool token_worth_judging(const std::string& token) {
  return !token.empty() && token.size() <= presented_token_chars_max;
}

void answer_no_store_json(request_context& ctx, http::status status, std::string body) {
  http_response response{status, 11};
  response.set(http::field::content_type, json_content_type);
  response.set(http::field::cache_control, no_store);
  response.body() = std::move(body);
  ctx.answer(std::move(response));
}

/// The challenge's debug secret only reaches the client in dev mode, even
/// if an actor filled it otherwise (belt and braces: it is a credential).
void answer_challenge(request_context& ctx, login_challenge challenge,
                      std::string_view debug_field) {
  if (!ctx.handler.config().dev) challenge.debug_secret.clear();
  answer_no_store_json(ctx, http::status::accepted, render_challenge(challenge, debug_field));
}

/// 200 token pair: the access token for the grant's session, signed here.
void answer_token_pair(request_context& ctx, const session_grant& grant) {
  access_claims claims;
  claims.user = grant.user.id;
  claims.session_id = to_string(grant.session);
  auto access_token = sign_access_token(claims, ctx.handler.config(), access_token_ttl);
  answer_no_store_json(ctx, http::status::ok,
                       render_token_pair(grant, access_token, access_token_ttl.count()));
}

/// The reply handler of every login and refresh.
auto on_grant(const std::shared_ptr<request_context>& context) {
  return [context](outcome<session_grant> result) {
    if (!result) return context->answer_failure(result.error());
    answer_token_pair(*context, result.value());
  };
}

/// The "phone" field, checked as E.164 (a failure is recorded in `fields`).
const std::string* phone_field(field_validator& fields, const json& body) {
  auto phone = string_field(fields, body, "phone");
  if (phone && !is_e164_phone(*phone))
    fields.fail("phone", "must be an E.164 phone number: + and 8 to 15 digits");
  return phone;
}

/// Answers 422 listing every bad field, if there is one.
bool answered_invalid(request_context& ctx, const field_validator& fields) {
  if (fields.ok()) return false;
  ctx.answer_problem(problem_code::validation_failed, {}, fields.errors());
  return true;
}

void answer_invalid_token(request_context& ctx) {
  ctx.answer_problem(problem_code::invalid_token, "The token is empty or malformed");
}

} // namespace

void request_magic_link(const std::shared_ptr<request_context>& context) {
  auto& ctx = *context;
  field_validator fields(ctx.body);
  std::optional<std::string> email;
  if (auto text = string_field(fields, ctx.body, "email")) {
    email = normalise_email(*text);
    if (!email) fields.fail("email", "must be a valid email address");
  }
  if (answered_invalid(ctx, fields)) return;
  ask_gateway<login_challenge>(
    context,
    [&](reply<login_challenge> done) {
      ctx.handler.gate().request_magic_link(std::move(*email), ctx.origin(), std::move(done));
    },
    [context](outcome<login_challenge> result) {
      if (!result) return context->answer_failure(result.error());
      answer_challenge(*context, std::move(result.value()), "debug_token");
    });
}

void verify_magic_link(const std::shared_ptr<request_context>& context) {
  auto& ctx = *context;
  field_validator fields(ctx.body);
  auto token = string_field(fields, ctx.body, "token");
  if (answered_invalid(ctx, fields)) return;
  if (!token_worth_judging(*token)) return answer_invalid_token(ctx);
  ask_gateway<session_grant>(
    context,
    [&](reply<session_grant> done) {
      ctx.handler.gate().verify_magic_link(*token, ctx.origin(), std::move(done));
    },
    on_grant(context));
}

void request_code(const std::shared_ptr<request_context>& context) {
  auto& ctx = *context;
  field_validator fields(ctx.body);
  auto phone = phone_field(fields, ctx.body);
  if (answered_invalid(ctx, fields)) return;
  ask_gateway<login_challenge>(
    context,
    [&](reply<login_challenge> done) {
      ctx.handler.gate().request_code(*phone, ctx.origin(), std::move(done));
    },
    [context](outcome<login_challenge> result) {
      if (!result) return context->answer_failure(result.error());
      answer_challenge(*context, std::move(result.value()), "debug_code");
    });
}

void verify_code(const std::shared_ptr<request_context>& context) {
  auto& ctx = *context;
  field_validator fields(ctx.body);
  auto phone = phone_field(fields, ctx.body);
  auto code = string_field(fields, ctx.body, "code");
  if (code && !is_login_code(*code)) fields.fail("code", "must be a string of 6 digits");
  if (answered_invalid(ctx, fields)) return;
  ask_gateway<session_grant>(
    context,
    [&](reply<session_grant> done) {
      ctx.handler.gate().verify_code(*phone, *code, ctx.origin(), std::move(done));
    },
    on_grant(context));
}

void refresh_session(const std::shared_ptr<request_context>& context) {
  auto& ctx = *context;
  field_validator fields(ctx.body);
  auto token = string_field(fields, ctx.body, "refresh_token");
  if (answered_invalid(ctx, fields)) return;
  if (!token_worth_judging(*token)) return answer_invalid_token(ctx);
  ask_gateway<session_grant>(
    context,
    [&](reply<session_grant> done) {
      ctx.handler.gate().refresh(*token, ctx.origin(), std::move(done));
    },
    on_grant(context));
}

void get_me(const std::shared_ptr<request_context>& context) {
  auto& ctx = *context;
  ask_gateway<me_view>(
    context, [&](reply<me_view> done) { ctx.handler.gate().me(*ctx.caller, std::move(done)); },
    [context](outcome<me_view> result) {
      if (!result) return answer_caller_failure(*context, result.error());
      context->answer_json(http::status::ok, render_me(result.value()));
    });
}

void logout(const std::shared_ptr<request_context>& context) {
  auto& ctx = *context;
  ask_gateway<bool>(
    context,
    [&](reply<bool> done) { ctx.handler.gate().logout(*ctx.caller, ctx.origin(), std::move(done)); },
    [context](outcome<bool> result) {
      if (!result) return answer_caller_failure(*context, result.error());
      // true = the revocation is committed; an already revoked session
      // fails with session_revoked above, so any value here is a logout.
      context->answer_empty(http::status::no_content);
    });
}

} // namespace tally
