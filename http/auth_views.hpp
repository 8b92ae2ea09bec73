#pragma once
// The JSON bodies of API.md "Auth", written through json_writer in a fixed
// field order (like credits_routes): the user, the token pair, /v1/auth/me
// and the answer to a login challenge.
#include <string>
#include <string_view>

#include "protocols/auth.hpp"
#include "protocols/json_writer.hpp"

namespace tally {

/// {"id","email","phone","created_at"}; email and phone are null when empty.
void write_user_view(json_writer& json, const user_view& user);

/// {"access_token","refresh_token","token_type":"Bearer","expires_in","user"}.
std::string render_token_pair(const session_grant& grant, std::string_view access_token,
                              int64_t expires_in_s);

/// {"user":{...},"tenants":[{"id","name","role"}]}.
std::string render_me(const me_view& me);

/// {"status":"sent","expires_in"} plus `debug_field` (debug_token /
/// debug_code) when the challenge carries a debug secret (dev mode only).
std::string render_challenge(const login_challenge& challenge, std::string_view debug_field);

} // namespace tally
