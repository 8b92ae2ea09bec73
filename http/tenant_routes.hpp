#pragma once
// API.md "Tenants and modules": one free function per endpoint, all with
// the endpoint signature (router.hpp). Each validates its input (422, with
// the module catalog and reserved names from http_config::tenants) and
// calls the gateway; who may do what is decided by the tenant actor alone.
#include <memory>

namespace tally {

struct request_context;

/// POST /v1/tenants {"name"} -> 201 {"id","name","owner_id","active_module",
/// "subdomain","subscription","created_at"}.
void create_tenant(const std::shared_ptr<request_context>& context);

/// GET /v1/tenants/{tenant_id} -> 200, the same shape, for members.
void get_tenant(const std::shared_ptr<request_context>& context);

/// POST /v1/tenants/{tenant_id}/members {"email","role"} -> 201
/// {"tenant_id","user_id","email","role"}.
void add_tenant_member(const std::shared_ptr<request_context>& context);

/// POST /v1/tenants/{tenant_id}/modules/activate {"module","subdomain"} ->
/// 200 {"tenant_id","active_module","subdomain","subscription"}.
void activate_module(const std::shared_ptr<request_context>& context);

/// POST /v1/tenants/{tenant_id}/modules/deactivate -> 200, the same shape.
void deactivate_module(const std::shared_ptr<request_context>& context);

/// GET /v1/subdomains/{name} -> 200 {"name","available"}.
void get_subdomain(const std::shared_ptr<request_context>& context);

} // namespace tally
