#include "http/tenant_routes.hpp"

#include <algorithm>

#include "http/auth_validation.hpp"
#include "http/gateway_call.hpp"
#include "http/json_body.hpp"
#include "http/request_context.hpp"
#include "http/request_handler.hpp"
#include "protocols/json_writer.hpp"
#include "protocols/reply.hpp"

namespace tally {

namespace {

/// "active_module", "subdomain", "subscription": in every tenant answer.
void write_module(json_writer& json, const tenant_view& tenant) {
  json.key("active_module").string_or_null(tenant.active_module);
  json.key("subdomain").string_or_null(tenant.subdomain);
  json.key("subscription");
  if (!tenant.subscription) {
    json.null();
    return;
  }
  const auto& sub = *tenant.subscription;
  json.begin_object();
  json.key("plan").string(sub.plan);
  json.key("status").string(sub.status);
  json.key("trial_ends_at").timestamp(sub.trial_ends_at);
  json.end_object();
}

std::string render_tenant(const tenant_view& tenant) {
  std::string out;
  out.reserve(320);
  json_writer json(out);
  json.begin_object();
  json.key("id").string(to_string(tenant.id));
  json.key("name").string(tenant.name);
  json.key("owner_id").string(to_string(tenant.owner_id));
  write_module(json, tenant);
  json.key("created_at").timestamp(tenant.created_at);
  json.end_object();
  return out;
}

std::string render_module(const tenant_view& tenant) {
  std::string out;
  out.reserve(256);
  json_writer json(out);
  json.begin_object();
  json.key("tenant_id").string(to_string(tenant.id));
  write_module(json, tenant);
  json.end_object();
  return out;
}

std::string render_member(const tenant_view& tenant, const std::string& email) {
  std::string out;
  out.reserve(192);
  json_writer json(out);
  json.begin_object();
  json.key("tenant_id").string(to_string(tenant.id));
  json.key("user_id").string(to_string(tenant.member_id));
  json.key("email").string(email);
  json.key("role").string(tenant.member_role);
  json.end_object();
  return out;
}

bool listed(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

const char* subdomain_rule = "must match ^[a-z0-9]([a-z0-9-]{1,61}[a-z0-9])$";

/// Calls the gateway for a tenant_view and renders it with `render` and
/// `status`; a token whose user is gone is 401, everything else as mapped.
template <class Call, class Render>
void ask_for_tenant(const std::shared_ptr<request_context>& context, Call&& call,
                    http::status status, Render render) {
  ask_gateway<tenant_view>(context, std::forward<Call>(call),
                           [context, status, render](outcome<tenant_view> result) {
                             if (!result) return context->answer_failure(result.error());
                             context->answer_json(status, render(result.value()));
                           });
}

/// An endpoint that names only the path's tenant: `call` on the gateway.
using path_tenant_call = void (gateway::*)(const caller&, const uuid&, reply<tenant_view>);

template <class Render>
void ask_for_path_tenant(const std::shared_ptr<request_context>& context, path_tenant_call call,
                         Render render) {
  auto& ctx = *context;
  ask_for_tenant(
    context,
    [&](reply<tenant_view> done) {
      (ctx.handler.gate().*call)(*ctx.caller, *ctx.path_tenant, std::move(done));
    },
    http::status::ok, render);
}

} // namespace

void create_tenant(const std::shared_ptr<request_context>& context) {
  auto& ctx = *context;
  field_validator fields(ctx.body);
  auto name = fields.text("name", 1, tenant_name_chars_max, /*required=*/true);
  if (!fields.ok()) {
    ctx.answer_problem(problem_code::validation_failed, {}, fields.errors());
    return;
  }
  ask_for_tenant(
    context,
    [&](reply<tenant_view> done) {
      ctx.handler.gate().create_tenant(*ctx.caller, std::move(*name), std::move(done));
    },
    http::status::created, render_tenant);
}

void get_tenant(const std::shared_ptr<request_context>& context) {
  ask_for_path_tenant(context, &gateway::get_tenant, render_tenant);
}

void add_tenant_member(const std::shared_ptr<request_context>& context) {
  auto& ctx = *context;
  field_validator fields(ctx.body);
  auto email_text = fields.text("email", 1, email_chars_max, /*required=*/true);
  auto role = fields.text("role", 1, 16, /*required=*/true);
  std::optional<std::string> email;
  if (email_text) {
    email = normalise_email(*email_text);
    if (!email) fields.fail("email", "must be a valid email address");
  }
  // `owner` is the creator's alone: it cannot be given.
  if (role && *role != "admin" && *role != "member") fields.fail("role", "must be admin or member");
  if (!fields.ok()) {
    ctx.answer_problem(problem_code::validation_failed, {}, fields.errors());
    return;
  }
  auto address = *email;
  ask_for_tenant(
    context,
    [&](reply<tenant_view> done) {
      ctx.handler.gate().add_member(*ctx.caller, *ctx.path_tenant, std::move(*email),
                                    std::move(*role), std::move(done));
    },
    http::status::created,
    [address](const tenant_view& tenant) { return render_member(tenant, address); });
}

void activate_module(const std::shared_ptr<request_context>& context) {
  auto& ctx = *context;
  const auto& catalog = ctx.handler.config().tenants;
  field_validator fields(ctx.body);
  auto module = fields.text("module", 1, 64, /*required=*/true);
  auto subdomain = fields.text("subdomain", 1, 63, /*required=*/true);
  if (module && !listed(catalog.modules, *module))
    fields.fail("module", "must be one of " + joined(catalog.modules));
  if (subdomain && !subdomain_syntax_ok(*subdomain)) fields.fail("subdomain", subdomain_rule);
  else if (subdomain && listed(catalog.reserved_subdomains, *subdomain))
    fields.fail("subdomain", "is reserved");
  if (!fields.ok()) {
    ctx.answer_problem(problem_code::validation_failed, {}, fields.errors());
    return;
  }
  ask_for_tenant(
    context,
    [&](reply<tenant_view> done) {
      ctx.handler.gate().activate_module(*ctx.caller, *ctx.path_tenant, std::move(*module),
                                         std::move(*subdomain), std::move(done));
    },
    http::status::ok, render_module);
}

void deactivate_module(const std::shared_ptr<request_context>& context) {
  ask_for_path_tenant(context, &gateway::deactivate_module, render_module);
}

void get_subdomain(const std::shared_ptr<request_context>& context) {
  auto& ctx = *context;
  std::string name(ctx.match.param("name"));
  if (!subdomain_syntax_ok(name)) {
    ctx.answer_problem(problem_code::validation_failed, {}, {{"name", subdomain_rule}});
    return;
  }
  ask_gateway<subdomain_view>(
    context,
    [&](reply<subdomain_view> done) {
      ctx.handler.gate().subdomain_status(*ctx.caller, std::move(name), std::move(done));
    },
    [context](outcome<subdomain_view> result) {
      if (!result) return context->answer_failure(result.error());
      std::string out;
      json_writer json(out);
      json.begin_object();
      json.key("name").string(result.value().name);
      json.key("available").boolean(result.value().available);
      json.end_object();
      context->answer_json(http::status::ok, out);
    });
}

} // namespace tally
