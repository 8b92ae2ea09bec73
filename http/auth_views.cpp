#include "http/auth_views.hpp"

namespace tally {

void write_user_view(json_writer& json, const user_view& user) {
  json.begin_object();
  json.key("id").string(to_string(user.id));
  json.key("email").string_or_null(user.email);
  json.key("phone").string_or_null(user.phone);
  json.key("created_at").timestamp(user.created_at);
  json.end_object();
}

std::string render_token_pair(const session_grant& grant, std::string_view access_token,
                              int64_t expires_in_s) {
  std::string out;
  out.reserve(256 + access_token.size() + grant.refresh_token.size());
  json_writer json(out);
  json.begin_object();
  json.key("access_token").string(access_token);
  json.key("refresh_token").string(grant.refresh_token);
  json.key("token_type").string("Bearer");
  json.key("expires_in").integer(expires_in_s);
  json.key("user");
  write_user_view(json, grant.user);
  json.end_object();
  return out;
}

std::string render_me(const me_view& me) {
  std::string out;
  out.reserve(160 + me.tenants.size() * 96);
  json_writer json(out);
  json.begin_object();
  json.key("user");
  write_user_view(json, me.user);
  json.key("tenants").begin_array();
  for (const auto& tenant : me.tenants) {
    json.begin_object();
    json.key("id").string(to_string(tenant.tenant));
    json.key("name").string(tenant.name);
    json.key("role").string(tenant.role);
    json.end_object();
  }
  json.end_array();
  json.end_object();
  return out;
}

std::string render_challenge(const login_challenge& challenge, std::string_view debug_field) {
  std::string out;
  out.reserve(96 + challenge.debug_secret.size());
  json_writer json(out);
  json.begin_object();
  json.key("status").string("sent");
  json.key("expires_in").integer(challenge.expires_in_s);
  if (!challenge.debug_secret.empty()) json.key(debug_field).string(challenge.debug_secret);
  json.end_object();
  return out;
}

} // namespace tally
