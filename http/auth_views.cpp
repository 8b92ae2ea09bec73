#include "http/auth_views.hpp"

#include "protocols/json_text.hpp"
#include "protocols/rfc3339.hpp"

namespace tally {

namespace {

void append_optional_string(std::string& out, const std::string& value) {
  if (value.empty()) {
    out += "null";
  } else {
    append_json_string(out, value);
  }
}

} // namespace

void append_user_view(std::string& out, const user_view& user) {
  out += '{';
  append_json_key(out, "id");
  append_json_string(out, to_string(user.id));
  out += ',';
  append_json_key(out, "email");
  append_optional_string(out, user.email);
  out += ',';
  append_json_key(out, "phone");
  append_optional_string(out, user.phone);
  out += ',';
  append_json_key(out, "created_at");
  out += '"';
  append_rfc3339(out, user.created_at);
  out += '"';
  out += '}';
}

std::string render_token_pair(const session_grant& grant, std::string_view access_token,
                              int64_t expires_in_s) {
  std::string out;
  out.reserve(256 + access_token.size() + grant.refresh_token.size());
  out += '{';
  append_json_key(out, "access_token");
  append_json_string(out, access_token);
  out += ',';
  append_json_key(out, "refresh_token");
  append_json_string(out, grant.refresh_token);
  out += ',';
  append_json_key(out, "token_type");
  append_json_string(out, "Bearer");
  out += ',';
  append_json_key(out, "expires_in");
  append_json_int(out, expires_in_s);
  out += ',';
  append_json_key(out, "user");
  append_user_view(out, grant.user);
  out += '}';
  return out;
}

std::string render_me(const me_view& me) {
  std::string out;
  out.reserve(160 + me.tenants.size() * 96);
  out += '{';
  append_json_key(out, "user");
  append_user_view(out, me.user);
  out += ',';
  append_json_key(out, "tenants");
  out += '[';
  for (size_t i = 0; i < me.tenants.size(); ++i) {
    const auto& tenant = me.tenants[i];
    if (i > 0) out += ',';
    out += '{';
    append_json_key(out, "id");
    append_json_string(out, to_string(tenant.tenant));
    out += ',';
    append_json_key(out, "name");
    append_json_string(out, tenant.name);
    out += ',';
    append_json_key(out, "role");
    append_json_string(out, tenant.role);
    out += '}';
  }
  out += "]}";
  return out;
}

std::string render_challenge(const login_challenge& challenge, std::string_view debug_field) {
  std::string out;
  out.reserve(96 + challenge.debug_secret.size());
  out += '{';
  append_json_key(out, "status");
  append_json_string(out, "sent");
  out += ',';
  append_json_key(out, "expires_in");
  append_json_int(out, challenge.expires_in_s);
  if (!challenge.debug_secret.empty()) {
    out += ',';
    append_json_key(out, debug_field);
    append_json_string(out, challenge.debug_secret);
  }
  out += '}';
  return out;
}

} // namespace tally
