#pragma once
// The one-shot commands beside `serve`: each returns the process exit code.
#include "app/settings.hpp"

namespace tally {

/// Applies store migrations.
int run_migrate(const settings& s);

/// Creates a user in the store (tests and the walkthrough create users this
/// way until login exists) and prints its id.
int run_create_user(const settings& s);

/// Prints an HS256 access token for --user, signed with the JWT secret.
int run_mint_token(const settings& s);

} // namespace tally
