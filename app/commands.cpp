#include "app/commands.hpp"

#include <iostream>

#include "http/jwt_verifier.hpp"
#include "persistence/store.hpp"
#include "protocols/auth_tokens.hpp"
#include "protocols/secrets.hpp"
#include "protocols/uuid.hpp"

namespace tally {

namespace {

/// Opens and migrates the configured store, or explains why not on stderr.
std::unique_ptr<store> open_migrated_store(const settings& s) {
  try {
    auto opened = open_store(s.db_url);
    opened->migrate();
    return opened;
  } catch (const std::invalid_argument& e) {
    std::cerr << "tally: bad db setting: " << e.what() << "\n";
  } catch (const store_error& e) {
    std::cerr << "tally: store unavailable: " << e.what() << "\n";
  }
  return nullptr;
}

} // namespace

int run_migrate(const settings& s) {
  return open_migrated_store(s) ? 0 : 1;
}

int run_create_user(const settings& s) {
  user_row user;
  if (s.user_id.empty()) {
    user.id = random_uuid();
  } else if (auto id = parse_uuid(s.user_id)) {
    user.id = *id;
  } else {
    std::cerr << "tally: --id is not a UUID\n";
    return 2;
  }
  user.email = s.email;
  user.phone = s.phone;
  user.created_at = now_us();
  auto opened = open_migrated_store(s);
  if (!opened) return 1;
  try {
    opened->create_user(user);
  } catch (const store_error& e) {
    std::cerr << "tally: cannot create user: " << e.what() << "\n";
    return 1;
  }
  std::cout << to_string(user.id) << "\n";
  return 0;
}

int run_mint_token(const settings& s) {
  auto id = parse_uuid(s.user_id);
  if (!id) {
    std::cerr << "tally: --user must be a UUID\n";
    return 2;
  }
  if (s.http.jwt_secret.empty()) {
    std::cerr << "tally: mint-token needs TALLY_JWT_SECRET (or --jwt-secret)\n";
    return 2;
  }
  if (s.token_ttl_s <= 0) {
    std::cerr << "tally: --ttl-s must be > 0\n";
    return 2;
  }
  // A real session, as a login would create it, so the token passes the
  // user actor's session check. Its refresh token is not printed: tests and
  // benchmarks that need refreshes log in through the API.
  auto now = now_us();
  session_row session;
  session.id = random_uuid();
  session.user_id = *id;
  auto refresh_token = make_refresh_token(session.user_id, session.id);
  session.refresh_hash = sha256_hex(refresh_token);
  session.created_at = now;
  session.expires_at = now + std::chrono::duration_cast<std::chrono::microseconds>(
                                   s.runtime.auth.session_ttl).count();
  refresh_token_row first{session.refresh_hash, session.id, session.user_id, now};
  auto opened = open_migrated_store(s);
  if (!opened) return 1;
  try {
    opened->create_session(session, first);
  } catch (const store_error& e) {
    std::cerr << "tally: cannot create a session: " << e.what() << "\n";
    return 1;
  }
  access_claims claims;
  claims.user = *id;
  claims.session_id = to_string(session.id);
  std::cout << sign_access_token(claims, s.http, std::chrono::seconds(s.token_ttl_s)) << "\n";
  return 0;
}

} // namespace tally
